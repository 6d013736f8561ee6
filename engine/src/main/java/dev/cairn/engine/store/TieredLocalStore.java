package dev.cairn.engine.store;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * The durable {@link LocalStore}: a write-ahead journal for commits and immutable MapDB snapshots
 * for the state, in one directory.
 *
 * <p><b>Write path.</b> A commit is appended to the active journal segment and forced (fdatasync)
 * before it returns, exactly as in {@link JournalLocalStore}, then applied to the segment's sorted
 * in-memory table. When a segment passes {@link Options#flushBytes} a new one is started and a
 * background thread writes the old one's table to a new snapshot ({@link Snapshot}: bulk-loaded,
 * closed, forced, renamed), then replaces the {@link Manifest} (which names the live snapshots and
 * the first journal segment they do not cover), and only then deletes the segment.
 *
 * <p><b>Tiers.</b> Each snapshot has a level, never decreasing from the newest to the oldest: a
 * flush makes a level-0 snapshot; when {@code fanout} snapshots of one level exist (they are next
 * to each other) they are merged into one whose level is its size level ({@code
 * floor(log_fanout(bytes / flushBytes))}, bytes = keys and values held), but at least one more
 * than theirs and at most the next older one's. So a record is rewritten about once per level:
 * write amplification grows with the log of the data size, not with it (see ARCHITECTURE.md).
 * Deletes are kept in snapshots as
 * tombstones until a merge reaches the oldest snapshot.
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
     * @param phases     told each step of the background move (crash tests kill the process there)
     */
    public record Options(long flushBytes, int fanout, boolean sync, int maxRecordBytes, Consumer<String> phases) {
        public Options {
            if (flushBytes < 1 || fanout < 2 || maxRecordBytes < 64) {
                throw new IllegalArgumentException("bad store options: flushBytes " + flushBytes + ", fanout " + fanout);
            }
        }

        public static Options defaults() {
            return new Options(4L << 20, 4, true, JournalLocalStore.MAX_RECORD_BYTES, p -> { });
        }

        public Options withFlushBytes(long bytes) {
            return new Options(bytes, fanout, sync, maxRecordBytes, phases);
        }

        public Options withFanout(int n) {
            return new Options(flushBytes, n, sync, maxRecordBytes, phases);
        }

        public Options withSync(boolean on) {
            return new Options(flushBytes, fanout, on, maxRecordBytes, phases);
        }

        public Options withPhases(Consumer<String> listener) {
            return new Options(flushBytes, fanout, sync, maxRecordBytes, listener);
        }
    }

    /** The sorted table of one journal segment; {@link Snapshot#TOMBSTONE} marks a delete. */
    private record Table(long gen, ConcurrentSkipListMap<byte[], byte[]> map, long[] bytes) {
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
    private record View(Table active, List<Table> frozen, List<Snapshot> snapshots) {
    }

    private final Path dir;
    private final Options options;
    private final Object writeMutex = new Object();
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    /** Moves full segments into snapshots; a second thread merges, so a long merge never holds up a flush. */
    private final ExecutorService flusher;
    private final ExecutorService merger;
    /** Orders manifest replacements (and the view changes that go with them) of the two threads. */
    private final Object manifestLock = new Object();
    private final java.util.concurrent.atomic.AtomicLong nextId = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicBoolean mergeQueued = new java.util.concurrent.atomic.AtomicBoolean();
    private volatile View view;
    private JournalFile journal;
    /** The last manifest made durable. */
    private volatile Manifest manifest;
    /** The last flush failed: commits do not wait for the flush thread (the journal keeps everything). */
    private volatile boolean flushFailed;
    private volatile boolean closing;
    private volatile boolean closed;
    private int tornTailsCut;
    private final long[] bytesWritten = new long[2]; // [0] journal, [1] snapshots

    private TieredLocalStore(Path dir, Options options) {
        this.dir = dir;
        this.options = options;
        this.flusher = Executors.newSingleThreadExecutor(r -> daemon(r, "cairn-store-flush-" + dir.getFileName()));
        this.merger = Executors.newSingleThreadExecutor(r -> daemon(r, "cairn-store-merge-" + dir.getFileName()));
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

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
            flusher.execute(this::flushAll);
        } else {
            scheduleMerge();
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
        flusher.execute(this::flushAll);
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
        await(flusher.submit(this::flushAll), "checkpoint");
        await(merger.submit(this::mergeAll), "checkpoint");
    }

    /** {@link #checkpoint}, then merges every snapshot into one without deletes (smallest footprint). */
    public void compact() {
        checkpoint();
        await(merger.submit(() -> {
            List<Snapshot> all = view.snapshots;
            if (all.size() > 1) {
                mergeRun(all);
            }
            return null;
        }), "compaction");
    }

    private void await(java.util.concurrent.Future<?> work, String what) {
        try {
            work.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            throw new StoreException(what + " of " + dir + " failed: " + e.getCause(), e.getCause());
        }
    }

    // ---- background: journal -> snapshots (flush thread), merges (merge thread)

    private void flushAll() {
        try {
            while (!closing) {
                View v = view;
                if (v.frozen.isEmpty()) {
                    break;
                }
                flush(v.frozen.get(v.frozen.size() - 1));
                flushFailed = false;
                wakeWriters();
                scheduleMerge();
            }
        } catch (CancellationException e) {
            // closing
        } catch (IOException | RuntimeException e) {
            // Nothing is lost: the journal segments stay until a snapshot covers them. Retried at the next rotation.
            flushFailed = true;
            wakeWriters();
            LOG.log(System.Logger.Level.WARNING, "cairn: moving the journal of " + dir + " into a snapshot failed: " + e.getMessage(), e);
        }
    }

    /** Queues one merge pass unless one is already waiting (each flush may make a level full). */
    private void scheduleMerge() {
        if (mergeQueued.compareAndSet(false, true)) {
            try {
                merger.execute(this::mergeAll);
            } catch (java.util.concurrent.RejectedExecutionException closed) {
                mergeQueued.set(false); // closing
            }
        }
    }

    private void mergeAll() {
        mergeQueued.set(false);
        try {
            while (!closing && merge()) {
                // merge until no level holds fanout snapshots
            }
        } catch (CancellationException e) {
            // closing
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "cairn: merging the snapshots of " + dir + " failed (the store is unchanged): "
                    + e.getMessage(), e);
        }
    }

    private void wakeWriters() {
        synchronized (writeMutex) {
            writeMutex.notifyAll();
        }
    }

    private void flush(Table table) throws IOException {
        boolean bottom = manifest.snapshots().isEmpty(); // only this thread adds snapshots
        Iterator<Map.Entry<byte[], byte[]>> entries = table.map.entrySet().iterator();
        if (bottom) {
            entries = new MergingIterator(List.of(entries), true);
        }
        Manifest.Entry e = writeSnapshot(entries, "flush").withLevel(0); // the newest: level 0 whatever its size
        synchronized (manifestLock) {
            List<Manifest.Entry> snaps = new ArrayList<>();
            snaps.add(e);
            snaps.addAll(manifest.snapshots());
            Manifest next = new Manifest(table.gen + 1, nextId.get(), snaps);
            next.write(dir, options.sync(), p -> options.phases().accept("flush:" + p));
            manifest = next;
            Snapshot s = new Snapshot(dir, e, true);
            lock.writeLock().lock();
            try {
                View v = view;
                List<Table> frozen = new ArrayList<>(v.frozen);
                frozen.removeIf(t -> t == table);
                List<Snapshot> live = new ArrayList<>();
                live.add(s);
                live.addAll(v.snapshots);
                view = new View(v.active, List.copyOf(frozen), List.copyOf(live));
            } finally {
                lock.writeLock().unlock();
            }
        }
        Files.deleteIfExists(dir.resolve(Manifest.segmentName(table.gen)));
        options.phases().accept("flush:segment-deleted");
    }

    /** Merges one run of same-level snapshots, if there is one; false if there was nothing to merge. */
    private boolean merge() throws IOException {
        List<Snapshot> run = null;
        synchronized (manifestLock) {
            List<Snapshot> snaps = view.snapshots;
            for (int i = 0; i < snaps.size() && run == null; ) {
                int j = i;
                while (j < snaps.size() && snaps.get(j).meta.level() == snaps.get(i).meta.level()) {
                    j++;
                }
                if (j - i >= options.fanout()) {
                    run = List.copyOf(snaps.subList(i, j));
                }
                i = j;
            }
        }
        if (run == null) {
            return false;
        }
        mergeRun(run);
        return true;
    }

    /**
     * Merges {@code run}, snapshots next to each other in age (newest first), into one. Flushes go
     * on meanwhile; they only add newer snapshots, so the run is still in one piece at the end.
     */
    private void mergeRun(List<Snapshot> run) throws IOException {
        boolean oldest = view.snapshots.get(view.snapshots.size() - 1) == run.get(run.size() - 1);
        List<Iterator<Map.Entry<byte[], byte[]>>> sources = new ArrayList<>();
        int runLevel = 0;
        for (Snapshot s : run) {
            sources.add(s.range(new byte[0], null));
            runLevel = Math.max(runLevel, s.meta.level());
        }
        Manifest.Entry e = writeSnapshot(new MergingIterator(sources, oldest), "merge");
        synchronized (manifestLock) {
            List<Snapshot> live = new ArrayList<>(view.snapshots);
            int from = live.indexOf(run.get(0));
            int to = from + run.size();
            if (from < 0 || !live.subList(from, to).equals(run)) {
                throw new IllegalStateException("the snapshots merged are no longer next to each other in " + dir);
            }
            // Levels never decrease from newest to oldest, so the snapshots of one level stay next to each other. The
            // result climbs at least one level (overwritten data that stays small must not be merged again and again
            // with each new small snapshot) and at most to the next older one's, which it then joins.
            int older = to < live.size() ? live.get(to).meta.level() : Integer.MAX_VALUE;
            e = e.withLevel(Math.min(Math.max(levelOf(e.payload()), runLevel + 1), older));
            List<Manifest.Entry> entries = new ArrayList<>();
            for (Snapshot s : live.subList(0, from)) {
                entries.add(s.meta);
            }
            entries.add(e);
            for (Snapshot s : live.subList(to, live.size())) {
                entries.add(s.meta);
            }
            Manifest next = new Manifest(manifest.journalFrom(), nextId.get(), entries);
            next.write(dir, options.sync(), p -> options.phases().accept("merge:" + p));
            manifest = next;
            lock.writeLock().lock();
            try {
                live.subList(from, to).clear();
                live.add(from, new Snapshot(dir, e, true));
                view = new View(view.active, view.frozen, List.copyOf(live));
                run.forEach(Snapshot::close); // no reader is inside them: readers hold the read lock
            } finally {
                lock.writeLock().unlock();
            }
        }
        for (Snapshot s : run) {
            Files.deleteIfExists(s.file());
        }
        options.phases().accept("merge:old-deleted");
    }

    private Manifest.Entry writeSnapshot(Iterator<Map.Entry<byte[], byte[]>> entries, String kind) throws IOException {
        long id = nextId.getAndIncrement();
        Iterator<Map.Entry<byte[], byte[]>> cancellable = new Iterator<>() {
            @Override
            public boolean hasNext() {
                if (closing) {
                    throw new CancellationException();
                }
                return entries.hasNext();
            }

            @Override
            public Map.Entry<byte[], byte[]> next() {
                return entries.next();
            }
        };
        Manifest.Entry e;
        try {
            e = Snapshot.write(dir, id, cancellable, options.sync(), p -> options.phases().accept(kind + ":" + p));
        } catch (IOException | RuntimeException failure) {
            Files.deleteIfExists(dir.resolve(Manifest.snapshotName(id) + ".tmp"));
            throw failure;
        }
        synchronized (bytesWritten) {
            bytesWritten[1] += e.bytes();
        }
        return e;
    }

    /** Size level of a snapshot holding {@code bytes} of keys and values: 0 below fanout x flushBytes, +1 per factor fanout. */
    private int levelOf(long bytes) {
        long unit = options.flushBytes();
        int level = 0;
        for (long cap = unit * options.fanout(); bytes >= cap && level < 30; cap *= options.fanout()) {
            level++;
        }
        return level;
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

    public int tornTailsCut() {
        return tornTailsCut;
    }

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
        flusher.shutdown();
        merger.shutdown();
        try {
            if (!flusher.awaitTermination(60, TimeUnit.SECONDS) || !merger.awaitTermination(60, TimeUnit.SECONDS)) {
                LOG.log(System.Logger.Level.WARNING, "cairn: the store's background threads did not stop within 60 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
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
        flusher.shutdownNow();
        merger.shutdownNow();
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
