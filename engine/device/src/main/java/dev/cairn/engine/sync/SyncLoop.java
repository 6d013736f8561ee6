package dev.cairn.engine.sync;

import java.time.Instant;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;

/**
 * The one thread ({@code cairn-sync}) that owns every part's state, and the status those parts
 * report into. Transport callbacks and engine listeners only {@link #post} tasks here.
 */
final class SyncLoop {

    static final System.Logger LOG = System.getLogger(SyncClient.class.getName());

    private final ScheduledThreadPoolExecutor executor;
    private volatile Thread thread;
    private final CopyOnWriteArrayList<Consumer<SyncStatus>> listeners = new CopyOnWriteArrayList<>();
    private final AtomicBoolean publishRequested = new AtomicBoolean();
    private final IntSupplier pending;
    private final LongSupplier cursor;
    private volatile SyncStatus status;

    // ---- sync thread only
    SyncState state = SyncState.OFFLINE;
    Instant lastSyncedAt;
    String lastError;
    String lastErrorCode;

    SyncLoop(IntSupplier pending, LongSupplier cursor) {
        this.pending = pending;
        this.cursor = cursor;
        this.executor = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "cairn-sync");
            t.setDaemon(true);
            thread = t;
            return t;
        });
        executor.setRemoveOnCancelPolicy(true);
        executor.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        executor.setContinueExistingPeriodicTasksAfterShutdownPolicy(false);
        this.status = new SyncStatus(SyncState.OFFLINE, null, pending.getAsInt(), null, cursor.getAsLong());
    }

    /** The last problem, with its code (spec/vectors/sync/README.md); both null to clear. */
    void report(String code, String message) {
        lastErrorCode = message == null ? null : code;
        lastError = message;
    }

    SyncStatus status() {
        return status;
    }

    void addListener(Consumer<SyncStatus> listener) {
        listeners.add(listener);
        post(() -> {
            if (listeners.contains(listener)) {
                notify(listener, status);
            }
        });
    }

    void removeListener(Consumer<SyncStatus> listener) {
        listeners.remove(listener);
    }

    /** Recomputes the status; tells the listeners if it changed. Sync thread only. */
    void publish() {
        int p;
        long c;
        try {
            p = pending.getAsInt();
            c = cursor.getAsLong();
        } catch (RuntimeException e) { // a closed engine
            p = status.pendingChanges();
            c = status.cursor();
        }
        SyncStatus next = new SyncStatus(state, lastSyncedAt, p, lastError, c, lastErrorCode);
        if (next.equals(status)) {
            return;
        }
        status = next;
        for (Consumer<SyncStatus> listener : listeners) {
            notify(listener, next);
        }
    }

    /** {@link #publish()} from any thread, coalesced. */
    void requestPublish() {
        if (publishRequested.compareAndSet(false, true)) {
            post(() -> {
                publishRequested.set(false);
                publish();
            });
        }
    }

    private static void notify(Consumer<SyncStatus> listener, SyncStatus status) {
        try {
            listener.accept(status);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "cairn sync: a status listener failed: " + e, e); // a bug in the app: with its stack trace
        }
    }

    /** Runs {@code task} on the sync thread; false if the loop is shut down. */
    boolean post(Runnable task) {
        try {
            executor.execute(guarded(task));
            return true;
        } catch (RejectedExecutionException e) {
            return false;
        }
    }

    ScheduledFuture<?> schedule(Runnable task, long delayNanos) {
        try {
            return executor.schedule(guarded(task), delayNanos, TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException e) {
            return null;
        }
    }

    ScheduledFuture<?> every(Runnable task, long periodNanos) {
        return executor.scheduleWithFixedDelay(guarded(task), periodNanos, periodNanos, TimeUnit.NANOSECONDS);
    }

    /** A task that reports instead of dying silently in the executor. */
    private Runnable guarded(Runnable task) {
        return () -> {
            try {
                task.run();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.ERROR, "cairn sync: internal error", e);
                report("internal", "internal error: " + messageOf(e));
                try {
                    publish();
                } catch (RuntimeException ignored) {
                    // nothing more to do
                }
            }
        };
    }

    boolean onLoop() {
        return Thread.currentThread() == thread;
    }

    /** Runs {@code task} on the sync thread and waits for it. */
    void run(Runnable task) {
        if (onLoop()) {
            task.run();
            return;
        }
        Future<?> done;
        try {
            done = executor.submit(guarded(task));
        } catch (RejectedExecutionException e) {
            throw new IllegalStateException("the sync client is closed", e);
        }
        try {
            done.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
    }

    /** Runs {@code last} on the sync thread, then stops it. */
    void shutdown(Runnable last) {
        if (onLoop()) {
            last.run();
            executor.shutdown();
            return;
        }
        try {
            executor.submit(guarded(last)).get(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException | RejectedExecutionException e) {
            LOG.log(System.Logger.Level.WARNING, "cairn sync: closing did not finish cleanly: " + e);
        }
        executor.shutdown();
        try {
            if (!executor.awaitTermination(5, TimeUnit.SECONDS)) {
                executor.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            executor.shutdownNow();
        }
    }

    static void cancel(Future<?> f) {
        if (f != null) {
            f.cancel(false);
        }
    }

    static String messageOf(Throwable error) {
        Throwable e = error;
        while ((e instanceof CompletionException || e instanceof ExecutionException) && e.getCause() != null) {
            e = e.getCause();
        }
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }
}
