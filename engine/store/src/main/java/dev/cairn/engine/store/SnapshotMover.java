package dev.cairn.engine.store;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import dev.cairn.engine.store.TieredLocalStore.Table;
import dev.cairn.engine.store.TieredLocalStore.View;

/**
 * The background move of a {@link TieredLocalStore}: one thread writes full journal segments'
 * tables to new snapshots, another merges snapshots of one level, so a long merge never holds up a
 * flush. Each step ends with a manifest replacement (under the store's {@code manifestLock}) and
 * only then deletes what the new manifest no longer names (ARCHITECTURE.md, "Durable store").
 */
final class SnapshotMover {

    private static final System.Logger LOG = System.getLogger(SnapshotMover.class.getName());

    private final TieredLocalStore store;
    private final ExecutorService flusher;
    private final ExecutorService merger;
    private final AtomicBoolean mergeQueued = new AtomicBoolean();

    SnapshotMover(TieredLocalStore store) {
        this.store = store;
        this.flusher = Executors.newSingleThreadExecutor(r -> daemon(r, "cairn-store-flush-" + store.dir.getFileName()));
        this.merger = Executors.newSingleThreadExecutor(r -> daemon(r, "cairn-store-merge-" + store.dir.getFileName()));
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /** Moves the waiting tables into snapshots soon. */
    void flushSoon() {
        flusher.execute(this::flushAll);
    }

    /** Waits until every waiting table is a snapshot and no merge is due. */
    void drain(String what) {
        await(flusher.submit(this::flushAll), what);
        await(merger.submit(this::mergeAll), what);
    }

    /** Merges every snapshot into one, without deletes. */
    void mergeEverything() {
        await(merger.submit(() -> {
            List<Snapshot> all = store.view.snapshots();
            if (all.size() > 1) {
                mergeRun(all);
            }
            return null;
        }), "compaction");
    }

    private void await(Future<?> work, String what) {
        try {
            work.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            throw new StoreException(what + " of " + store.dir + " failed: " + e.getCause(), e.getCause());
        }
    }

    /** After the store set {@code closing}: lets a snapshot being written stop at its next record, and waits. */
    void stop() {
        flusher.shutdown();
        merger.shutdown();
        try {
            if (!flusher.awaitTermination(60, TimeUnit.SECONDS) || !merger.awaitTermination(60, TimeUnit.SECONDS)) {
                LOG.log(System.Logger.Level.WARNING, "cairn: the store's background threads did not stop within 60 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    void stopNow() {
        flusher.shutdownNow();
        merger.shutdownNow();
    }


    void flushAll() {
        try {
            while (!store.closing) {
                View v = store.view;
                if (v.frozen().isEmpty()) {
                    break;
                }
                flush(v.frozen().get(v.frozen().size() - 1));
                store.flushFailed = false;
                store.wakeWriters();
                scheduleMerge();
            }
        } catch (CancellationException e) {
            // closing
        } catch (IOException | RuntimeException e) {
            // Nothing is lost: the journal segments stay until a snapshot covers them. Retried at the next rotation.
            store.flushFailed = true;
            store.wakeWriters();
            LOG.log(System.Logger.Level.WARNING, "cairn: moving the journal of " + store.dir + " into a snapshot failed: " + e.getMessage(), e);
        }
    }

    /** Queues one merge pass unless one is already waiting (each flush may make a level full). */
    void scheduleMerge() {
        if (mergeQueued.compareAndSet(false, true)) {
            try {
                merger.execute(this::mergeAll);
            } catch (RejectedExecutionException closed) {
                mergeQueued.set(false); // closing
            }
        }
    }

    void mergeAll() {
        mergeQueued.set(false);
        try {
            while (!store.closing && merge()) {
                // merge until no level holds fanout snapshots
            }
        } catch (CancellationException e) {
            // closing
        } catch (IOException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "cairn: merging the snapshots of " + store.dir + " failed (the store is unchanged): "
                    + e.getMessage(), e);
        }
    }

    private void flush(Table table) throws IOException {
        boolean bottom = store.manifest.snapshots().isEmpty(); // only this thread adds snapshots
        Iterator<Map.Entry<byte[], byte[]>> entries = table.map().entrySet().iterator();
        if (bottom) {
            entries = new MergingIterator(List.of(entries), true);
        }
        Manifest.Entry e = writeSnapshot(entries, "flush").withLevel(0); // the newest: level 0 whatever its size
        synchronized (store.manifestLock) {
            List<Manifest.Entry> snaps = new ArrayList<>();
            snaps.add(e);
            snaps.addAll(store.manifest.snapshots());
            Manifest next = new Manifest(table.gen() + 1, store.nextId.get(), snaps);
            next.write(store.dir, store.options.sync(), p -> store.options.phases().accept("flush:" + p));
            store.manifest = next;
            Snapshot s = new Snapshot(store.dir, e, true);
            store.lock.writeLock().lock();
            try {
                View v = store.view;
                List<Table> frozen = new ArrayList<>(v.frozen());
                frozen.removeIf(t -> t == table);
                List<Snapshot> live = new ArrayList<>();
                live.add(s);
                live.addAll(v.snapshots());
                store.view = new View(v.active(), List.copyOf(frozen), List.copyOf(live));
            } finally {
                store.lock.writeLock().unlock();
            }
        }
        Files.deleteIfExists(store.dir.resolve(Manifest.segmentName(table.gen())));
        store.options.phases().accept("flush:segment-deleted");
    }

    /** Merges one run of same-level snapshots, if there is one; false if there was nothing to merge. */
    private boolean merge() throws IOException {
        List<Snapshot> run = null;
        synchronized (store.manifestLock) {
            List<Snapshot> snaps = store.view.snapshots();
            for (int i = 0; i < snaps.size() && run == null; ) {
                int j = i;
                while (j < snaps.size() && snaps.get(j).meta.level() == snaps.get(i).meta.level()) {
                    j++;
                }
                if (j - i >= store.options.fanout()) {
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
    void mergeRun(List<Snapshot> run) throws IOException {
        boolean oldest = store.view.snapshots().get(store.view.snapshots().size() - 1) == run.get(run.size() - 1);
        List<Iterator<Map.Entry<byte[], byte[]>>> sources = new ArrayList<>();
        int runLevel = 0;
        for (Snapshot s : run) {
            sources.add(s.range(new byte[0], null));
            runLevel = Math.max(runLevel, s.meta.level());
        }
        Manifest.Entry e = writeSnapshot(new MergingIterator(sources, oldest), "merge");
        synchronized (store.manifestLock) {
            List<Snapshot> live = new ArrayList<>(store.view.snapshots());
            int from = live.indexOf(run.get(0));
            int to = from + run.size();
            if (from < 0 || !live.subList(from, to).equals(run)) {
                throw new IllegalStateException("the snapshots merged are no longer next to each other in " + store.dir);
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
            Manifest next = new Manifest(store.manifest.journalFrom(), store.nextId.get(), entries);
            next.write(store.dir, store.options.sync(), p -> store.options.phases().accept("merge:" + p));
            store.manifest = next;
            store.lock.writeLock().lock();
            try {
                live.subList(from, to).clear();
                live.add(from, new Snapshot(store.dir, e, true));
                store.view = new View(store.view.active(), store.view.frozen(), List.copyOf(live));
                run.forEach(Snapshot::close); // no reader is inside them: readers hold the read store.lock
            } finally {
                store.lock.writeLock().unlock();
            }
        }
        for (Snapshot s : run) {
            Files.deleteIfExists(s.file());
        }
        store.options.phases().accept("merge:old-deleted");
    }

    private Manifest.Entry writeSnapshot(Iterator<Map.Entry<byte[], byte[]>> entries, String kind) throws IOException {
        long id = store.nextId.getAndIncrement();
        Iterator<Map.Entry<byte[], byte[]>> cancellable = new Iterator<>() {
            @Override
            public boolean hasNext() {
                if (store.closing) {
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
            e = Snapshot.write(store.dir, id, cancellable, store.options.sync(), p -> store.options.phases().accept(kind + ":" + p));
        } catch (IOException | RuntimeException failure) {
            Files.deleteIfExists(store.dir.resolve(Manifest.snapshotName(id) + ".tmp"));
            throw failure;
        }
        synchronized (store.bytesWritten) {
            store.bytesWritten[1] += e.bytes();
        }
        return e;
    }

    /** Size level of a snapshot holding {@code bytes} of keys and values: 0 below fanout x flushBytes, +1 per factor fanout. */
    private int levelOf(long bytes) {
        long unit = store.options.flushBytes();
        int level = 0;
        for (long cap = unit * store.options.fanout(); bytes >= cap && level < 30; cap *= store.options.fanout()) {
            level++;
        }
        return level;
    }
}
