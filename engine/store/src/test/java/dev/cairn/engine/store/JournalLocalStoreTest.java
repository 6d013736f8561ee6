package dev.cairn.engine.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link JournalLocalStore}: the contract suite, plus what is special to a journal: replay on
 * open, torn tails, damaged and foreign files, compaction.
 *
 * <p>Policy these tests pin down: a kill can only tear the <em>last</em> record, so a bad last
 * record (truncated, or followed by garbage) is cut off and reported by {@code tornTailsCut()}.
 * A bad record <em>followed by a valid one</em> is disk or file corruption, not a crash: the
 * store refuses to open (StoreException naming the file) and leaves the file byte-for-byte
 * untouched, rather than cutting the journal there and silently dropping every later commit,
 * all of which had been acknowledged. A file with a foreign header is refused the same way.
 */
class JournalLocalStoreTest extends LocalStoreContract {

    private static final byte[] MAGIC = "CAIRNJ1\n".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path dir;

    private int opened;

    @Override
    protected LocalStore newStore() {
        return JournalLocalStore.open(dir.resolve("store-" + (opened++) + ".journal"));
    }

    private JournalLocalStore journal() {
        return (JournalLocalStore) store;
    }

    // ------------------------------------------------------------------ helpers

    /** Every record of a store, in key order, as "key=value" hex. */
    static Map<String, String> dump(LocalStore s) {
        Map<String, String> out = new LinkedHashMap<>();
        s.scan(new byte[0], (k, v) -> out.put(hex(k), hex(v)));
        return out;
    }

    /** A reference model of committed writes, in unsigned key order like a store's scan. */
    static final class Model {
        final TreeMap<byte[], byte[]> map = new TreeMap<>(Arrays::compareUnsigned);

        void apply(List<StoreWrite> writes) {
            for (StoreWrite w : writes) {
                if (w.isDelete()) {
                    map.remove(w.key());
                } else {
                    map.put(w.key().clone(), w.value().clone());
                }
            }
        }

        Map<String, String> dump() {
            Map<String, String> out = new LinkedHashMap<>();
            map.forEach((k, v) -> out.put(hex(k), hex(v)));
            return out;
        }

        Model copy() {
            Model m = new Model();
            m.map.putAll(map);
            return m;
        }
    }

    private static void commit(LocalStore s, Model model, List<StoreWrite> writes) {
        s.commit(writes);
        model.apply(writes);
    }

    /** Record boundaries of a journal's bytes: {offset, payload length} of each complete record. */
    static List<long[]> recordsOf(byte[] bytes) {
        List<long[]> out = new ArrayList<>();
        ByteBuffer buf = ByteBuffer.wrap(bytes);
        int pos = MAGIC.length;
        while (pos + 8 <= bytes.length) {
            int length = buf.getInt(pos);
            if (length < 0 || pos + 8L + length > bytes.length) {
                break;
            }
            out.add(new long[] {pos, length});
            pos += 8 + length;
        }
        return out;
    }

    private static byte[] value(int size, int seed) {
        byte[] v = new byte[size];
        new Random(seed).nextBytes(v);
        return v;
    }

    /** A journal of four commits (puts, overwrites, deletes, an empty value, a high key), closed. */
    private record Built(Path file, byte[] bytes, long beforeLast, Map<String, String> before, Map<String, String> after) {
    }

