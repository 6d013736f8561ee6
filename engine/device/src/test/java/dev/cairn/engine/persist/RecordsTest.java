package dev.cairn.engine.persist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.store.InMemoryLocalStore;
import dev.cairn.engine.store.StoreException;
import dev.cairn.engine.store.StoreWrite;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class RecordsTest {

    private static final Stamp S1 = new Stamp(Stamp.pack(1_700_000_000_000L, 3), "phone-1");
    private static final String LONG_REPLICA = "r".repeat(64);

    private static Change roundTrip(Change change) {
        StoreWrite w = Records.write(change);
        return Records.read(w.key(), w.value());
    }

    @Test
    void mapPutWithAValueRoundTrips() {
        Change put = new Change.Put("cards", "card-intro/isExpanded", "true", S1);
        assertEquals(put, roundTrip(put));
    }

    @Test
    void mapTombstoneRoundTrips() {
        Change delete = new Change.Put("state", "gone", null, S1);
        Change back = roundTrip(delete);
        assertEquals(delete, back);
        assertTrue(((Change.Put) back).isDelete());
    }

    @Test
    void mapValueThatIsAnEmptyJsonStringIsNotConfusedWithATombstone() {
        Change put = new Change.Put("state", "k", "\"\"", S1);
        assertEquals(put, roundTrip(put));
    }

    @Test
    void logAppendRoundTrips() {
        Change append = new Change.Append("chat", "conv-1", "{\"role\":\"user\",\"text\":\"hi\"}", S1);
        assertEquals(append, roundTrip(append));
    }

    @Test
    void logClearRoundTrips() {
        Change clear = new Change.Clear("chat", "conv-1", S1);
        assertEquals(clear, roundTrip(clear));
    }

    @Test
    void unicodeKeysStreamsAndValuesRoundTrip() {
        // the largest hlc a Stamp accepts (Long.MAX_VALUE), with the longest replica id
        Stamp stamp = new Stamp(Long.MAX_VALUE, LONG_REPLICA);
        List<Change> changes = List.of(
                new Change.Put("memory", "ключ/🙂/日本語 é", "\"ünïcödé ✓ 𝄞\"", stamp),
                new Change.Put("memory", "ключ/🙂/日本語 é", null, stamp),
                new Change.Append("chat", "会話-🙂", "{\"text\":\"héllo 🌍\"}", stamp),
                new Change.Clear("chat", "会話-🙂", stamp),
                new Change.Put("a", "k", "0", new Stamp(0, "a")));
        for (Change c : changes) {
            assertEquals(c, roundTrip(c), c.toString());
        }
    }

    @Test
    void recordKeysStartWithTheirTypeByte() {
        assertEquals(Records.MAP, Records.write(new Change.Put("s", "k", "1", S1)).key()[0]);
        assertEquals(Records.LOG, Records.write(new Change.Append("s", "k", "1", S1)).key()[0]);
        assertEquals(Records.WATERMARK, Records.write(new Change.Clear("s", "k", S1)).key()[0]);
        assertEquals(Records.OUTBOX, Records.outboxKey(1)[0]);
        assertEquals(Records.META, Records.metaKey("clock")[0]);
    }

    @Test
    void aStreamPrefixMatchesOnlyThatStream() {
        InMemoryLocalStore store = new InMemoryLocalStore();
        List<StoreWrite> writes = new ArrayList<>();
        for (String stream : List.of("a", "ab", "a b", "a-")) {
            writes.add(Records.write(new Change.Append("chat", stream, "\"" + stream + "\"", S1)));
        }
        writes.add(Records.write(new Change.Append("chatx", "a", "\"other section\"", S1)));
        store.commit(writes);
        List<Change> seen = new ArrayList<>();
        store.scan(Records.logStreamPrefix("chat", "a"), (k, v) -> seen.add(Records.read(k, v)));
        assertEquals(List.of(new Change.Append("chat", "a", "\"a\"", S1)), seen);
    }

    @Test
    void logRecordsOfAStreamScanInStampOrder() {
        InMemoryLocalStore store = new InMemoryLocalStore();
        List<Stamp> stamps = List.of(
                new Stamp(Stamp.pack(1000, 0), "b"), new Stamp(Stamp.pack(999, 65535), "z"),
                new Stamp(Stamp.pack(1000, 0), "a"), new Stamp(Stamp.pack(1L << 40, 0), "a"),
                new Stamp(Stamp.pack(256, 0), "a"), new Stamp(Stamp.pack(255, 255), "a"));
        List<StoreWrite> writes = new ArrayList<>();
        for (Stamp s : stamps) {
            writes.add(Records.write(new Change.Append("chat", "c", "1", s)));
        }
        store.commit(writes);
        List<Stamp> scanned = new ArrayList<>();
        store.scan(Records.logStreamPrefix("chat", "c"), (k, v) -> scanned.add(Records.read(k, v).stamp()));
        List<Stamp> sorted = new ArrayList<>(stamps);
        sorted.sort(null);
        assertEquals(sorted, scanned);
    }

    @Test
    void outboxKeysRoundTripTheirSequenceAndSortNumerically() {
        long[] seqs = {1, 2, 255, 256, 65_536, Long.MAX_VALUE};
        byte[] previous = null;
        for (long seq : seqs) {
            byte[] key = Records.outboxKey(seq);
            assertEquals(seq, Records.outboxSeq(key));
            if (previous != null) {
                assertTrue(Arrays.compareUnsigned(previous, key) < 0, "outbox keys must sort by sequence");
            }
            previous = key;
        }
    }

    @Test
    void outboxValuesRoundTripEveryChangeKind() {
        List<Change> changes = List.of(
                new Change.Put("cards", "card-x/isVisible", "false", S1),
                new Change.Put("cards", "card-x/isVisible", null, S1),
                new Change.Append("chat", "c-ü", "{\"a\":[1,2]}", S1),
                new Change.Clear("chat", "c-ü", S1));
        for (Change c : changes) {
            assertEquals(c, Records.readOutbox(Records.outboxValue(c)));
        }
    }

    @Test
    void metaKeysAreDistinctPerName() {
        assertArrayEquals(Records.metaKey("clock"), Records.metaKey("clock"));
        assertTrue(!Arrays.equals(Records.metaKey("clock"), Records.metaKey("replica")));
    }

    // ---- damaged records

    @Test
    void aTruncatedMapValueIsAStoreException() {
        StoreWrite w = Records.write(new Change.Put("state", "k", "\"value\"", S1));
        byte[] truncated = Arrays.copyOf(w.value(), 5);
        StoreException e = assertThrows(StoreException.class, () -> Records.read(w.key(), truncated));
        assertTrue(e.getMessage().contains("damaged"), e.getMessage());
    }

    @Test
    void anEmptyValueIsAStoreException() {
        StoreWrite w = Records.write(new Change.Clear("chat", "c", S1));
        assertThrows(StoreException.class, () -> Records.read(w.key(), new byte[0]));
    }

    @Test
    void aStampWithAnInvalidReplicaIsAStoreException() {
        byte[] value = ByteBuffer.allocate(8 + 1 + 3 + 1).putLong(5).put((byte) 3).put("a b".getBytes()).put((byte) 0).array();
        assertThrows(StoreException.class, () -> Records.read(Records.mapKey("state", "k"), value));
    }

    @Test
    void aKeyWithoutItsSeparatorIsAStoreException() {
        StoreWrite w = Records.write(new Change.Append("chat", "c", "1", S1));
        byte[] key = new byte[] {Records.LOG, 'c', 'h', 'a', 't'};
        assertThrows(StoreException.class, () -> Records.read(key, w.value()));
    }

    @Test
    void aLogKeyCutInsideItsStampIsAStoreException() {
        StoreWrite w = Records.write(new Change.Append("chat", "c", "1", S1));
        byte[] key = Arrays.copyOf(w.key(), w.key().length - S1.replica().length() - 4);
        assertThrows(StoreException.class, () -> Records.read(key, w.value()));
    }

    @Test
    void anEmptyKeyIsAStoreException() {
        assertThrows(StoreException.class, () -> Records.read(new byte[0], new byte[] {1}));
    }

    @Test
    void aRecordThatIsNotAStateRecordIsAStoreException() {
        StoreException e = assertThrows(StoreException.class, () -> Records.read(Records.metaKey("clock"), new byte[8]));
        assertTrue(e.getMessage().contains("not a state record"), e.getMessage());
        assertThrows(StoreException.class, () -> Records.read(Records.outboxKey(1), new byte[8]));
    }

    @Test
    void aDamagedOutboxValueIsAStoreException() {
        byte[] good = Records.outboxValue(new Change.Put("cards", "k", "true", S1));
        byte[] cut = Arrays.copyOf(good, good.length / 2);
        assertThrows(StoreException.class, () -> Records.readOutbox(cut));
        assertThrows(StoreException.class, () -> Records.readOutbox(new byte[] {(byte) 0xC3}));
    }
}
