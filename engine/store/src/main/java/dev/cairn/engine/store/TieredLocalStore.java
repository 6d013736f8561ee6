package dev.cairn.engine.store;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * The durable {@link LocalStore}: a write-ahead journal for commits and immutable MapDB snapshots
 * for the state, in one directory.
 *
 * <p><b>Write path.</b> A commit is appended to the active journal segment and forced (fdatasync)
 * before it returns, exactly as in {@link JournalLocalStore}, then applied to the segment's sorted
 * in-memory table. When a segment passes {@link Options#flushBytes} a new one is started and the
 * {@link SnapshotMover} writes the old one's table to a new snapshot ({@link Snapshot}: bulk-loaded,
 * closed, forced, renamed), then replaces the {@link Manifest} (which names the live snapshots and
 * the first journal segment they do not cover), and only then deletes the segment.
 *
 * <p><b>Tiers.</b> Each snapshot has a level, never decreasing from the newest to the oldest: a
 * flush makes a level-0 snapshot; when {@code fanout} snapshots of one level exist (they are next
 * to each other) they are merged into one whose level is its size level ({@code
 * floor(log_fanout(bytes / flushBytes))}, bytes = keys and values held), but at least one more
 * than theirs and at most the next older one's. So a record is rewritten about once per level:
 * write amplification grows with the log of the data size, not with it (see ARCHITECTURE.md).
 * Deletes are kept in snapshots as tombstones until a merge reaches the oldest snapshot.
 *
 * <p><b>Reads</b> look at the active table, the tables waiting to be written, then the snapshots,
 * newest first. Opening reads the manifest and replays only the journal tail; snapshots are opened
 * (and their checksum verified) at their first read.
 *
 * <p>Thread-safety: one writer and concurrent readers; a scan sees no half commit.
 */
public final class TieredLocalStore implements LocalStore {

    private static final System.Logger LOG = System.getLogger(TieredLocalStore.class.getName());
    /** The journal file of a store made by {@link JournalLocalStore}; adopted as the first segment. */
    public static final String LEGACY_JOURNAL = "cairn.journal";
    /** Tables waiting for the background thread beyond which the active segment keeps growing instead. */
    private static final int MAX_FROZEN = 2;

    /**
     * @param flushBytes journal bytes after which a segment is moved into a snapshot
     * @param fanout     snapshots of one size level merged together
     * @param sync       fdatasync commits and snapshots (off: survives a process kill, not a power cut)
     * @param maxRecordBytes the largest commit (one journal record) in bytes: a larger one is a
     *                   {@link StoreException}, and a record claiming more is read as corrupt
     * @param phases     told each step of the background move (crash tests kill the process there)
     */
    public record Options(long flushBytes, int fanout, boolean sync, int maxRecordBytes, Consumer<String> phases) {
        /** IllegalArgumentException if flushBytes &lt; 1, fanout &lt; 2 or maxRecordBytes &lt; 64. */
        public Options {
            if (flushBytes < 1 || fanout < 2 || maxRecordBytes < 64) {
                throw new IllegalArgumentException("bad store options: flushBytes " + flushBytes + ", fanout " + fanout);
            }
        }

        /** 4 MiB segments, fanout 4, fdatasync on, commits up to 256 MiB, no phase listener. */
        public static Options defaults() {
            return new Options(4L << 20, 4, true, JournalLocalStore.MAX_RECORD_BYTES, p -> { });
        }

        /** These options with another segment size, in journal bytes. */
        public Options withFlushBytes(long bytes) {
            return new Options(bytes, fanout, sync, maxRecordBytes, phases);
        }

        /** These options merging {@code n} snapshots of one level at a time. */
        public Options withFanout(int n) {
            return new Options(flushBytes, n, sync, maxRecordBytes, phases);
        }

        /** These options with fdatasync on or off (off: a commit survives a process kill, not a power cut). */
        public Options withSync(boolean on) {
            return new Options(flushBytes, fanout, on, maxRecordBytes, phases);
        }

        /** These options telling {@code listener} each step of a snapshot move by name (crash tests stop the process there). */
        public Options withPhases(Consumer<String> listener) {
            return new Options(flushBytes, fanout, sync, maxRecordBytes, listener);
        }
    }

    /** The sorted table of one journal segment; {@link Snapshot#TOMBSTONE} marks a delete. */
    record Table(long gen, ConcurrentSkipListMap<byte[], byte[]> map, long[] bytes) {
        Table(long gen) {
            this(gen, new ConcurrentSkipListMap<>(Arrays::compareUnsigned), new long[1]);
        }

