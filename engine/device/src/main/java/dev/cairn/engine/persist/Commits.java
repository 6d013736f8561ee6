package dev.cairn.engine.persist;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.section.StoragePolicy;
import dev.cairn.engine.store.LocalStore;
import dev.cairn.engine.store.StoreWrite;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * What the persistence thread writes for a {@link Persister}, and in which order: a batch of
 * queued records with its outbox entries (pushed while the commit forces them to disk), the
 * deletes of acknowledged entries (never ahead of their insert's commit), and the pages of server
 * changes, whose cursor never overtakes a queued record it covers. When to write is the write
 * queue's job (Persister). Runs on the persistence thread, under the persister's lock where the
 * queue's state is read or changed.
 */
final class Commits {

    private final Persister queue;
    private final LocalStore durable;
    private final LocalStore session;
    private final LongSupplier clockHighWater;
    private final Consumer<Throwable> onError;
    private final ScheduledThreadPoolExecutor executor;
    private final Object lock;

    private final ConcurrentSkipListMap<Long, Change> outbox = new ConcurrentSkipListMap<>();
    private long nextOutboxSeq = 1;
    private final java.util.concurrent.CopyOnWriteArrayList<Runnable> outboxListeners = new java.util.concurrent.CopyOnWriteArrayList<>();

    final RemotePages pages = new RemotePages();

    Commits(Persister queue, LocalStore durable, LocalStore session, LongSupplier clockHighWater, Consumer<Throwable> onError,
            ScheduledThreadPoolExecutor executor, Object lock) {
        this.queue = queue;
        this.durable = durable;
        this.session = session;
        this.clockHighWater = clockHighWater;
        this.onError = onError;
        this.executor = executor;
        this.lock = lock;
    }

    /** Loads the outbox from the durable tier (at open). */
    void load() {
        durable.scan(Records.prefix(Records.OUTBOX), (k, v) -> outbox.put(Records.outboxSeq(k), Records.readOutbox(v)));
        nextOutboxSeq = outbox.isEmpty() ? 1 : outbox.lastKey() + 1;
    }

    /** {@link Persister#recordRemotePage}: under the lock that merged the changes. */
    void recordRemotePage(List<Change> changes, List<StoragePolicy> policies, long cursor) {
        if (changes.isEmpty() && cursor < 0) {
            return;
        }
        synchronized (lock) {
            Map<String, Persister.Pending> flying = queue.inFlight;
            if (!queue.pending.isEmpty() || !flying.isEmpty()) {
                for (Change change : changes) {
                    String key = Persister.pendingKey(change);
                    Persister.Pending replaced = queue.pending.remove(key);
                    if (replaced != null && replaced.toOutbox()) {
                        queue.pendingOutbox--;
                    }
                    if (flying.containsKey(key)) {
                        queue.replacedInFlight.add(key);
                    }
                }
            }
            pages.add(new RemotePages.Page(changes, policies, cursor, cursor < 0 ? 0 : ++queue.cursorVersion));
        }
        try {
            executor.execute(this::commitPages);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            // closed: the pages' changes are in memory only, as any write after close
        }
    }

    Runnable onOutboxGrew(Runnable listener) {
        outboxListeners.add(listener);
        return () -> outboxListeners.remove(listener);
    }

    // ---- outbox

    NavigableMap<Long, Change> outbox(int limit) {
        NavigableMap<Long, Change> out = new java.util.TreeMap<>();
        for (Map.Entry<Long, Change> e : outbox.entrySet()) {
            if (out.size() >= limit) {
                break;
            }
            out.put(e.getKey(), e.getValue());
        }
        return out;
    }

    int size() {
        return outbox.size();
    }

    /** {@link Persister#acknowledge}: on the persistence thread, after the commit that inserted them. */
    CompletableFuture<Void> acknowledge(Collection<Long> seqs) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        if (executor.isShutdown()) {
            done.completeExceptionally(new IllegalStateException("engine is closed"));
            return done;
        }
        executor.execute(() -> {
            try {
                List<StoreWrite> deletes = new ArrayList<>(seqs.size());
                for (long seq : seqs) {
                    deletes.add(StoreWrite.delete(Records.outboxKey(seq)));
                }
                durable.commit(deletes);
                synchronized (lock) {
                    seqs.forEach(outbox::remove);
                }
                done.complete(null);
            } catch (Throwable e) {
                done.completeExceptionally(e);
            }
        });
        return done;
    }

    // ---- the persistence thread

    /**
     * Writes the queued pages: one commit of their records, the last cursor and the clock. If
     * records are queued that a saved cursor must not overtake (remote changes queued one by one,
     * local writes standing for a remote change, a queued cursor), the commit holds the records
     * only (a queued record of the same key is newer: a page drops older ones when it is queued),
     * and the cursor is queued like one recorded alone, unless a newer one is queued already.
     * Queued local records are never committed ahead of their turn, so writes stay durable in
     * the order they were made.
     */
    void commitPages() {
        if (pages.isEmpty()) {
            return; // an earlier task wrote them
        }
        RemotePages.Drained batch = pages.drain();
        boolean ordered;
        synchronized (lock) {
            ordered = queue.pending.containsKey(Persister.CURSOR_KEY) || queue.pending.values().stream().anyMatch(p -> p.remote());
        }
        StoreWrite cursorWrite = batch.cursorWrite();
        List<StoreWrite> toDurable = batch.durable();
        try {
            if (cursorWrite != null && !ordered) {
                toDurable.add(cursorWrite);
            }
            toDurable.add(StoreWrite.put(Records.metaKey("clock"), ByteBuffer.allocate(8).putLong(clockHighWater.getAsLong()).array()));
            durable.commit(toDurable);
            session.commit(batch.session());
        } catch (RuntimeException e) {
            // Queued again record by record, with their cursor: the ordinary retry takes them. A
            // record queued since for the same key is newer and stays.
            synchronized (lock) {
                for (RemotePages.Page page : batch.pages()) {
                    for (int i = 0; i < page.changes().size(); i++) {
                        if (!queue.pending.containsKey(Persister.pendingKey(page.changes().get(i)))) {
                            queue.recordRemote(page.changes().get(i), page.policies().get(i));
                        }
                    }
                    queuePageCursor(page.cursor(), page.cursorVersion());
                }
            }
            onError.accept(e);
            return;
        } finally {
            pages.done(batch);
        }
        if (ordered) {
            // The cursor waits in the queue, as one recorded alone would, and is committed with
            // (or after) the records it must not overtake, at its deadline or the next save.
            queuePageCursor(batch.cursor(), batch.cursorVersion());
        }
    }

    /** Queues a page's cursor (if it has one) unless a newer cursor (a resync's) is queued already. */
    private void queuePageCursor(long cursor, long version) {
        synchronized (lock) {
            if (cursor >= 0 && (!queue.pending.containsKey(Persister.CURSOR_KEY) || version > queue.pendingCursorVersion)) {
                queue.pendingCursorVersion = version;
                queue.enqueue(Persister.CURSOR_KEY, null, Persister.cursorRecord(cursor), StoragePolicy.DEFAULT, false, false, false);
            }
        }
    }

    private void tellOutboxListeners() {
        for (Runnable listener : outboxListeners) {
            try {
                listener.run();
            } catch (RuntimeException e) {
                onError.accept(e);
            }
        }
    }

    /** Commits a batch to its tiers. */
    void write(Collection<Persister.Pending> batch) {
        List<StoreWrite> toDurable = new ArrayList<>(batch.size() * 2 + 1);
        List<StoreWrite> toSession = new ArrayList<>();
        // Purges go first: a record the batch rewrites (a map key written after a clear) must survive them.
        List<StoreWrite> purgeDurable = new ArrayList<>();
        List<StoreWrite> purgeSession = new ArrayList<>();
        Map<Long, Change> newOutbox = new java.util.TreeMap<>(); // in seq order, so readers never see a later seq first
        List<Long> supersededOutbox = new ArrayList<>();
        long seq = nextOutboxSeq;
        // Outbox seqs follow the stamps (write order), so the server gets changes in the order they were made.
        List<Persister.Pending> ordered = new ArrayList<>(batch);
        ordered.sort(java.util.Comparator.comparing((Persister.Pending p) -> p.change() == null ? null : p.change().stamp(),
                java.util.Comparator.nullsFirst(java.util.Comparator.naturalOrder())));
        for (Persister.Pending p : ordered) {
            if (p.meta() != null) {
                toDurable.add(p.meta());
                continue;
            }
            if (p.outboxOnly()) {
                newOutbox.put(seq, p.change());
                toDurable.add(StoreWrite.put(Records.outboxKey(seq), Records.outboxValue(p.change())));
                seq++;
                continue;
            }
            StoreWrite record = Records.write(p.change());
            boolean toDurableTier = p.policy().persistTo().durable();
            boolean toSessionTier = p.policy().persistTo().session();
            if (p.change() instanceof Change.Clear clear) {
                // A tier that held entries the clear hides keeps the watermark too, so they stay hidden after a restart.
                toDurableTier |= purgeHidden(durable, clear, purgeDurable);
                toSessionTier |= purgeHidden(session, clear, purgeSession);
                if (p.toOutbox() || p.remote()) {
                    // The server gets (or has) the clear: unsent writes it covers would only be dropped there.
                    for (Map.Entry<Long, Change> e : outbox.entrySet()) {
                        if (covers(clear, e.getValue())) {
                            supersededOutbox.add(e.getKey());
                            purgeDurable.add(StoreWrite.delete(Records.outboxKey(e.getKey())));
                        }
                    }
                }
            }
            if (toDurableTier) {
                toDurable.add(record);
            }
            if (toSessionTier) {
                toSession.add(record);
            }
            if (p.toOutbox()) {
                newOutbox.put(seq, p.change());
                toDurable.add(StoreWrite.put(Records.outboxKey(seq), Records.outboxValue(p.change())));
                seq++;
            }
        }
        toDurable.add(StoreWrite.put(Records.metaKey("clock"), ByteBuffer.allocate(8).putLong(clockHighWater.getAsLong()).array()));
        purgeDurable.addAll(toDurable);
        purgeSession.addAll(toSession);
        // Seqs are never given twice, even if this commit fails: an acknowledgement of a pushed
        // seq must never delete a later entry.
        nextOutboxSeq = seq;
        if (!newOutbox.isEmpty()) {
            // Pushed while the commit below forces them to disk (issue 13, step 3). Their removal
            // after an ack is a task of this same thread (acknowledge), so it can only follow this
            // commit: a delete never overtakes its insert, and an ack never makes the change itself
            // less durable here.
            synchronized (lock) {
                outbox.putAll(newOutbox);
                queue.inFlightOutbox = 0;
            }
            tellOutboxListeners();
        }
        try {
            durable.commit(purgeDurable);
        } catch (RuntimeException e) {
            // Not saved: the batch is queued again (under new seqs). A push of these already on its
            // way is harmless: the server keeps one copy per stamp.
            synchronized (lock) {
                newOutbox.keySet().forEach(outbox::remove);
            }
            throw e;
        }
        supersededOutbox.forEach(outbox::remove);
        session.commit(purgeSession);
    }

    /**
     * Deletes the stored records a clear hides (a log stream's entries, or a whole map section's
     * values and tombstones), so clearing frees space; returns true if there were any.
     */
    private static boolean purgeHidden(LocalStore store, Change.Clear clear, List<StoreWrite> writes) {
        byte[] prefix = clear.isWholeSection()
                ? Records.mapKey(clear.section(), "")
                : Records.logStreamPrefix(clear.section(), clear.stream());
        int before = writes.size();
        store.scan(prefix, (k, v) -> {
            Stamp stamp = Records.read(k, v).stamp();
            if (stamp.compareTo(clear.stamp()) <= 0) {
                writes.add(StoreWrite.delete(k));
            }
        });
        return writes.size() > before;
    }

    /** True if {@code change} is hidden by {@code clear} (a write of its stream or map section, or an older clear of it). */
    private static boolean covers(Change.Clear clear, Change change) {
        if (!change.section().equals(clear.section()) || change.stamp().compareTo(clear.stamp()) > 0) {
            return false;
        }
        if (clear.isWholeSection()) {
            return change instanceof Change.Put || (change instanceof Change.Clear c && c.isWholeSection());
        }
        return change.target().equals(clear.stream()) && !(change instanceof Change.Put);
    }
}
