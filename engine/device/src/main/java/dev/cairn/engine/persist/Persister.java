package dev.cairn.engine.persist;

import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.section.StoragePolicy;
import dev.cairn.engine.store.LocalStore;
import dev.cairn.engine.store.StoreWrite;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Collection;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.function.Predicate;

/**
 * Moves changes from memory to the session and durable tiers, and owns the outbox.
 *
 * <p>Writes land in memory first (the caller's {@code ReplicaState}); {@link #record} queues the
 * change's record here, coalescing repeated writes of one key. A single persistence thread
 * commits queued records when their {@link StoragePolicy} says so, or at once on {@link #flush}.
 * A change that must reach the server gets an outbox entry <b>in the same durable commit</b> as
 * its state record, so a crash can never keep one without the other.
 *
 * <p>This class is the write queue: when each queued record is saved, on its key's policy (save
 * delays, drafts, deadlines, retries). What each commit writes and in which order (outbox seqs,
 * pushes while a commit is forced, acknowledgements, pages of server changes and their cursor) is
 * the job of the package's {@code Commits}.
 *
 * <p>Thread-safety: all public methods are thread-safe; store I/O happens only on the persistence
 * thread, never under the caller's locks.
 */
public final class Persister implements AutoCloseable {

    /** Retry delay after a failed commit (the records stay queued). */
    private static final long RETRY_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final LocalStore durable;
    private final Consumer<Throwable> onError;
    private final ScheduledThreadPoolExecutor executor;

    private final Object lock = new Object();
    final HashMap<String, Pending> pending = new HashMap<>();
    volatile Map<String, Pending> inFlight = Map.of();
    /**
     * Outbox records in {@link #pending} and {@link #inFlight}, kept as they change: the sync
     * client asks for the count on every status update, and counting by iteration made a large
     * catch-up or burst quadratic (W3 profile, BENCHMARKS.md). Guarded by {@link #lock}.
     */
    int pendingOutbox;
    int inFlightOutbox;
    private long scheduledWakeup = Long.MAX_VALUE;

    private volatile boolean urgentOutbox;

    /**
     * A queued record: a change's state record (with {@code change}), or engine metadata
     * ({@code meta}, e.g. the sync cursor). {@code remote} marks changes received from the server;
     * the cursor is only ever committed together with every remote change queued before it.
     * {@code outboxOnly} marks a change that goes to the server without touching this device's
     * state records (a privacy switch's server-side clear, see {@link #recordOutboxOnly}).
     */
    record Pending(Change change, StoreWrite meta, StoragePolicy policy, boolean toOutbox, boolean remote,
                   long firstNanos, long deadlineNanos, boolean outboxOnly, boolean held) {

        /**
         * Queued again after a failed commit. An outbox change may have been pushed meanwhile, and
         * the cursor may come to cover the server's copy: the cursor must then wait for this record.
         */
        Pending retry(long deadline) {
            return new Pending(change, meta, policy, toOutbox, remote || toOutbox, firstNanos, deadline, outboxOnly, held);
        }
    }

    static final String CURSOR_KEY = "x\u0000cursor";

    /** Orders cursors recorded by pages and by {@link #recordCursor} (which may move it back). Guarded by {@link #lock}. */
    long cursorVersion;
    long pendingCursorVersion;
    /** Keys of in-flight records a queued page replaced: a failed commit must not queue them again. Guarded by {@link #lock}. */
    final java.util.HashSet<String> replacedInFlight = new java.util.HashSet<>();

    /** What each commit writes, and in which order: the outbox, acknowledgements, server pages. */
    private final Commits commits;