        void apply(List<StoreWrite> writes) {
            for (StoreWrite w : writes) {
                map.put(w.key().clone(), w.isDelete() ? Snapshot.TOMBSTONE : w.value().clone());
                bytes[0] += 16 + w.key().length + (w.isDelete() ? 0 : w.value().length);
            }
        }
    }

    /** What readers see; replaced whole. Lists are newest first. */
    record View(Table active, List<Table> frozen, List<Snapshot> snapshots) {
    }

    final Path dir;
    final Options options;
    private final Object writeMutex = new Object();
    final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    /** Moves full segments into snapshots and merges them, on two threads of its own. */
    private final SnapshotMover mover;
    /** Orders manifest replacements (and the view changes that go with them) of the mover's two threads. */
    final Object manifestLock = new Object();
    final java.util.concurrent.atomic.AtomicLong nextId = new java.util.concurrent.atomic.AtomicLong();
    volatile View view;
    private JournalFile journal;
    /** The last manifest made durable. */
    volatile Manifest manifest;
    /** The last flush failed: commits do not wait for the flush thread (the journal keeps everything). */
    volatile boolean flushFailed;
    volatile boolean closing;
    private volatile boolean closed;
    private int tornTailsCut;
    final long[] bytesWritten = new long[2]; // [0] journal, [1] snapshots

    private TieredLocalStore(Path dir, Options options) {
        this.dir = dir;
        this.options = options;
        this.mover = new SnapshotMover(this);
    }

    /** Opens (or creates) the store in {@code dir} with {@link Options#defaults()}; {@link StoreException} if it cannot. */
    public static TieredLocalStore open(Path dir) {
        return open(dir, Options.defaults());
    }

