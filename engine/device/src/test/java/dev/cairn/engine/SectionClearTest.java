package dev.cairn.engine;

import dev.cairn.engine.persist.Records;
import dev.cairn.engine.sync.internal.SyncPorts;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.store.TieredLocalStore;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The purge rule on a device: a map section's clear (local or from the server) removes every
 * value and tombstone it covers from the durable store at once, so the store shrinks, and the
 * watermark it keeps there keeps older writes out after a restart.
 */
class SectionClearTest {

    private static final String BIG = "\"" + "x".repeat(1_000) + "\"";

    /**
     * Map records of one section in a closed engine's durable store, and the bytes of every record
     * the compacted store holds (its files are MapDB's, allocated in whole MiB, so the file size
     * says little for a small store).
     */
    private record Stored(int records, boolean watermark, long compactedBytes) {
    }

    private static Stored stored(Path dir, String section) {
        try (TieredLocalStore store = TieredLocalStore.open(dir)) {
            AtomicInteger n = new AtomicInteger();
            store.scan(Records.mapKey(section, ""), (k, v) -> n.incrementAndGet());
            boolean mark = store.get(Records.watermarkKey(section, Change.Clear.WHOLE_SECTION)) != null;
            store.compact();
            long[] bytes = {0};
            store.scan(new byte[0], (k, v) -> bytes[0] += k.length + v.length);
            return new Stored(n.get(), mark, bytes[0]);
        }
    }

    private static Cairn open(Path dir) {
        return Cairn.builder().dataDir(dir).replicaId("dev-a").open();
    }

    @Test
    void aLocalClearPurgesValuesAndTombstonesFromTheDurableStore(@TempDir Path dir) {
        try (Cairn cairn = open(dir)) {
            for (int i = 0; i < 300; i++) {
                cairn.ui().put("k" + i, BIG.length()); // small values...
                cairn.map("ui").put("big" + i, "x".repeat(1_000)); // ...and large ones
            }
            for (int i = 0; i < 50; i++) {
                cairn.ui().remove("k" + i); // single deletes: tombstones
            }
            cairn.memory().remember("other", "kept");
            cairn.save().join();
        }
        Stored before = stored(dir, "ui");
        assertEquals(600, before.records(), "250 values, 50 tombstones and 300 large values");

        Stamp cleared;
        try (Cairn cairn = open(dir)) {
            assertEquals(550, cairn.ui().clear());
            cleared = EngineAccess.state(cairn).map("ui").watermark();
            assertNotNull(cleared);
            cairn.save().join();
        }
        Stored after = stored(dir, "ui");
        System.out.println("SectionClearTest: ui records " + before.records() + " -> " + after.records() + ", compacted journal "
                + before.compactedBytes() + " -> " + after.compactedBytes() + " bytes");
        assertEquals(0, after.records(), "no value or tombstone of the cleared section is left on the device");
        assertTrue(after.watermark(), "the watermark is kept: it keeps older writes out");
        assertTrue(after.compactedBytes() * 10 < before.compactedBytes(),
                "clearing frees the space: " + before.compactedBytes() + " -> " + after.compactedBytes() + " bytes");

        try (Cairn cairn = open(dir)) {
            assertEquals(0, cairn.ui().size());
            assertEquals(cleared, EngineAccess.state(cairn).map("ui").watermark(), "the watermark survives a restart");
            assertEquals("kept", cairn.memory().recall("other", String.class), "other sections are untouched");
            Stamp older = new Stamp(cleared.hlc() - 1, "dev-b");
            assertEquals(0, SyncPorts.of(cairn).applyRemote(List.of(new Change.Put("ui", "k1", "\"offline edit\"", older))),
                    "an older write arriving after the restart stays out");
            assertEquals(0, cairn.ui().size());
        }
    }

    @Test
    void aClearFromTheServerPurgesTheDurableStoreToo(@TempDir Path dir) {
        Stamp t0 = Stamp.parse("0190a1b2c3d40000@dev-b");
        try (Cairn cairn = open(dir)) {
            List<Change> page = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                page.add(new Change.Put("ui", "k" + i, "1", new Stamp(t0.hlc() + i, "dev-b")));
            }
            page.add(new Change.Put("ui", "gone", null, new Stamp(t0.hlc() + 200, "dev-b")));
            SyncPorts.of(cairn).applyRemote(page, 101);
            cairn.ui().put("mine", "before the clear, offline");
            cairn.save().join();
        }
        assertEquals(102, stored(dir, "ui").records());
        try (Cairn cairn = open(dir)) {
            // the clear is stamped just before this device's own write, which therefore stays
            Stamp mine = cairn.map("ui").entry("mine").stamp();
            Stamp clearAt = new Stamp(mine.hlc() - 1, "server");
            assertTrue(clearAt.compareTo(new Stamp(t0.hlc() + 200, "dev-b")) > 0);
            SyncPorts.of(cairn).applyRemote(List.of(Change.Clear.wholeSection("ui", clearAt)), 102);
            cairn.save().join();
            assertEquals(List.of("mine"), List.copyOf(cairn.ui().keys()));
        }
        Stored after = stored(dir, "ui");
        assertTrue(after.watermark());
        assertEquals(1, after.records(), "only the write newer than the clear stays");
    }
}
