package dev.cairn.engine.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The acceptance suite every {@link LocalStore} adapter must pass (like automerge-repo's storage
 * adapter tests): a subclass supplies fresh, empty stores and inherits every test.
 */
public abstract class LocalStoreContract {

    /** A new, empty, open store. Called once per test (and again by tests that need a second one). */
    protected abstract LocalStore newStore() throws Exception;

    protected LocalStore store;

    @BeforeEach
    void openStore() throws Exception {
        store = newStore();
    }

    @AfterEach
    void closeStore() {
        store.close();
    }

    // ---- helpers

    static byte[] b(int... bytes) {
        byte[] out = new byte[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            out[i] = (byte) bytes[i];
        }
        return out;
    }

    static String hex(byte[] bytes) {
        return HexFormat.of().formatHex(bytes);
    }

    static void put(LocalStore s, byte[] key, byte[] value) {
        s.commit(List.of(StoreWrite.put(key, value)));
    }

    /** The keys a scan visits, in visiting order, as hex. */
    static List<String> scanKeys(LocalStore s, byte[] prefix) {
        List<String> keys = new ArrayList<>();
        s.scan(prefix, (k, v) -> keys.add(hex(k)));
        return keys;
    }

    static List<String> hexAll(byte[]... keys) {
        List<String> out = new ArrayList<>();
        for (byte[] k : keys) {
            out.add(hex(k));
        }
        return out;
    }

    // ---- put / get / delete

    @Test
    void getOfAMissingKeyIsNull() {
        assertNull(store.get(b(1, 2, 3)));
    }

    @Test
    void putThenGetReturnsTheValue() {
        put(store, b(1, 2), b(9, 8, 7));
        assertArrayEquals(b(9, 8, 7), store.get(b(1, 2)));
    }

    @Test
    void getMatchesKeysByContentNotByArrayIdentity() {
        byte[] key = b(0x6d, 0x41, 0x00, 0x42);
        put(store, key, b(1));
        assertArrayEquals(b(1), store.get(key.clone()));
    }

    @Test
    void emptyValueIsStoredAndDistinctFromAbsent() {
        put(store, b(5), new byte[0]);
        byte[] v = store.get(b(5));
        assertArrayEquals(new byte[0], v);
        assertEquals(1, store.count());
    }

    @Test
    void overwriteReplacesTheValueAndKeepsOneRecord() {
        put(store, b(1), b(1, 1, 1, 1));
        put(store, b(1), b(2));
        assertArrayEquals(b(2), store.get(b(1)));
        assertEquals(1, store.count());
    }

    @Test
    void deleteRemovesTheKey() {
        put(store, b(1), b(1));
        put(store, b(2), b(2));
        store.commit(List.of(StoreWrite.delete(b(1))));
        assertNull(store.get(b(1)));
        assertArrayEquals(b(2), store.get(b(2)));
        assertEquals(1, store.count());
    }

    @Test
    void deleteOfAMissingKeyIsANoOp() {
        put(store, b(2), b(2));
        assertDoesNotThrow(() -> store.commit(List.of(StoreWrite.delete(b(1)))));
        assertEquals(1, store.count());
    }

    @Test
    void writesAreCopiedSoLaterChangesToTheCallersArraysDoNotLeakIn() {
        byte[] key = b(1, 2);
        byte[] value = b(3, 4);
        put(store, key, value);
        value[0] = 99;
        key[0] = 99;
        assertArrayEquals(b(3, 4), store.get(b(1, 2)));
        assertNull(store.get(b(99, 2)));
    }

    // ---- commits

    @Test
    void multiWriteCommitAppliesEveryWrite() {
        put(store, b(3), b(3));
        store.commit(List.of(
                StoreWrite.put(b(1), b(10)),
                StoreWrite.put(b(2), b(20)),
                StoreWrite.delete(b(3))));
        assertArrayEquals(b(10), store.get(b(1)));
        assertArrayEquals(b(20), store.get(b(2)));
        assertNull(store.get(b(3)));
        assertEquals(2, store.count());
    }

    @Test
    void laterWritesOfOneKeyInTheSameCommitWin() {
        store.commit(List.of(StoreWrite.put(b(1), b(1)), StoreWrite.delete(b(1))));
        assertNull(store.get(b(1)));
        store.commit(List.of(StoreWrite.delete(b(2)), StoreWrite.put(b(2), b(2)), StoreWrite.put(b(2), b(3))));
        assertArrayEquals(b(3), store.get(b(2)));
        assertEquals(1, store.count());
    }