    @SuppressWarnings("try") // the store is closed inside the block on purpose, before its file is read
    private Built buildJournal(String name) {
        Path file = dir.resolve(name);
        Model model = new Model();
        try (JournalLocalStore s = JournalLocalStore.open(file)) {
            List<StoreWrite> first = new ArrayList<>();
            for (int i = 1; i <= 5; i++) {
                first.add(StoreWrite.put(b('k', i), value(20 + i, i)));
            }
            commit(s, model, first);
            commit(s, model, List.of(StoreWrite.put(b('k', 2), b(2, 2)), StoreWrite.delete(b('k', 3)), StoreWrite.put(b('k', 6), new byte[0])));
            for (int i = 0; i < 30; i++) {
                commit(s, model, List.of(StoreWrite.put(b('s', i), value(i, 100 + i))));
            }
            long beforeLast = s.sizeBytes();
            Map<String, String> before = model.dump();
            commit(s, model, List.of(
                    StoreWrite.put(b('k', 1), b(1, 1, 1)),
                    StoreWrite.delete(b('k', 4)),
                    StoreWrite.put(b('k', 7), value(300, 7)),
                    StoreWrite.put(b(0xFF, 0xFF), b(0xFF))));
            assertEquals(model.dump(), dump(s));
            s.close();
            byte[] bytes = readBytes(file);
            assertEquals(bytes.length, s.sizeBytes());
            return new Built(file, bytes, beforeLast, before, model.dump());
        }
    }

