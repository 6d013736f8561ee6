package dev.cairn.server.commit;

import dev.cairn.server.store.GuardFailedException;
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
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
 * batches go again together and only the refused user's batches fail (or go one by one); after a
 * {@link GuardFailedException} only the batch whose guard failed fails (a guard of writes only:
 * it goes again alone, as it fails only if it writes) and the others go again together.
 *
 * <p>{@link #submitAll} commits several batches (of several store keys: a membership change writes
 * the space and each affected user) atomically: they always share one transaction, also on
 * retry, and fail or commit together. Such groups go first in a transaction. A batch whose
 * {@link ServerStore.Guard} reads a section that another batch of the transaction writes (a push
 * guarded by {@code members} and a removal) waits for the next transaction: guards read the state
 * before their transaction, so the push is checked against the removal's result, never beside it.
 *
 * <p>Its state is confined to one Vert.x context, its <em>home</em>: with a home given, {@link #submit}
 * may be called from any event loop; the batch hops to the home context (so one committer per node
 * groups the batches of every event loop into the same transactions) and the returned future
 * completes back on the caller's context. Without a home, call it from one event loop only.
 */
public final class GroupCommitter {

    /**
     * What goes into a transaction as one: one pushed batch, or the batches of {@link #submitAll}
     * (atomic). {@code promise} gets the results of the store keys the unit names.
     */
    private static final class Unit {
        final List<UserBatch> batches;
        final boolean atomic;
        final Promise<Map<String, CommitResult>> promise;
        final int changes;

        Unit(List<UserBatch> batches, boolean atomic, Promise<Map<String, CommitResult>> promise) {
            this.batches = batches;
            this.atomic = atomic;
            this.promise = promise;
            int n = 0;
            for (UserBatch b : batches) {
                n += b.changes().size();
            }
            this.changes = n;
        }

        private Set<String> writes;

        /** Sections this unit writes, as "storeKey NUL section" (computed once: a push may hold thousands of changes). */
        Set<String> writes() {
            if (writes == null) {
                writes = new HashSet<>();
                for (UserBatch b : batches) {
                    String last = null;
                    for (var c : b.changes()) {
                        if (!c.section().equals(last)) {
                            last = c.section();
                            writes.add(b.user() + '\u0000' + last);
                        }
                    }
                }
            }
            return writes;
        }

        /** Sections this unit's guards read. */
        Set<String> guards() {
            Set<String> out = new HashSet<>();
            for (UserBatch b : batches) {
                if (b.guard() != null) {
                    out.add(b.guard().owner() + '\u0000' + b.guard().section());
                }
            }
            return out;
        }

        boolean names(String user) {
            for (UserBatch b : batches) {
                if (b.user().equals(user)) {
                    return true;
                }
            }
            return false;
        }

        void complete(Map<String, CommitResult> results) {
            Map<String, CommitResult> mine = new LinkedHashMap<>();
            for (UserBatch b : batches) {
                CommitResult r = results.get(b.user());
                if (r != null) {
                    mine.put(b.user(), r);
                }
            }
            promise.complete(Collections.unmodifiableMap(mine));
        }
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
    private final ArrayDeque<Unit> queue = new ArrayDeque<>();
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
        String user = batch.user();
        return queue(List.of(batch), false).map(results -> results.get(user));
    }

    /**
     * Queues batches (of one or several store keys) that commit atomically: all in one transaction,
     * also when it is retried, or none. The future completes when they are durable, with the
     * result of each store key they name; it fails with the first refusal (a guard, the quota) of
     * any of them, and then nothing of them is kept.
     */
    public Future<Map<String, CommitResult>> submitAll(List<UserBatch> batches) {
        if (batches.isEmpty()) {
            return Future.failedFuture(new IllegalArgumentException("submitAll needs at least one batch"));
        }
        return queue(List.copyOf(batches), true);
    }

    private Future<Map<String, CommitResult>> queue(List<UserBatch> batches, boolean atomic) {
        Context caller = Vertx.currentContext();
        if (home == null || caller == home) {
            Promise<Map<String, CommitResult>> promise = Promise.promise();
            enqueue(new Unit(batches, atomic, promise));
            return promise.future();
        }
        // A promise of the caller's context: completed on the home context, its listeners run on the caller's.
        Promise<Map<String, CommitResult>> promise = caller instanceof ContextInternal c ? c.promise() : Promise.promise();
        home.runOnContext(v -> enqueue(new Unit(batches, atomic, promise)));
        return promise.future();
    }

    private void enqueue(Unit unit) {
        queue.add(unit);
        drain();
    }

    private ServerStore.Limits limits() {
        return new ServerStore.Limits(quotaBytes, historyMillis, System.currentTimeMillis());
    }

    private void commitAlone(Unit unit) {
        inFlight++;
        store.commit(unit.batches, limits()).onComplete(ar -> {
            inFlight--;
            if (ar.succeeded()) {
                tell(ar.result());
                unit.complete(ar.result());
            } else {
                unit.promise.fail(ar.cause());
            }
            drain();
        });
    }

    private void tell(Map<String, CommitResult> results) {
        results.values().forEach(r -> {
            try {
                committed.accept(r);
            } catch (RuntimeException ignored) {
                // a failing listener must not lose acks; sessions catch up from the store
            }
        });
    }

    /** Batches waiting for a transaction (a gauge for /metrics). */
    public int queued() {
        return queue.size();
    }

    private void drain() {
        while (inFlight < maxInFlight && !queue.isEmpty()) {
            commitGroup(nextGroup());
        }
    }

    /**
     * The units of the next transaction: first every queued membership change (atomic unit) that
     * fits, so a push queued beside a removal is checked after it; then the pushes in queue order
     * up to the first that does not fit or conflicts (so one socket's batches commit in order).
     */
    private List<Unit> nextGroup() {
        List<Unit> group = new ArrayList<>();
        Set<String> writes = new HashSet<>();
        Set<String> guards = new HashSet<>();
        int changes = 0;
        for (boolean atomic : new boolean[] {true, false}) {
            for (var it = queue.iterator(); it.hasNext(); ) {
                Unit next = it.next();
                if (next.atomic != atomic) {
                    continue;
                }
                boolean fits = group.isEmpty() || changes + next.changes <= maxChangesPerCommit;
                if (!fits || (!group.isEmpty() && conflicts(next, writes, guards))) {
                    if (atomic) {
                        continue;   // a later transaction: its guard must see this one's writes (or the reverse)
                    }
                    break;
                }
                it.remove();
                group.add(next);
                writes.addAll(next.writes());
                guards.addAll(next.guards());
                changes += next.changes;
            }
        }
        return group;
    }

    /** True if the unit guards a section the group writes, or writes a section the group guards. */
    private static boolean conflicts(Unit unit, Set<String> groupWrites, Set<String> groupGuards) {
        for (String g : unit.guards()) {
            if (groupWrites.contains(g)) {
                return true;
            }
        }
        for (String w : unit.writes()) {
            if (groupGuards.contains(w)) {
                return true;
            }
        }
        return false;
    }

    private void commitGroup(List<Unit> group) {
        inFlight++;
        List<UserBatch> batches = new ArrayList<>();
        group.forEach(u -> batches.addAll(u.batches));
        long started = System.nanoTime();
        store.commit(batches, limits()).onComplete(ar -> {
            commitNanos.accept(System.nanoTime() - started);
            inFlight--;
            if (ar.succeeded()) {
                tell(ar.result());
                group.forEach(u -> u.complete(ar.result()));
            } else if (group.size() == 1) {
                group.get(0).promise.fail(ar.cause());
            } else if (ar.cause() instanceof GuardFailedException guard && guard.batchIndex() >= 0
                    && guard.batchIndex() < batches.size()) {
                // Only the unit whose guard failed fails; the others go again together. A guard of writes
                // only failed because the commit wrote the batch's key: alone the batch may write nothing
                // (a re-sent push whose changes are stored), and is then acknowledged (PROTOCOL.md 8.2).
                Unit refused = unitOf(group, guard.batchIndex());
                if (guard.guard().writesOnly()) {
                    commitAlone(refused);
                } else {
                    refused.promise.fail(guard);
                }
                List<Unit> others = new ArrayList<>(group);
                others.remove(refused);
                commitGroup(others);
            } else if (ar.cause() instanceof QuotaExceededException quota) {
                // One user over quota: the others go again together without that user, whose units
                // go one by one (together they were too much; alone some may fit).
                List<Unit> refused = new ArrayList<>();
                List<Unit> others = new ArrayList<>();
                group.forEach(u -> (u.names(quota.user()) ? refused : others).add(u));
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
                // One bad unit must not fail its neighbours: retry each on its own.
                group.forEach(this::commitAlone);
            }
            drain();
        });
    }

    /** The unit that holds the {@code index}th batch of the group's commit. */
    private static Unit unitOf(List<Unit> group, int index) {
        int seen = 0;
        for (Unit u : group) {
            seen += u.batches.size();
            if (index < seen) {
                return u;
            }
        }
        throw new IllegalStateException("batch index " + index + " outside the group");
    }
}