    @Test
    void emptyCommitChangesNothing() {
        put(store, b(1), b(1));
        store.commit(List.of());
        assertEquals(1, store.count());
        assertArrayEquals(b(1), store.get(b(1)));
    }

    @Test
    void aCommitThatFailsHalfwayLeavesNothingOfItselfBehind() {
        put(store, b(1), b(1));
        // A null write fails portably in the middle of the list, after a valid write was seen.
        List<StoreWrite> broken = Arrays.asList(StoreWrite.put(b(2), b(2)), StoreWrite.delete(b(1)), null);
        assertThrows(RuntimeException.class, () -> store.commit(broken));
        assertNull(store.get(b(2)), "the first write of the failed commit must not be visible");
        assertArrayEquals(b(1), store.get(b(1)), "the delete of the failed commit must not be visible");
        assertEquals(1, store.count());
        // and the store still works afterwards
        put(store, b(3), b(3));
        assertArrayEquals(b(3), store.get(b(3)));
    }

    // ---- scan

    @Test
    void scanWithEmptyPrefixVisitsEverythingInUnsignedOrder() {
        byte[][] keys = {b(0x80), b(0x00), b(0xFF, 0x00), b(0x7F, 0xFF), b(0x01), b(0xFF), b(0x80, 0x00), b(0x7F)};
        for (byte[] k : keys) {
            put(store, k, b(1));
        }
        assertEquals(hexAll(b(0x00), b(0x01), b(0x7F), b(0x7F, 0xFF), b(0x80), b(0x80, 0x00), b(0xFF), b(0xFF, 0x00)),
                scanKeys(store, new byte[0]));
    }

    @Test
    void scanVisitsExactlyThePrefixRangeIncludingHighBytes() {
        byte[][] keys = {
            b(0x6d), b(0x6d, 0x00), b(0x6d, 0x01), b(0x6d, 0x7F), b(0x6d, 0x80), b(0x6d, 0xC3, 0xA9), b(0x6d, 0xFF),
            b(0x6c, 0xFF, 0xFF), b(0x6e), b(0x6e, 0x00), b(0xED), b(0x4d),
        };
        for (byte[] k : keys) {
            put(store, k, k);
        }
        assertEquals(hexAll(b(0x6d), b(0x6d, 0x00), b(0x6d, 0x01), b(0x6d, 0x7F), b(0x6d, 0x80), b(0x6d, 0xC3, 0xA9), b(0x6d, 0xFF)),
                scanKeys(store, b(0x6d)));
    }

    @Test
    void scanWithAPrefixEndingIn0xFFStopsAtTheRangeEnd() {
        byte[][] keys = {
            b(0x01, 0xFE), b(0x01, 0xFE, 0xFF), b(0x01, 0xFF), b(0x01, 0xFF, 0x00), b(0x01, 0xFF, 0xFF), b(0x01, 0xFF, 0xFF, 0x7F),
            b(0x02), b(0x02, 0x00), b(0x01),
        };
        for (byte[] k : keys) {
            put(store, k, b(7));
        }
        assertEquals(hexAll(b(0x01, 0xFF), b(0x01, 0xFF, 0x00), b(0x01, 0xFF, 0xFF), b(0x01, 0xFF, 0xFF, 0x7F)),
                scanKeys(store, b(0x01, 0xFF)));
    }

    @Test
    void scanWithAnAll0xFFPrefixVisitsTheTopOfTheKeySpace() {
        byte[][] keys = {b(0xFE), b(0xFE, 0xFF), b(0xFF), b(0xFF, 0x00), b(0xFF, 0xFF), b(0xFF, 0xFF, 0xFF)};
        for (byte[] k : keys) {
            put(store, k, b(7));
        }
        assertEquals(hexAll(b(0xFF), b(0xFF, 0x00), b(0xFF, 0xFF), b(0xFF, 0xFF, 0xFF)), scanKeys(store, b(0xFF)));
        assertEquals(hexAll(b(0xFF, 0xFF), b(0xFF, 0xFF, 0xFF)), scanKeys(store, b(0xFF, 0xFF)));
    }

