package dev.cairn.engine.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MapDbLocalStoreTest extends LocalStoreContract {

    @TempDir
    Path dir;

    private int opened;

    @Override
    protected LocalStore newStore() {
        return MapDbLocalStore.open(dir.resolve("store-" + (opened++) + ".db"));
    }

    private Path fileOf(LocalStore s) {
        return ((MapDbLocalStore) s).file();
    }

    @Test
    void committedDataSurvivesCloseAndReopen() {
        Path file = fileOf(store);
        store.commit(List.of(StoreWrite.put(b(0x6d, 0xC3, 0xA9), b(1, 2, 3)), StoreWrite.put(b(0xFF), b(4)), StoreWrite.put(b(0x01), b(5))));
        store.commit(List.of(StoreWrite.delete(b(0x01))));
        store.close();
        store = MapDbLocalStore.open(file);
        assertArrayEquals(b(1, 2, 3), store.get(b(0x6d, 0xC3, 0xA9)));
        assertArrayEquals(b(4), store.get(b(0xFF)));
        assertNull(store.get(b(0x01)));
        assertEquals(2, store.count());
        assertEquals(hexAll(b(0x6d, 0xC3, 0xA9), b(0xFF)), scanKeys(store, new byte[0]));
    }

    @Test
    void manyRecordsSurviveReopenInOrder() {
        Path file = fileOf(store);
        List<StoreWrite> writes = new ArrayList<>();
        for (int i = 0; i < 2000; i++) {
            writes.add(StoreWrite.put(new byte[] {'o', (byte) (i >> 8), (byte) i}, new byte[] {(byte) i}));
        }
        store.commit(writes);
        store.close();
        store = MapDbLocalStore.open(file);
        assertEquals(2000, store.count());
        List<String> keys = scanKeys(store, b('o'));
        assertEquals(2000, keys.size());
        assertEquals(hex(new byte[] {'o', 0, 0}), keys.get(0));
        assertEquals(hex(new byte[] {'o', (byte) (1999 >> 8), (byte) 1999}), keys.get(1999));
    }

    @Test
    void openCreatesMissingParentDirectories() {
        Path file = dir.resolve("a/b/c/store.db");
        LocalStore s = MapDbLocalStore.open(file);
        try {
            put(s, b(1), b(1));
            assertTrue(Files.exists(file));
        } finally {
            s.close();
        }
    }

    @Test
    void openingAFileThatIsNotAMapDbStoreIsAStoreExceptionNamingTheFile() throws Exception {
        Path junk = dir.resolve("junk.db");
        Files.writeString(junk, "this is a text file, not a MapDB store\n".repeat(200));
        StoreException e = assertThrows(StoreException.class, () -> MapDbLocalStore.open(junk));
        assertTrue(e.getMessage().contains(junk.toString()), e.getMessage());
        assertTrue(e.getMessage().toLowerCase().contains("not"), e.getMessage());
        // the file is left alone, not overwritten
        assertTrue(Files.readString(junk).startsWith("this is a text file"));
    }

    @Test
    void sizeBytesCountsTheStoreFilesOnDisk() throws Exception {
        put(store, b(1), b(1));
        Path file = fileOf(store);
        assertTrue(Files.exists(file));
        assertTrue(store.sizeBytes() >= Files.size(file), "sizeBytes must include the store file");
    }
}