    private static byte[] readBytes(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static void write(Path file, byte[] bytes) {
        try {
            Files.write(file, bytes);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static byte[] concat(byte[] a, byte[] c) {
        byte[] out = Arrays.copyOf(a, a.length + c.length);
        System.arraycopy(c, 0, out, a.length, c.length);
        return out;
    }

    private static int crc(byte[] payload) {
        CRC32C crc = new CRC32C();
        crc.update(payload);
        return (int) crc.getValue();
    }

    // ------------------------------------------------------------------ reopen

    @Test
    void rangeScanVisitsFromInclusiveToExclusiveInUnsignedOrderAndStopsWhenAsked() {
        store.commit(List.of(StoreWrite.put(b(0x01), b(1)), StoreWrite.put(b(0x02), b(2)), StoreWrite.put(b(0x02, 0x00), b(3)),
                StoreWrite.put(b(0x80), b(4)), StoreWrite.put(b(0xFF), b(5))));
        List<Integer> seen = new ArrayList<>();
        journal().scan(b(0x02), b(0xFF), (k, v) -> seen.add((int) v[0]));
        assertEquals(List.of(2, 3, 4), seen, "from is inclusive, to exclusive, 0x80 sorts after 0x02 (unsigned)");
        seen.clear();
        journal().scan(b(0x00), b(0xFF), (k, v) -> {
            seen.add((int) v[0]);
            return seen.size() < 2;
        });
        assertEquals(List.of(1, 2), seen, "the scan stops when the visitor returns false");
    }

    @Test
    void committedDataSurvivesCloseAndReopen() throws Exception {
        Path file = journal().file();
        store.commit(List.of(StoreWrite.put(b(0x6d, 0xC3, 0xA9), b(1, 2, 3)), StoreWrite.put(b(0xFF), b(4)), StoreWrite.put(b(0x01), b(5))));
        store.commit(List.of(StoreWrite.delete(b(0x01)), StoreWrite.put(b(0x02), new byte[0])));
        store.close();
        store = JournalLocalStore.open(file);
        assertEquals(0, journal().tornTailsCut(), "a clean close leaves no torn tail");
        assertArrayEquals(b(1, 2, 3), store.get(b(0x6d, 0xC3, 0xA9)));
        assertArrayEquals(b(4), store.get(b(0xFF)));
        assertArrayEquals(new byte[0], store.get(b(0x02)));
        assertNull(store.get(b(0x01)));
        assertEquals(3, store.count());
        assertEquals(hexAll(b(0x02), b(0x6d, 0xC3, 0xA9), b(0xFF)), scanKeys(store, new byte[0]));
        assertEquals(Files.size(file), store.sizeBytes());
    }

    @Test
    void manyRecordsAndCommitsSurviveReopenInOrder() {
        Path file = journal().file();
        Model model = new Model();
        List<StoreWrite> writes = new ArrayList<>();
        for (int i = 0; i < 2000; i++) {
            writes.add(StoreWrite.put(new byte[] {'o', (byte) (i >> 8), (byte) i}, new byte[] {(byte) i}));
        }
        commit(store, model, writes);
        Random random = new Random(7);
        for (int i = 0; i < 300; i++) {
            byte[] key = {'o', (byte) random.nextInt(8), (byte) random.nextInt(256)};
            commit(store, model, List.of(random.nextInt(4) == 0 ? StoreWrite.delete(key) : StoreWrite.put(key, value(random.nextInt(40), i))));
        }
        store.close();
        store = JournalLocalStore.open(file);
        assertEquals(model.dump(), dump(store));
        assertEquals(model.map.size(), store.count());
    }

    @Test
    void openCreatesMissingParentDirectoriesAndANewJournalIsJustTheHeader() throws Exception {
        Path file = dir.resolve("a/b/c/cairn.journal");
        try (JournalLocalStore s = JournalLocalStore.open(file)) {
            assertArrayEquals(MAGIC, Files.readAllBytes(file));
            assertEquals(MAGIC.length, s.sizeBytes());
            assertEquals(0, s.count());
            put(s, b(1), b(1));
        }
        try (JournalLocalStore s = JournalLocalStore.open(file)) {
            assertArrayEquals(b(1), s.get(b(1)));
        }
    }

    @Test
    void sizeBytesIsTheFileSizeAfterEveryCommitCompactionAndReopen() throws Exception {
        Path file = journal().file();
        assertEquals(Files.size(file), store.sizeBytes());
        long previous = store.sizeBytes();
        for (int i = 0; i < 40; i++) {
            put(store, b('k', i % 4), value(50 + i, i));
            long size = Files.size(file);
            assertEquals(size, store.sizeBytes(), "after commit " + i);
            assertEquals(previous + 8 + 4 + 9 + 2 + 50 + i, size, "a commit appends exactly one record");
            previous = size;
        }
        store.commit(List.of(StoreWrite.delete(b('k', 0))));
        assertEquals(Files.size(file), store.sizeBytes());
        journal().compact();
        assertEquals(Files.size(file), store.sizeBytes());
        store.close();
        store = JournalLocalStore.open(file);
        assertEquals(Files.size(file), store.sizeBytes());
    }

    // ------------------------------------------------------------------ torn tails

    @Test
    void aTornLastRecordIsCutOffAtEveryByteOffset() throws Exception {
        Built built = buildJournal("cairn.journal");
        int end = built.bytes.length;
        int lastStart = (int) built.beforeLast;
        assertTrue(end - lastStart > 300, "the last record is long enough to tear in many places");
        Path torn = dir.resolve("torn.journal");
        for (int cut = lastStart; cut <= end; cut++) {
            write(torn, Arrays.copyOf(built.bytes, cut));
            boolean tornTail = cut > lastStart && cut < end;
            Map<String, String> expected = cut == end ? built.after : built.before;
            String at = "journal cut at byte " + cut + " (last record " + lastStart + ".." + end + ")";
            try (JournalLocalStore s = JournalLocalStore.open(torn)) {
                assertEquals(tornTail ? 1 : 0, s.tornTailsCut(), at);
                assertEquals(expected, dump(s), at + ": every earlier commit intact, the torn one absent");
                long kept = cut == end ? end : lastStart;
                assertEquals(kept, s.sizeBytes(), at);
                assertEquals(kept, Files.size(torn), at + ": the torn bytes are cut off the file");
                put(s, b('p', 'r', 'o', 'b', 'e'), b(cut >> 8, cut));
            }
            try (JournalLocalStore s = JournalLocalStore.open(torn)) {
                assertEquals(0, s.tornTailsCut(), at + ": reopened after a clean close");
                Map<String, String> withProbe = new TreeMap<>(expected);
                withProbe.put(hex(b('p', 'r', 'o', 'b', 'e')), hex(b(cut >> 8, cut)));
                assertEquals(withProbe, new TreeMap<>(dump(s)), at + ": the commit after the cut survives another reopen");
            }
        }
    }

    @Test
    void garbageAfterTheLastRecordIsCutOff() throws Exception {
        Built built = buildJournal("cairn.journal");
        byte[] fakeHeader = ByteBuffer.allocate(20).putInt(12).putInt(0x12345678).putInt(1).putInt(0).putInt(0).array();
        byte[] hugeLength = ByteBuffer.allocate(8).putInt(Integer.MAX_VALUE).putInt(0).array();
        byte[] negativeLength = ByteBuffer.allocate(8).putInt(-5).putInt(0).array();
        List<byte[]> garbage = new ArrayList<>(List.of(b(0), new byte[4096], fakeHeader, hugeLength, negativeLength,
                "some text that is not a record".getBytes(StandardCharsets.UTF_8)));
        Random random = new Random(20240612L);
        for (int i = 0; i < 60; i++) {
            byte[] g = new byte[1 + random.nextInt(i < 50 ? 64 : 5000)];
            random.nextBytes(g);
            garbage.add(g);
        }
        Path damaged = dir.resolve("garbage.journal");
        for (int i = 0; i < garbage.size(); i++) {
            byte[] g = garbage.get(i);
            // after the complete journal, and after a journal whose last record is itself torn
            for (int cut : new int[] {built.bytes.length, (int) built.beforeLast + 13}) {
                write(damaged, concat(Arrays.copyOf(built.bytes, cut), g));
                String at = "garbage #" + i + " (" + g.length + " bytes) after byte " + cut;
                try (JournalLocalStore s = JournalLocalStore.open(damaged)) {
                    assertEquals(1, s.tornTailsCut(), at);
                    long kept = cut == built.bytes.length ? cut : built.beforeLast;
                    assertEquals(cut == built.bytes.length ? built.after : built.before, dump(s), at);
                    assertEquals(kept, Files.size(damaged), at);
                    put(s, b('n', 'e', 'w'), b(i));
                }
                try (JournalLocalStore s = JournalLocalStore.open(damaged)) {
                    assertEquals(0, s.tornTailsCut(), at);
                    assertArrayEquals(b(i), s.get(b('n', 'e', 'w')), at);
                }
            }
        }
    }

    @Test
    void aFileShorterThanTheHeaderThatIsAPrefixOfItOpensEmpty() throws Exception {
        for (int k = 0; k < MAGIC.length; k++) {
            Path file = dir.resolve("prefix-" + k + ".journal");
            write(file, Arrays.copyOf(MAGIC, k)); // killed while the header of a new store was written
            try (JournalLocalStore s = JournalLocalStore.open(file)) {
                assertEquals(0, s.count(), "prefix of " + k + " bytes");
                assertEquals(0, s.tornTailsCut());
                assertArrayEquals(MAGIC, Files.readAllBytes(file), "the header is completed");
                assertEquals(MAGIC.length, s.sizeBytes());
                put(s, b(k), b(k));
            }
            try (JournalLocalStore s = JournalLocalStore.open(file)) {
                assertArrayEquals(b(k), s.get(b(k)));
                assertEquals(1, s.count());
            }
        }
    }

    // ------------------------------------------------------------------ foreign and damaged files

    @Test
    void aFileWithAWrongHeaderIsRefusedAndLeftByteForByteUntouched() throws Exception {
        Built built = buildJournal("real.journal");
        byte[] otherVersion = built.bytes.clone();
        otherVersion[6] = '2'; // CAIRNJ2: a future format
        byte[] flippedMagic = built.bytes.clone();
        flippedMagic[0] ^= 0x20;
        Map<String, byte[]> files = new LinkedHashMap<>();
        files.put("text", "this is a text file, not a Cairn journal\n".repeat(200).getBytes(StandardCharsets.UTF_8));
        files.put("future-version", otherVersion);
        files.put("flipped-magic", flippedMagic);
        files.put("short-not-a-prefix", "hello".getBytes(StandardCharsets.US_ASCII));
        files.put("one-wrong-byte", b('X'));
        files.put("header-prefix-then-other", Arrays.copyOf("CAIRNJX".getBytes(StandardCharsets.US_ASCII), 7));
        for (Map.Entry<String, byte[]> e : files.entrySet()) {
            Path file = dir.resolve(e.getKey()).resolve("cairn.journal");
            Files.createDirectories(file.getParent());
            write(file, e.getValue());
            Path leftover = file.resolveSibling("cairn.journal.compact");
            write(leftover, b(1, 2, 3));
            StoreException ex = assertThrows(StoreException.class, () -> JournalLocalStore.open(file), e.getKey());
            assertTrue(ex.getMessage().contains(file.toString()), e.getKey() + ": message names the file: " + ex.getMessage());
            assertTrue(ex.getMessage().contains("not a Cairn journal"), ex.getMessage());
            assertArrayEquals(e.getValue(), Files.readAllBytes(file), e.getKey() + ": the file is left untouched");
            assertTrue(Files.exists(leftover), e.getKey() + ": nothing next to a foreign file is touched either");
            // refused again, the same way (nothing was half-done)
            assertThrows(StoreException.class, () -> JournalLocalStore.open(file), e.getKey());
            assertArrayEquals(e.getValue(), Files.readAllBytes(file), e.getKey());
        }
    }

    /**
     * A flipped byte inside a middle record: replay stops at that record, and because a valid
     * record follows it, this cannot be a torn write. The later records are NOT cut off (they
     * were acknowledged commits): open refuses with a StoreException naming the file and the
     * offset, and the file is left untouched, so it can be restored or salvaged.
     */
    @Test
    void aDamagedMiddleRecordIsRefusedAndTheLaterRecordsAreKeptOnDisk() throws Exception {
        Built built = buildJournal("cairn.journal");
        List<long[]> records = recordsOf(built.bytes);
        assertEquals(33, records.size());
        Path file = dir.resolve("damaged.journal");
        Random random = new Random(99);
        // payload bytes of the first, a middle and the second-to-last record; also their length and crc fields
        for (int r : new int[] {0, 1, 16, 31}) {
            long offset = records.get(r)[0];
            long length = records.get(r)[1];
            List<Long> positions = new ArrayList<>(List.of(offset + 8, offset + 8 + length - 1, offset + 8 + random.nextInt((int) length)));
            positions.addAll(List.of(offset, offset + 3, offset + 4, offset + 7)); // length and crc fields
            for (long at : positions) {
                for (int bit : new int[] {0x01, 0x80}) {
                    byte[] damaged = built.bytes.clone();
                    damaged[(int) at] ^= (byte) bit;
                    write(file, damaged);
                    String where = "record " + r + " of " + records.size() + ", byte " + at + " ^ " + bit;
                    StoreException e = assertThrows(StoreException.class, () -> JournalLocalStore.open(file), where);
                    assertTrue(e.getMessage().contains(file.toAbsolutePath().toString()), where + ": " + e.getMessage());
                    assertTrue(e.getMessage().contains("damaged") && e.getMessage().contains("byte " + offset), where + ": " + e.getMessage());
                    assertArrayEquals(damaged, Files.readAllBytes(file), where + ": the file is left untouched");
                }
            }
        }
    }

    /** Damage to the last record cannot be told from a torn write: it is cut off like one (earlier records intact). */
    @Test
    void aDamagedLastRecordIsCutOffLikeATornOne() {
        Built built = buildJournal("cairn.journal");
        Path file = dir.resolve("last.journal");
        for (long at : new long[] {built.beforeLast, built.beforeLast + 5, built.beforeLast + 8, built.bytes.length - 1}) {
            byte[] damaged = built.bytes.clone();
            damaged[(int) at] ^= 0x10;
            write(file, damaged);
            try (JournalLocalStore s = JournalLocalStore.open(file)) {
                assertEquals(1, s.tornTailsCut(), "byte " + at);
                assertEquals(built.before, dump(s), "byte " + at);
                assertEquals(built.beforeLast, s.sizeBytes());
            }
        }
    }

    // ------------------------------------------------------------------ compaction

    @Test
    void compactKeepsExactlyTheLiveDataShrinksTheFileAndSurvivesReopen() throws Exception {
        Path file = journal().file();
        Model model = new Model();
        Random random = new Random(5);
        for (int i = 0; i < 400; i++) {
            byte[] key = b('c', random.nextInt(10));
            commit(store, model, List.of(random.nextInt(10) == 0 ? StoreWrite.delete(key) : StoreWrite.put(key, value(100, i))));
        }
        commit(store, model, List.of(StoreWrite.put(b('e'), new byte[0]), StoreWrite.delete(b('c', 9))));
        long before = Files.size(file);
        journal().compact();
        long after = Files.size(file);
        assertTrue(after < before / 10, "compaction shrinks the file: " + before + " -> " + after);
        assertEquals(after, store.sizeBytes());
        assertEquals(model.dump(), dump(store), "exactly the live data");
        assertEquals(model.map.size(), store.count());
        assertFalse(Files.exists(file.resolveSibling(file.getFileName() + ".compact")), "no temporary file is left");
        // commits after a compaction append to the new file
        commit(store, model, List.of(StoreWrite.put(b('c', 1), b(42)), StoreWrite.delete(b('c', 2))));
        assertEquals(Files.size(file), store.sizeBytes());
        store.close();
        store = JournalLocalStore.open(file);
        assertEquals(0, journal().tornTailsCut());
        assertEquals(model.dump(), dump(store));
        // compacting an empty store leaves just the header
        List<StoreWrite> deletes = new ArrayList<>();
        model.map.keySet().forEach(k -> deletes.add(StoreWrite.delete(k)));
        store.commit(deletes);
        journal().compact();
        assertArrayEquals(MAGIC, Files.readAllBytes(file));
        store.close();
        store = JournalLocalStore.open(file);
        assertEquals(0, store.count());
    }

    @Test
    void manyOverwritesOfFewKeysCompactAutomatically() throws Exception {
        Path file = journal().file();
        store.close();
        store = JournalLocalStore.open(file, false); // default limits; no fsync, to keep 20 MB of commits fast
        Model model = new Model();
        long maxSize = 0;
        int shrinks = 0;
        long previous = Files.size(file);
        for (int i = 0; i < 640; i++) {
            commit(store, model, List.of(StoreWrite.put(b('f', i % 8), value(32 << 10, i))));
            long size = Files.size(file);
            assertEquals(size, store.sizeBytes(), "commit " + i);
            maxSize = Math.max(maxSize, size);
            shrinks += size < previous ? 1 : 0;
            previous = size;
        }
        assertTrue(shrinks >= 2, "20 MB of overwrites of 8 keys compact more than once: " + shrinks);
        assertTrue(maxSize <= JournalLocalStore.MIN_COMPACT_BYTES + (33 << 10), "the file never grows far past the threshold: " + maxSize);
        assertTrue(Files.size(file) < JournalLocalStore.MIN_COMPACT_BYTES, Files.size(file) + " bytes");
        assertEquals(model.dump(), dump(store));
        store.close();
        store = JournalLocalStore.open(file);
        assertEquals(model.dump(), dump(store));
        assertEquals(0, journal().tornTailsCut());
    }

    /**
     * The compaction trigger compares the file with what a compacted file would take, framing
     * included: a store of many tiny records must not compact again at every commit.
     */
    @Test
    void aStoreOfTinyRecordsDoesNotCompactAtEveryCommit() throws Exception {
        Path file = dir.resolve("tiny.journal");
        try (JournalLocalStore s = JournalLocalStore.open(file, false, 1 << 20, 64 << 10, 64 << 10)) {
            List<StoreWrite> writes = new ArrayList<>();
            for (int i = 0; i < 20_000; i++) {
                writes.add(StoreWrite.put(new byte[] {(byte) (i >> 8), (byte) i}, new byte[0]));
            }
            s.commit(writes);
            s.compact();
            long size = s.sizeBytes();
            assertTrue(size > 64 << 10, "above the compaction threshold: " + size);
            for (int i = 0; i < 50; i++) {
                s.commit(List.of(StoreWrite.put(new byte[] {(byte) (i >> 8), (byte) i}, new byte[0])));
                long now = Files.size(file);
                assertEquals(size + 8 + 4 + 9 + 2, now, "commit " + i + " only appends (no compaction)");
                size = now;
            }
        }
    }

    @Test
    void compactionSplitsTheSnapshotSoEveryRecordStaysWithinTheReplayLimit() throws Exception {
        Path file = dir.resolve("chunks.journal");
        Model model = new Model();
        int maxRecord = 4096;
        try (JournalLocalStore s = JournalLocalStore.open(file, true, maxRecord, 1024, 1L << 40)) {
            for (int i = 0; i < 20; i++) {
                // alternating small and near-limit values: a chunk that is nearly full must not take a big one too
                int size = i % 2 == 0 ? 900 : maxRecord - 4 - 9 - 2 - 8;
                commit(s, model, List.of(StoreWrite.put(b('v', i), value(size, i))));
            }
            s.compact();
            for (long[] r : recordsOf(Files.readAllBytes(file))) {
                assertTrue(r[1] <= maxRecord, "record at " + r[0] + " holds " + r[1] + " bytes");
            }
        }
        try (JournalLocalStore s = JournalLocalStore.open(file, true, maxRecord, 1024, 1L << 40)) {
            assertEquals(0, s.tornTailsCut(), "nothing of the compacted journal is cut off");
            assertEquals(model.dump(), dump(s));
        }
    }

    @Test
    void aCommitTooLargeToReplayIsRefusedBeforeAnythingIsWritten() throws Exception {
        Path file = dir.resolve("limit.journal");
        int maxRecord = 1024;
        try (JournalLocalStore s = JournalLocalStore.open(file, true, maxRecord, 256, 1L << 40)) {
            put(s, b(1), b(1));
            long size = Files.size(file);
            StoreException e = assertThrows(StoreException.class, () -> put(s, b(2), new byte[maxRecord]));
            assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
            assertEquals(size, Files.size(file), "nothing was written");
            assertNull(s.get(b(2)));
            byte[] largest = new byte[maxRecord - 4 - 9 - 1];
            put(s, b(3), largest); // exactly at the limit
            put(s, b(4), b(4));
        }
        try (JournalLocalStore s = JournalLocalStore.open(file, true, maxRecord, 256, 1L << 40)) {
            assertEquals(0, s.tornTailsCut());
            assertEquals(3, s.count());
            assertEquals(maxRecord - 14, s.get(b(3)).length);
            assertArrayEquals(b(4), s.get(b(4)));
        }
    }

    @Test
    void aLeftoverCompactionFileFromAKilledCompactionIsDeletedAndTheJournalIsUsed() throws Exception {
        Built built = buildJournal("cairn.journal");
        Path leftover = dir.resolve("cairn.journal.compact");
        // a compaction killed halfway (a prefix of a snapshot), and one killed just before its rename
        // (a complete journal, but of other content: it was never swapped in)
        Path other = dir.resolve("other.journal");
        try (JournalLocalStore s = JournalLocalStore.open(other)) {
            put(s, b('z'), b('z'));
        }
        byte[] complete = Files.readAllBytes(other);
        for (byte[] content : List.of(Arrays.copyOf(built.bytes, built.bytes.length / 2), complete, new byte[0])) {
            write(built.file, built.bytes);
            write(leftover, content);
            try (JournalLocalStore s = JournalLocalStore.open(built.file)) {
                assertFalse(Files.exists(leftover), "the leftover is deleted on open");
                assertEquals(built.after, dump(s));
                assertEquals(0, s.tornTailsCut());
                assertArrayEquals(built.bytes, Files.readAllBytes(built.file), "the journal itself is intact");
            }
        }
    }

    @Test
    void aFailedAutomaticCompactionDoesNotFailTheCommitThatTriggeredIt() throws Exception {
        Path file = dir.resolve("cairn.journal");
        Path tmp = dir.resolve("cairn.journal.compact");
        Model model = new Model();
        try (JournalLocalStore s = JournalLocalStore.open(file, true, 1 << 20, 64 << 10, 32 << 10)) {
            Files.createDirectory(tmp); // the compaction cannot create its file
            long record = 8 + 4 + 9 + 1 + 1000;
            long failedAt = -1;
            long shrunkAt = -1;
            for (int i = 0; i < 200 && shrunkAt < 0; i++) {
                long before = Files.size(file);
                commit(s, model, List.of(StoreWrite.put(b('a'), value(1000, i)))); // must not throw
                assertArrayEquals(model.map.get(b('a')), s.get(b('a')));
                long after = Files.size(file);
                if (after > 32 << 10 && failedAt < 0) {
                    failedAt = after;
                    assertTrue(after > before, "the first attempt failed, the file was not compacted");
                } else if (after < before) {
                    shrunkAt = before + record; // the size the compaction found
                }
            }
            assertTrue(failedAt > 0, "the compaction threshold was reached");
            assertTrue(shrunkAt >= failedAt * 3 / 2, "retried only after the file grew by half: failed at " + failedAt + ", shrunk at " + shrunkAt);
        }
        try (JournalLocalStore s = JournalLocalStore.open(file)) {
            assertEquals(model.dump(), dump(s));
        }
    }

    // ------------------------------------------------------------------ failures

    @Test
    void aCommitOnAnInterruptedThreadFailsWithoutBreakingTheStore() throws Exception {
        Path file = journal().file();
        put(store, b(1), b(1));
        long size = Files.size(file);
        Thread.currentThread().interrupt();
        try {
            // FileChannel closes itself when an interrupted thread uses it; the store must recover.
            StoreException e = assertThrows(StoreException.class, () -> put(store, b(2), b(2)));
            assertTrue(e.getMessage().contains("rolled back"), e.getMessage());
        } finally {
            assertTrue(Thread.interrupted(), "the interrupt is preserved for the caller");
        }
        assertNull(store.get(b(2)));
        assertEquals(size, Files.size(file));
        put(store, b(3), b(3));
        store.close();
        store = JournalLocalStore.open(file);
        assertEquals(0, journal().tornTailsCut());
        assertEquals(Map.of(hex(b(1)), hex(b(1)), hex(b(3)), hex(b(3))), dump(store));
    }

    @Test
    void theContractsHalfFailedCommitLeavesNothingOnDisk() throws Exception {
        Path file = journal().file();
        put(store, b(1), b(1));
        long size = Files.size(file);
        assertThrows(RuntimeException.class, () -> store.commit(Arrays.asList(StoreWrite.put(b(2), b(2)), null)));
        assertEquals(size, Files.size(file));
        store.close();
        store = JournalLocalStore.open(file);
        assertEquals(Map.of(hex(b(1)), hex(b(1))), dump(store));
    }

    @Test
    void aValidRecordHiddenInsideADamagedRegionIsFoundWhateverItsAlignment() {
        // A record whose length field is damaged hides where the next one starts: the scan must still find it.
        Built built = buildJournal("cairn.journal");
        List<long[]> records = recordsOf(built.bytes);
        long[] victim = records.get(2);
        byte[] damaged = built.bytes.clone();
        ByteBuffer.wrap(damaged).putInt((int) victim[0], (int) victim[1] + 3); // now spans into the next record
        Path file = dir.resolve("shifted.journal");
        write(file, damaged);
        StoreException e = assertThrows(StoreException.class, () -> JournalLocalStore.open(file));
        assertTrue(e.getMessage().contains("byte " + victim[0]), e.getMessage());
        assertArrayEquals(damaged, readBytes(file));
        // and a well-formed record with a wrong checksum followed by nothing valid is a tail, not damage
        byte[] payload = ByteBuffer.allocate(4 + 1 + 4 + 1 + 4 + 1).putInt(1).put((byte) 1).putInt(1).put((byte) 9).putInt(1).put((byte) 9).array();
        byte[] badTail = ByteBuffer.allocate(8 + payload.length).putInt(payload.length).putInt(crc(payload) + 1).put(payload).array();
        write(file, concat(built.bytes, badTail));
        try (JournalLocalStore s = JournalLocalStore.open(file)) {
            assertEquals(1, s.tornTailsCut());
            assertEquals(built.after, dump(s));
        } catch (RuntimeException ex) {
            fail("a bad last record must be cut off, not refused: " + ex);
        }
    }
}