    /** Opens (or creates) the store in {@code dir}: manifest, then the journal tail. */
    public static TieredLocalStore open(Path dir, Options options) {
        TieredLocalStore store = new TieredLocalStore(dir.toAbsolutePath(), options);
        try {
            store.load();
        } catch (IOException e) {
            store.abandon();
            throw new StoreException("cannot open local store " + dir + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            store.abandon();
            throw e;
        }
        return store;
    }

    private void load() throws IOException {
        StoreDirectory.Recovered r = StoreDirectory.recover(dir);
        Manifest m = r.manifest();
        List<Snapshot> snaps = new ArrayList<>();
        for (Manifest.Entry e : m.snapshots()) {
            snaps.add(new Snapshot(dir, e, false));
        }
        List<Table> tables = new ArrayList<>(); // oldest first
        JournalFile last = null;
        for (Map.Entry<Long, Path> s : r.segments().entrySet()) {
            Table t = new Table(s.getKey());
            boolean isLast = s.getKey().equals(r.segments().lastKey());
            JournalFile j = JournalFile.open(s.getValue(), options.sync(), options.maxRecordBytes(), isLast, t::apply);
            tornTailsCut += j.tornTailCut() ? 1 : 0;
            tables.add(t);
            if (isLast) {
                last = j;
            } else {
                j.close();
            }
        }
        for (Path f : r.leftovers()) {
            Files.deleteIfExists(f);
        }
        if (last == null) {
            last = JournalFile.create(dir.resolve(Manifest.segmentName(m.journalFrom())), options.sync(), options.maxRecordBytes());
            Manifest.forceDirectory(dir);
            tables.add(new Table(m.journalFrom()));
        }
        journal = last;
        manifest = m;
        Table active = tables.remove(tables.size() - 1);
        List<Table> newestFirst = new ArrayList<>(tables);
        java.util.Collections.reverse(newestFirst);
        view = new View(active, List.copyOf(newestFirst), List.copyOf(snaps));
        nextId.set(m.nextId());
        if (!tables.isEmpty()) {
            mover.flushSoon();
        } else {
            mover.scheduleMerge();
        }
    }

    /**
     * Copies a live store's files to {@code target} so that the copy opens with every commit made
     * before the copy started (see {@link StoreDirectory#copy}); a stopped store's directory can
     * simply be copied.
     */
    public static void copyFiles(Path dir, Path target) throws IOException {
        StoreDirectory.copy(dir, target);
    }

    // ---- reads

    @Override
    public byte[] get(byte[] key) {
        lock.readLock().lock();
        try {
            checkOpen();
            View v = view;
            byte[] value = v.active.map.get(key);
            for (int i = 0; value == null && i < v.frozen.size(); i++) {
                value = v.frozen.get(i).map.get(key);
            }
            for (int i = 0; value == null && i < v.snapshots.size(); i++) {
                value = v.snapshots.get(i).get(key);
            }
            return value == Snapshot.TOMBSTONE || value == null ? null : value.clone();
        } finally {
            lock.readLock().unlock();
        }
    }

    @Override
    public void scan(byte[] prefix, BiConsumer<byte[], byte[]> visitor) {
        byte[] upper = Keys.upperBound(prefix);
        scan(prefix, upper, (k, v) -> {
            visitor.accept(k, v);
            return true;
        });
    }

    /** Visits {@code from <= key < to} ({@code to} null = to the end) in key order while the visitor returns true. */
    public void scan(byte[] from, byte[] to, java.util.function.BiPredicate<byte[], byte[]> visitor) {
        lock.readLock().lock();
        try {
            checkOpen();
            View v = view;
            List<Iterator<Map.Entry<byte[], byte[]>>> sources = new ArrayList<>();
            sources.add(range(v.active, from, to));
            for (Table t : v.frozen) {
                sources.add(range(t, from, to));
            }
            for (Snapshot s : v.snapshots) {
                sources.add(s.range(from, to));
            }
            MergingIterator it = new MergingIterator(sources, true);
            while (it.hasNext()) {
                Map.Entry<byte[], byte[]> e = it.next();
                if (!visitor.test(e.getKey(), e.getValue())) {
                    return;
                }
            }
        } finally {
            lock.readLock().unlock();
        }
    }

    /** A visitor of {@link #scanWithTier}: {@code sameTier} reads a key from the tier the visited entry is in. */
    @FunctionalInterface
    public interface TierVisitor {
        /**
         * One entry of the scan, in key order.
         *
         * @param key the entry's key
         * @param value its live value
         * @param sameTier looks a key up in the tier that holds this entry (null if that tier does not hold it)
         * @return false to stop the scan
         */
        boolean visit(byte[] key, byte[] value, java.util.function.Function<byte[], byte[]> sameTier);
    }

    /**
     * {@link #scan(byte[], byte[], java.util.function.BiPredicate)}, and the visitor may look a key
     * up in the one tier (the journal tail's table or the snapshot) that holds the visited entry:
     * its value there, or null if that tier does not hold it (or holds a delete). Not {@link #get}:
     * a newer tier may hold a newer value. For records written in one commit with the entry, and
     * never written again without deleting the entry in the same commit, it is that record's live
     * value at the cost of one lookup instead of one per tier.
     */
    public void scanWithTier(byte[] from, byte[] to, TierVisitor visitor) {
        lock.readLock().lock();
        try {
            checkOpen();
            View v = view;
            List<Iterator<Map.Entry<byte[], byte[]>>> sources = new ArrayList<>();
            List<java.util.function.Function<byte[], byte[]>> lookups = new ArrayList<>();
            sources.add(range(v.active, from, to));
            lookups.add(v.active.map::get);
            for (Table t : v.frozen) {
                sources.add(range(t, from, to));
                lookups.add(t.map::get);
            }
            for (Snapshot s : v.snapshots) {
                sources.add(s.range(from, to));
                lookups.add(s::get);
            }
            MergingIterator it = new MergingIterator(sources, true);
            int[] rank = {0};
            java.util.function.Function<byte[], byte[]> sameTier = key -> {
                byte[] value = lookups.get(rank[0]).apply(key);
                return value == null || value == Snapshot.TOMBSTONE ? null : value.clone();
            };
            while (it.hasNext()) {
                Map.Entry<byte[], byte[]> e = it.next();
                rank[0] = it.rank();
                if (!visitor.visit(e.getKey(), e.getValue(), sameTier)) {
                    return;
                }
            }
        } finally {
            lock.readLock().unlock();
        }
    }

    private static Iterator<Map.Entry<byte[], byte[]>> range(Table t, byte[] from, byte[] to) {
        return (to == null ? t.map.tailMap(from, true) : t.map.subMap(from, true, to, false)).entrySet().iterator();
    }

    @Override
    public long count() {
        long[] n = new long[1];
        scan(new byte[0], (k, v) -> n[0]++);
        return n[0];
    }

    @Override
    public long sizeBytes() {
        View v = view;
        long total = journal == null ? 0 : journal.size();
        for (Table t : v.frozen) {
            total += t.bytes[0];
        }
        for (Snapshot s : v.snapshots) {
            total += s.meta.bytes();
        }
        return total;
    }

    // ---- writes

    @Override
    public void commit(List<StoreWrite> writes) {
        synchronized (writeMutex) {
            checkOpen();
            List<StoreWrite> copy = List.copyOf(writes); // refuses a null write before anything is written
            if (copy.isEmpty()) {
                return;
            }
            // Bounded heap: when the flush thread is two segments behind, wait for it rather than let the journal tail grow.
            while (view.frozen.size() >= MAX_FROZEN && journal.size() >= 2 * options.flushBytes() && !flushFailed) {
                try {
                    writeMutex.wait(1_000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new StoreException("commit to " + dir + " interrupted while waiting for the journal to move into snapshots; nothing was written");
                }
                checkOpen();
            }
            long before = journal.size();
            journal.append(copy);
            bytesWritten[0] += journal.size() - before;
            lock.writeLock().lock();
            try {
                view.active.apply(copy);
            } finally {
                lock.writeLock().unlock();
            }
            if (journal.size() >= options.flushBytes() && view.frozen.size() < MAX_FROZEN) {
                rotate();
            }
        }
    }

    /** Starts a new journal segment and hands the current one's table to the flush thread. */
    private void rotate() {
        long gen = view.active.gen + 1;
        Path file = dir.resolve(Manifest.segmentName(gen));
        JournalFile next;
        try {
            Files.deleteIfExists(file); // left by a rotation that failed before
            next = JournalFile.create(file, options.sync(), options.maxRecordBytes());
            if (options.sync()) {
                Manifest.forceDirectory(dir);
            }
        } catch (IOException e) {
            // The commit is durable; the segment just grows until a rotation works.
            LOG.log(System.Logger.Level.WARNING, "cairn: cannot start journal segment " + file + ": " + e.getMessage(), e);
            return;
        }
        options.phases().accept("rotate:segment-created");
        journal.close();
        journal = next;
        lock.writeLock().lock();
        try {
            View v = view;
            List<Table> frozen = new ArrayList<>();
            frozen.add(v.active);
            frozen.addAll(v.frozen);
            view = new View(new Table(gen), List.copyOf(frozen), v.snapshots);
        } finally {
            lock.writeLock().unlock();
        }
        mover.flushSoon();
    }

    /**
     * Moves every full segment into a snapshot and runs the merges that are due, synchronously
     * (tests and benchmarks; the engine leaves it to the background threads).
     */
    public void checkpoint() {
        synchronized (writeMutex) {
            checkOpen();
            if (!view.active.map.isEmpty()) {
                rotate();
            }
        }
        mover.drain("checkpoint");
    }

    /** {@link #checkpoint}, then merges every snapshot into one without deletes (smallest footprint). */
    public void compact() {
        checkpoint();
        mover.mergeEverything();
    }

    /** Wakes commits waiting for the flush thread (it moved a table, failed, or the store closes). */
    void wakeWriters() {
        synchronized (writeMutex) {
            writeMutex.notifyAll();
        }
    }

    // ---- state

    /** Bytes written so far by this instance: {journal, snapshots} (for write amplification). */
    public long[] bytesWritten() {
        return bytesWritten.clone();
    }

    /** How many snapshot files are live. */
    public int snapshotCount() {
        return view.snapshots.size();
    }

    /** How many torn journal records were cut off when the store was opened (0 after a clean close). */
    public int tornTailsCut() {
        return tornTailsCut;
    }

    /** The store's directory, absolute. */
    public Path dir() {
        return dir;
    }

    @Override
    public void close() {
        synchronized (writeMutex) {
            if (closed || closing) {
                return;
            }
            closing = true; // a snapshot being written stops at its next record; its temp file is deleted
            writeMutex.notifyAll();
        }
        mover.stop();
        lock.writeLock().lock();
        try {
            closed = true;
            abandon();
        } finally {
            lock.writeLock().unlock();
        }
    }

    private void abandon() {
        closing = true;
        mover.stopNow();
        if (journal != null) {
            journal.close();
        }
        View v = view;
        if (v != null) {
            v.snapshots.forEach(Snapshot::close);
        }
    }

    private void checkOpen() {
        if (closed || closing) {
            throw new StoreException("local store " + dir + " is closed");
        }
    }
}