    @Test
    void scanOfAnAbsentPrefixVisitsNothing() {
        put(store, b(1), b(1));
        put(store, b(3), b(3));
        assertEquals(List.of(), scanKeys(store, b(2)));
        assertEquals(List.of(), scanKeys(store, b(1, 0)));
    }

    @Test
    void scanPassesTheStoredValues() {
        put(store, b(1, 1), b(11));
        put(store, b(1, 2), b(12));
        Map<String, String> seen = new TreeMap<>();
        store.scan(b(1), (k, v) -> seen.put(hex(k), hex(v)));
        assertEquals(Map.of("0101", "0b", "0102", "0c"), seen);
    }

    @Test
    void scanMatchesAReferenceModelOnRandomKeys() {
        Random random = new Random(20240611L);
        TreeMap<byte[], byte[]> model = new TreeMap<>(Arrays::compareUnsigned);
        int[] alphabet = {0x00, 0x01, 0x7F, 0x80, 0x81, 0xFE, 0xFF};
        List<StoreWrite> writes = new ArrayList<>();
        for (int i = 0; i < 600; i++) {
            byte[] key = new byte[1 + random.nextInt(4)];
            for (int j = 0; j < key.length; j++) {
                key[j] = (byte) alphabet[random.nextInt(alphabet.length)];
            }
            if (random.nextInt(5) == 0) {
                writes.add(StoreWrite.delete(key));
                model.remove(key);
            } else {
                byte[] value = {(byte) i};
                writes.add(StoreWrite.put(key, value));
                model.put(key, value);
            }
            if (writes.size() == 50) {
                store.commit(writes);
                writes = new ArrayList<>();
            }
        }
        store.commit(writes);
        assertEquals(model.size(), store.count());
        for (int p = 0; p < 200; p++) {
            byte[] prefix = new byte[random.nextInt(3)];
            for (int j = 0; j < prefix.length; j++) {
                prefix[j] = (byte) alphabet[random.nextInt(alphabet.length)];
            }
            List<String> expected = new ArrayList<>();
            for (Map.Entry<byte[], byte[]> e : model.entrySet()) {
                if (Arrays.equals(e.getKey(), 0, Math.min(prefix.length, e.getKey().length), prefix, 0, prefix.length)
                        && e.getKey().length >= prefix.length) {
                    expected.add(hex(e.getKey()) + "=" + hex(e.getValue()));
                }
            }
            List<String> actual = new ArrayList<>();
            store.scan(prefix, (k, v) -> actual.add(hex(k) + "=" + hex(v)));
            assertEquals(expected, actual, "scan of prefix " + hex(prefix));
        }
    }

    // ---- count and size

    @Test
    void countFollowsPutsOverwritesAndDeletes() {
        assertEquals(0, store.count());
        store.commit(List.of(StoreWrite.put(b(1), b(1)), StoreWrite.put(b(2), b(2)), StoreWrite.put(b(3), b(3))));
        assertEquals(3, store.count());
        put(store, b(2), b(22));
        assertEquals(3, store.count());
        store.commit(List.of(StoreWrite.delete(b(1)), StoreWrite.delete(b(3))));
        assertEquals(1, store.count());
    }

    @Test
    void sizeBytesIsAtLeastThePayloadWritten() {
        assertTrue(store.sizeBytes() >= 0);
        byte[] value = new byte[1024];
        Arrays.fill(value, (byte) 0x5A);
        List<StoreWrite> writes = new ArrayList<>();
        for (int i = 0; i < 512; i++) {
            writes.add(StoreWrite.put(new byte[] {'k', (byte) (i >> 8), (byte) i}, value));
        }
        store.commit(writes);
        long payload = 512L * (3 + 1024);
        assertTrue(store.sizeBytes() >= payload, "sizeBytes " + store.sizeBytes() + " < payload " + payload);
    }

    // ---- closing

    @Test
    void aClosedStoreRefusesUse() {
        put(store, b(1), b(1));
        store.close();
        assertThrows(StoreException.class, () -> store.get(b(1)));
        assertThrows(StoreException.class, () -> store.scan(new byte[0], (k, v) -> { }));
        assertThrows(StoreException.class, () -> store.commit(List.of(StoreWrite.put(b(2), b(2)))));
        assertThrows(StoreException.class, () -> store.count());
    }

    @Test
    void closeIsIdempotent() {
        store.close();
        assertDoesNotThrow(() -> store.close());
    }
}
