package dev.cairn.server.commit;

import dev.cairn.server.store.QuotaExceededException;
import dev.cairn.server.store.ServerStore;
import dev.cairn.server.store.ServerStore.CommitResult;
import dev.cairn.server.store.ServerStore.UserBatch;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.internal.ContextInternal;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.LongConsumer;

/**
 * Group commit: batches that arrive while a transaction is in flight are merged into the next
 * one, so many sockets share one durable commit and its fsync. Completes each batch's future only
 * after the transaction that holds it has committed (acks are durable, PROTOCOL.md 4.1), then
 * tells the committed-listener once per user per transaction (fan-out).
 *
 * <p>A transaction fails as a whole, so one batch must not fail its neighbours: after a failure
 * each batch is committed on its own, and after a {@link QuotaExceededException} the other users'
 * batches go again together and only the refused user's batches fail (or go one by one).
 *
 * <p>Its state is confined to one Vert.x context, its <em>home</em>: with a home given, {@link #submit}
 * may be called from any event loop; the batch hops to the home context (so one committer per node
 * groups the batches of every event loop into the same transactions) and the returned future
 * completes back on the caller's context. Without a home, call it from one event loop only.
 */
public final class GroupCommitter {

    private record Entry(UserBatch batch, Promise<CommitResult> promise) {
    }

    private final ServerStore store;
    private final long quotaBytes;
    private final long historyMillis;
    private final int maxInFlight;
    private final int maxChangesPerCommit;
    private final Consumer<CommitResult> committed;
    private final LongConsumer commitNanos;
    /** The context all state is confined to (null: the caller's, which must then be a single event loop). */
    private final Context home;
    private final ArrayDeque<Entry> queue = new ArrayDeque<>();
    private int inFlight;

    /**
     * @param committed   told once per user per transaction, after it committed (fan-out)
     * @param commitNanos told how long each transaction took (metrics)
     */
    public GroupCommitter(ServerStore store, int maxInFlight, int maxChangesPerCommit, Consumer<CommitResult> committed,
                          LongConsumer commitNanos) {
        this(store, 0, 0, maxInFlight, maxChangesPerCommit, committed, commitNanos);
    }

    /**
     * @param quotaBytes    per-user quota every commit enforces (0: none); a batch refused for it
     *                      fails with {@link QuotaExceededException}
     * @param historyMillis map history is kept when {@code > 0}
     */
    public GroupCommitter(ServerStore store, long quotaBytes, long historyMillis, int maxInFlight, int maxChangesPerCommit,
                          Consumer<CommitResult> committed, LongConsumer commitNanos) {
        this(store, quotaBytes, historyMillis, maxInFlight, maxChangesPerCommit, committed, commitNanos, null);
    }

    /**
     * @param home the context every transaction is started and finished on ({@code committed} is
     *             told there); {@link #submit} may then be called from any event loop
     */
    public GroupCommitter(ServerStore store, long quotaBytes, long historyMillis, int maxInFlight, int maxChangesPerCommit,
                          Consumer<CommitResult> committed, LongConsumer commitNanos, Context home) {
        this.home = home;
        this.store = store;
        this.quotaBytes = quotaBytes;
        this.historyMillis = historyMillis;
        this.maxInFlight = maxInFlight;
        this.maxChangesPerCommit = maxChangesPerCommit;
        this.committed = committed;
        this.commitNanos = commitNanos;
    }

    /** Queues a batch; the future completes when it is durable, with its user's commit result. */
    public Future<CommitResult> submit(UserBatch batch) {
        Context caller = Vertx.currentContext();
        if (home == null || caller == home) {
            Promise<CommitResult> promise = Promise.promise();
            enqueue(new Entry(batch, promise));
            return promise.future();
        }
        // A promise of the caller's context: completed on the home context, its listeners run on the caller's.
        Promise<CommitResult> promise = caller instanceof ContextInternal c ? c.promise() : Promise.promise();
        home.runOnContext(v -> enqueue(new Entry(batch, promise)));
        return promise.future();
    }

    private void enqueue(Entry entry) {
        queue.add(entry);
        drain();
    }

    private ServerStore.Limits limits() {
        return new ServerStore.Limits(quotaBytes, historyMillis, System.currentTimeMillis());
    }

    private void commitAlone(Entry e) {
        inFlight++;
        store.commit(List.of(e.batch), limits()).onComplete(ar -> {
            inFlight--;
            if (ar.succeeded()) {
                CommitResult r = ar.result().get(e.batch.user());
                try {
                    committed.accept(r);
                } catch (RuntimeException ignored) {
                    // as above
                }
                e.promise.complete(r);
            } else {
                e.promise.fail(ar.cause());
            }
            drain();
        });
    }

    /** Batches waiting for a transaction (a gauge for /metrics). */
    public int queued() {
        return queue.size();
    }

    private void drain() {
        while (inFlight < maxInFlight && !queue.isEmpty()) {
            List<Entry> group = new ArrayList<>();
            int changes = 0;
            while (!queue.isEmpty() && (group.isEmpty() || changes + queue.peek().batch.changes().size() <= maxChangesPerCommit)) {
                Entry e = queue.poll();
                group.add(e);
                changes += e.batch.changes().size();
            }
            commitGroup(group);
        }
    }

    private void commitGroup(List<Entry> group) {
        inFlight++;
        List<UserBatch> batches = new ArrayList<>(group.size());
        group.forEach(e -> batches.add(e.batch));
        long started = System.nanoTime();
        store.commit(batches, limits()).onComplete(ar -> {
            commitNanos.accept(System.nanoTime() - started);
            inFlight--;
            if (ar.succeeded()) {
                Map<String, CommitResult> results = ar.result();
                results.values().forEach(r -> {
                    try {
                        committed.accept(r);
                    } catch (RuntimeException ignored) {
                        // a failing listener must not lose acks; sessions catch up from the store
                    }
                });
                group.forEach(e -> e.promise.complete(results.get(e.batch.user())));
            } else if (group.size() == 1) {
                group.get(0).promise.fail(ar.cause());
            } else if (ar.cause() instanceof QuotaExceededException quota) {
                // One user over quota: the others go again together without that user, whose batches
                // go one by one (together they were too much; alone some may fit).
                List<Entry> refused = new ArrayList<>();
                List<Entry> others = new ArrayList<>();
                group.forEach(e -> (e.batch.user().equals(quota.user()) ? refused : others).add(e));
                if (refused.isEmpty()) {
                    group.forEach(this::commitAlone);    // not expected: the store named a user not in the group
                } else {
                    if (refused.size() == 1) {
                        refused.get(0).promise.fail(quota);
                    } else {
                        refused.forEach(this::commitAlone);
                    }
                    if (!others.isEmpty()) {
                        commitGroup(others);
                    }
                }
            } else {
                // One bad batch must not fail its neighbours: retry each on its own.
                group.forEach(this::commitAlone);
            }
            drain();
        });
    }
}