    /**
     * A persister over the durable and session stores, with its own persistence thread.
     * {@code clockHighWater} is written with every commit, so a restart never stamps behind a
     * saved change; {@code onError} hears failures no caller is waiting for.
     */
    public Persister(LocalStore durable, LocalStore session, LongSupplier clockHighWater, Consumer<Throwable> onError) {
        this.durable = durable;
        this.onError = onError;
        this.executor = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "cairn-persist");
            t.setDaemon(true);
            return t;
        });
        executor.setRemoveOnCancelPolicy(true);
        // close() flushes everything itself; a pending wake-up (up to saveDelay away) must not keep
        // the executor, and so close(), waiting after shutdown.
        executor.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        this.commits = new Commits(this, durable, session, clockHighWater, onError, executor, lock);
    }

    /**
     * Reads the durable tier: every stored state record goes to {@code apply}, the outbox is loaded,
     * and the persisted clock high-water mark is returned (0 for a new store).
     */
    public long load(Consumer<Change> apply) {
        durable.scan(Records.prefix(Records.MAP), (k, v) -> apply.accept(Records.read(k, v)));
        durable.scan(Records.prefix(Records.WATERMARK), (k, v) -> apply.accept(Records.read(k, v)));
        durable.scan(Records.prefix(Records.LOG), (k, v) -> apply.accept(Records.read(k, v)));
        commits.load();
        byte[] clock = durable.get(Records.metaKey("clock"));
        return clock == null ? 0 : ByteBuffer.wrap(clock).getLong();
    }

    /** Reads an engine metadata value (e.g. the replica id), or null. */
    public String meta(String name) {
        byte[] v = durable.get(Records.metaKey(name));
        return v == null ? null : new String(v, StandardCharsets.UTF_8);
    }

    /** Writes engine metadata in its own durable commit. */
    public void putMeta(String name, String value) {
        durable.commit(List.of(StoreWrite.put(Records.metaKey(name), Records.utf8(value))));
    }

    /**
     * Queues engine metadata for the persistence thread (after the engine has opened, when the
     * store may be written only from that thread); completes when it is durable.
     */
    public CompletableFuture<Void> queueMeta(String name, String value) {
        StoreWrite meta = StoreWrite.put(Records.metaKey(name), Records.utf8(value));
        enqueue("x\u0000meta\u0000" + name, null, meta, StoragePolicy.DEFAULT, false, false, false);
        return flush(p -> p.meta == meta);
    }

    /**
     * Deletes the stored record of a change forgotten in memory (a refused space change rolled
     * back, {@link dev.cairn.engine.crdt.LwwMap#forget}); it replaces a queued record of that key.
     */
    public void forget(Change change) {
        byte[] key;
        if (change instanceof Change.Put put) {
            key = Records.mapKey(put.section(), put.key());
        } else if (change instanceof Change.Append a) {
            key = Records.logKey(a.section(), a.stream(), a.stamp());
        } else {
            return;
        }
        enqueue(pendingKey(change), null, StoreWrite.delete(key), StoragePolicy.DEFAULT, false, false, false);
    }

    /** The key under which a change's record is queued; repeated writes of one map key share it. */
    public static String pendingKey(Change change) {
        if (change instanceof Change.Put put) {
            return pendingKey(put.section(), put.key());
        } else if (change instanceof Change.Append a) {
            return "l\u0000" + a.section() + '\u0000' + a.stream() + '\u0000' + a.stamp();
        }
        return "w\u0000" + change.section() + '\u0000' + change.target();
    }

    /** {@link #pendingKey(Change)} of a map key. */
    public static String pendingKey(String section, String key) {
        return "m\u0000" + section + '\u0000' + key;
    }

    /**
     * Queues the record of a change that has just won in memory. {@code toOutbox} adds it to the
     * outbox when it is committed (local changes of syncing keys, and imports).
     */
    public void record(Change change, StoragePolicy policy, boolean toOutbox) {
        record(change, policy, toOutbox, false);
    }

    /**
     * {@link #record(Change, StoragePolicy, boolean)} for a key whose app asked for a save delay:
     * it reaches the outbox (and the server) only when the user pauses, online too, at the latest
     * {@link StoragePolicy#MAX_PUSH_WAIT_FACTOR} delays after the first write of a burst. Other
     * writes are committed at once while a sync client is connected.
     */
    public void recordHeld(Change change, StoragePolicy policy) {
        if (policy.saveDelay().isZero() || !policy.autoSave()) {
            record(change, policy, true, false);
            return;
        }
        enqueue(pendingKey(change), change, null, policy, true, false, true);
    }

    /**
     * Queues a change received from the server: saved to its tiers (whatever the key's
     * autoSave), never put in the outbox.
     */
    public void recordRemote(Change change, StoragePolicy policy) {
        record(change, policy.withAutoSave(true), false, true);
    }

    /**
     * Queues the sync cursor. It is committed only together with (or after) every remote change
     * queued before it, so a persisted cursor never claims changes that were not saved.
     */
    public void recordCursor(long cursor) {
        StoreWrite meta = cursorRecord(cursor);
        synchronized (lock) {
            pendingCursorVersion = ++cursorVersion;
            enqueue(CURSOR_KEY, null, meta, StoragePolicy.DEFAULT, false, false, false);
        }
    }

    /**
     * Queues a page of server changes that won in memory ({@code policies} in the same order; no
     * clears: those take {@link #recordRemote}) and the cursor that covers it ({@code cursor < 0}:
     * none), to be written by one durable commit. Call it under the lock that merged the changes,
     * so a queued record of an older write of the same key is dropped here (the page's is newer)
     * and a later local write is queued after the page.
     */
    public void recordRemotePage(List<Change> changes, List<StoragePolicy> policies, long cursor) {
        if (changes.isEmpty() && cursor < 0) {
            return;
        }
        commits.recordRemotePage(changes, policies, cursor);
    }

    private void record(Change change, StoragePolicy policy, boolean toOutbox, boolean remote) {
        if (!policy.persistTo().durable() && !policy.persistTo().session() && !toOutbox) {
            return; // memory only: nothing to save
        }
        enqueue(pendingKey(change), change, null, policy, toOutbox, remote, false);
    }

    void enqueue(String key, Change change, StoreWrite meta, StoragePolicy policy, boolean toOutbox, boolean remote, boolean held) {
        long now = System.nanoTime();
        synchronized (lock) {
            Pending previous = pending.get(key);
            long first = previous == null ? now : previous.firstNanos;
            long delay = policy.saveDelay().toNanos();
            long deadline;
            if (!policy.autoSave()) {
                deadline = Long.MAX_VALUE; // a draft: saved, and so pushed, only by an explicit save, online too
            } else if (held) {
                // one push (and one server history version) per pause, not per keystroke
                deadline = policy.debounce() ? Math.min(now + delay, first + StoragePolicy.MAX_PUSH_WAIT_FACTOR * delay) : first + delay;
            } else if (toOutbox && urgentOutbox) {
                deadline = now; // connected: the server is waiting for it
            } else if (policy.debounce()) {
                deadline = Math.min(now + delay, first + StoragePolicy.MAX_WAIT_FACTOR * delay);
            } else {
                deadline = first + delay;
            }
            // A local write that replaces a queued remote change still carries it: the cursor
            // that covers the remote change must be committed with (or after) this record.
            boolean coversRemote = remote || (previous != null && previous.remote);
            if (change instanceof Change.Clear clear) {
                // A dropped remote change is covered by the clear: the cursor waits for the clear's record.
                coversRemote |= dropHidden(clear);
            }
            Pending replaced = pending.put(key, new Pending(change, meta, policy, toOutbox, coversRemote, first, deadline, false, held));
            pendingOutbox += (toOutbox ? 1 : 0) - (replaced != null && replaced.toOutbox ? 1 : 0);
            if (deadline < scheduledWakeup) {
                scheduledWakeup = deadline;
                executor.schedule(this::flushDue, Math.max(0, deadline - now), TimeUnit.NANOSECONDS);
            }
        }
    }

    /**
     * Queues a change for the server only: it enters the outbox at once (durably), but this
     * device's state records are neither written nor purged by it. Used when a privacy switch
     * deletes the server's copy of a section while this device keeps its own.
     */
    public CompletableFuture<Void> recordOutboxOnly(Change change) {
        long now = System.nanoTime();
        synchronized (lock) {
            Pending replaced = pending.put("o\u0000" + pendingKey(change) + '\u0000' + change.stamp(),
                    new Pending(change, null, StoragePolicy.DEFAULT, true, false, now, now, true, false));
            pendingOutbox += 1 - (replaced != null && replaced.toOutbox ? 1 : 0);
        }
        return flush(p -> p.outboxOnly);
    }

    /**
     * A remote change lost in memory to a newer local write that is still queued: that queued
     * record now stands for the remote change too, so the cursor must not be saved without it.
     */
    public void coverRemote(Change change) {
        synchronized (lock) {
            if (pending.isEmpty()) {
                return;
            }
            String key = pendingKey(change);
            Pending p = pending.get(key);
            if (p != null && !p.remote) {
                pending.put(key, new Pending(p.change, p.meta, p.policy, p.toOutbox, true, p.firstNanos, p.deadlineNanos, p.outboxOnly, p.held));
            }
        }
    }

    /**
     * While true (a sync client is connected), syncing changes are committed at once so they can be
     * pushed; not the drafts (autoSave off) nor the writes held for a save delay.
     */
    public void setUrgentOutbox(boolean urgent) {
        this.urgentOutbox = urgent;
    }

    /**
     * Called on the persistence thread when a commit adds outbox entries, just before it forces
     * them to disk, so they can be pushed in parallel with the local commit.
     */
    public Runnable onOutboxGrew(Runnable listener) {
        return commits.onOutboxGrew(listener);
    }

    /** The persisted sync cursor (0 if none). */
    public long storedCursor() {
        byte[] v = durable.get(Records.metaKey("cursor"));
        return v == null ? 0 : ByteBuffer.wrap(v).getLong();
    }

    /** True if the key's latest write is not yet committed to its tiers. */
    public boolean isDirty(String pendingKey) {
        synchronized (lock) {
            return pending.containsKey(pendingKey) || inFlight.containsKey(pendingKey);
        }
    }

    /** True if the key's latest write is being committed right now. */
    public boolean isSaving(String pendingKey) {
        return inFlight.containsKey(pendingKey);
    }

    /**
     * {@link #isDirty(String)}, with {@code fields}: also true if a field entry of the key's typed
     * value ({@code key#...}) is not yet committed.
     */
    public boolean isDirty(String pendingKey, boolean fields) {
        synchronized (lock) {
            return isDirty(pendingKey) || (fields && (anyField(pending.keySet(), pendingKey) || anyField(inFlight.keySet(), pendingKey)));
        }
    }

    /** {@link #isSaving(String)}, with {@code fields}: also for the key's field entries. */
    public boolean isSaving(String pendingKey, boolean fields) {
        return isSaving(pendingKey) || (fields && anyField(inFlight.keySet(), pendingKey));
    }

    /** {@link #flushWith(String)}, with {@code fields}: also the key's field entries. */
    public CompletableFuture<Void> flushWith(String pendingKey, boolean fields) {
        String prefix = pendingKey + '#';
        return flush(p -> p.policy.autoSave() || (p.change != null
                && (pendingKey(p.change).equals(pendingKey) || (fields && pendingKey(p.change).startsWith(prefix)))));
    }

    private static boolean anyField(java.util.Set<String> keys, String pendingKey) {
        String prefix = pendingKey + '#';
        for (String k : keys) {
            if (k.startsWith(prefix)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Gives the queued records of {@code changes} (one local write of several keys) the earliest of
     * their deadlines, so they are committed, and pushed, together.
     */
    public void alignDeadlines(java.util.List<Change> changes) {
        if (changes.size() < 2) {
            return;
        }
        synchronized (lock) {
            long deadline = Long.MAX_VALUE;
            long first = Long.MAX_VALUE;
            for (Change c : changes) {
                Pending p = pending.get(pendingKey(c));
                if (p != null && p.change == c) {
                    deadline = Math.min(deadline, p.deadlineNanos);
                    first = Math.min(first, p.firstNanos);
                }
            }
            for (Change c : changes) {
                String key = pendingKey(c);
                Pending p = pending.get(key);
                if (p != null && p.change == c) {
                    pending.put(key, new Pending(p.change, p.meta, p.policy, p.toOutbox, p.remote, first, deadline, p.outboxOnly, p.held));
                }
            }
        }
    }

    /** True while a commit is running. */
    public boolean isSaving() {
        return !inFlight.isEmpty();
    }

    /** Number of queued records (not yet committed). */
    public int pendingCount() {
        synchronized (lock) {
            return pending.size() + inFlight.size() + commits.pages.records();
        }
    }

    /** Commits every queued record now; completes when they are durable. */
    public CompletableFuture<Void> flush() {
        return flush(p -> true);
    }

    /** Commits every queued record with autoSave now (not the drafts waiting for an explicit save). */
    public CompletableFuture<Void> flushAutoSaved() {
        // not the writes held for the user's pause (saveDelay): a reconnect is no pause
        return flush(p -> (p.policy.autoSave() && !p.held) || p.meta != null);
    }

    /** Commits every queued record with autoSave, plus {@code pendingKey}'s, now. */
    public CompletableFuture<Void> flushWith(String pendingKey) {
        return flush(p -> p.policy.autoSave() || (p.change != null && pendingKey(p.change).equals(pendingKey)));
    }

    private CompletableFuture<Void> flush(Predicate<Pending> which) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        try {
            executor.execute(() -> {
                try {
                    commits.commitPages();
                    commit(which);
                    done.complete(null);
                } catch (Throwable e) {
                    done.completeExceptionally(e);
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            done.completeExceptionally(new IllegalStateException("engine is closed", e));
        }
        return done;
    }

    // ---- outbox

    /**
     * Outbox entries (sequence number to change) in order, up to {@code limit}: committed ones, and
     * those of the commit running now (pushed while it forces them to disk; see {@link #acknowledge}).
     */
    public NavigableMap<Long, Change> outbox(int limit) {
        return commits.outbox(limit);
    }

    /** Outbox entries held now: committed, or in the commit running now. */
    public int outboxSize() {
        return commits.size();
    }

    /** Local changes not acknowledged yet: the outbox plus the outbox records still queued, counted at one instant. */
    public int unacknowledgedCount() {
        synchronized (lock) {
            return commits.size() + pendingOutbox + inFlightOutbox;
        }
    }

    /** Outbox entries that are still queued in memory (not yet in the outbox). */
    public int pendingOutboxCount() {
        synchronized (lock) {
            return pendingOutbox + inFlightOutbox;
        }
    }

    /**
     * Removes acknowledged outbox entries, durably. Runs on the persistence thread, after the
     * commit that inserted them (an ack can arrive while that commit is still being forced to
     * disk): so the entry's delete never precedes its insert, and the change's own state record,
     * written by that same commit, is durable before the entry leaves the outbox.
     */
    public CompletableFuture<Void> acknowledge(Collection<Long> seqs) {
        return commits.acknowledge(seqs);
    }

    static StoreWrite cursorRecord(long cursor) {
        return StoreWrite.put(Records.metaKey("cursor"), ByteBuffer.allocate(8).putLong(cursor).array());
    }
    private void flushDue() {
        long now = System.nanoTime();
        synchronized (lock) {
            scheduledWakeup = Long.MAX_VALUE;
        }
        try {
            commits.commitPages();
            commit(p -> p.deadlineNanos <= now);
        } catch (Throwable e) {
            // commit() already re-queued the records and scheduled a retry; onError was told.
        }
        scheduleNext();
    }

    private void scheduleNext() {
        synchronized (lock) {
            long next = Long.MAX_VALUE;
            for (Pending p : pending.values()) {
                next = Math.min(next, p.deadlineNanos);
            }
            if (next != Long.MAX_VALUE && next < scheduledWakeup) {
                scheduledWakeup = next;
                executor.schedule(this::flushDue, Math.max(0, next - System.nanoTime()), TimeUnit.NANOSECONDS);
            }
        }
    }

    private void commit(Predicate<Pending> which) {
        Map<String, Pending> batch = new HashMap<>();
        synchronized (lock) {
            Iterator<Map.Entry<String, Pending>> it = pending.entrySet().iterator();
            Pending cursor = pending.get(CURSOR_KEY);
            boolean withCursor = cursor != null && which.test(cursor);
            while (it.hasNext()) {
                Map.Entry<String, Pending> e = it.next();
                if (which.test(e.getValue()) || (withCursor && e.getValue().remote)) {
                    batch.put(e.getKey(), e.getValue());
                    it.remove();
                    if (e.getValue().toOutbox) {
                        pendingOutbox--;
                        inFlightOutbox++;
                    }
                }
            }
            if (batch.isEmpty()) {
                return;
            }
            inFlight = batch;
        }
        try {
            commits.write(batch.values());
        } catch (RuntimeException e) {
            synchronized (lock) {
                long retryAt = System.nanoTime() + RETRY_NANOS;
                batch.forEach((k, p) -> {
                    if (replacedInFlight.contains(k)) {
                        return; // a queued page holds a newer record of the key
                    }
                    if (pending.putIfAbsent(k, p.retry(p.policy.autoSave() ? retryAt : Long.MAX_VALUE)) == null && p.toOutbox) {
                        pendingOutbox++;
                    }
                });
                replacedInFlight.clear();
                inFlight = Map.of();
                inFlightOutbox = 0;
            }
            onError.accept(e);
            scheduleNext();
            throw e;
        }
        synchronized (lock) {
            replacedInFlight.clear();
            inFlight = Map.of();
            inFlightOutbox = 0;
        }
    }

    /**
     * A clear makes queued records it hides pointless (appends of its stream, or writes of its map
     * section): drop them before they are written. Returns true if a dropped one was remote.
     */
    private boolean dropHidden(Change.Clear clear) {
        boolean[] remote = {false};
        pending.values().removeIf(p -> {
            if (p.change == null || p.outboxOnly) {
                return false;
            }
            boolean hidden;
            if (clear.isWholeSection()) {
                hidden = p.change instanceof Change.Put put && put.section().equals(clear.section());
            } else {
                hidden = p.change instanceof Change.Append a && a.section().equals(clear.section()) && a.stream().equals(clear.stream());
            }
            if (hidden && p.change.stamp().compareTo(clear.stamp()) <= 0) {
                remote[0] |= p.remote;
                pendingOutbox -= p.toOutbox ? 1 : 0;
                return true;
            }
            return false;
        });
        return remote[0];
    }

    /** Commits everything queued, stops the persistence thread. Stores are closed by their owner. */
    @Override
    public void close() {
        close(p -> true);
    }

    /**
     * {@link #close()} for a process that is exiting without the app's close: commits what
     * autoSave would commit later (writes held for a save delay too), not the drafts.
     */
    public void closeForExit() {
        close(p -> p.policy.autoSave());
    }

    private void close(Predicate<Pending> which) {
        if (executor.isShutdown()) {
            return;
        }
        try {
            flush(which).join();
        } catch (RuntimeException e) {
            onError.accept(e);
        } finally {
            executor.shutdown();
            try {
                if (!executor.awaitTermination(30, TimeUnit.SECONDS)) {
                    executor.shutdownNow();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                executor.shutdownNow();
            }
        }
    }
}
