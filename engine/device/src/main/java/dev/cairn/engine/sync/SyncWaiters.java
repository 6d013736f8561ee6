package dev.cairn.engine.sync;

import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.sync.internal.SyncPort;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.concurrent.CompletableFuture;

/**
 * The pending {@link SyncClient#syncNow()} calls: each resolves once the session is live, caught
 * up, and nothing written before the call is pending (the user's and, for a client that syncs
 * spaces, each held space's: that space live too); it fails with the reason as soon as that
 * can no longer happen without the app or the server changing something. Sync thread only.
 */
final class SyncWaiters {

    /** Done when no outbox entry up to {@code target} is left and the session is live. */
    private static final class Waiter {
        final long target;
        final CompletableFuture<Void> future;
        final List<String> rejected = new ArrayList<>();
        String rejectedCode;
        /** For a client that syncs spaces: each space held at the call, with its last outbox seq then. */
        final Map<String, Long> spaces = new HashMap<>();

        Waiter(long target, CompletableFuture<Void> future) {
            this.target = target;
            this.future = future;
        }
    }

    private static final int KEPT_REFUSALS = 100;

    private final SyncClient c;
    private final List<Waiter> waiters = new ArrayList<>();
    /**
     * Recent refusals of pending changes and spaces left: a syncNow() registers its waiter only
     * once its local changes are saved, so one made before a refusal but registered after it
     * still sees it (a space's refused changes and a left space are no longer there to sample).
     */
    private final List<Refusal> refusals = new ArrayList<>();
    private long refusedBefore;

    /**
     * A dropped change (it covers every call pending at the time), a quota refusal from outbox seq
     * {@code first}, or, with {@code space} set, that space's batch refused for good or the space left
     * (it covers the calls that held the space).
     */
    private record Refusal(boolean dropped, long first, String code, String text, String space) {
    }

    SyncWaiters(SyncClient client) {
        this.c = client;
    }

    /** {@link SyncClient#syncNow()} on the sync thread: try once more, save, then wait. */
    void syncNow(CompletableFuture<Void> result) {
        if (c.connection.switchedOff) {
            result.completeExceptionally(new SyncException("sync is switched off (goOffline); call goOnline() first"));
            return;
        }
        if (c.pull.locked()) {
            result.completeExceptionally(new SyncException(c.loop.lastErrorCode, c.loop.lastError, null));
            return;
        }
        c.connection.started = true;
        long mark = mark();
        c.connection.tryAgain(false); // now, not after the backoff delay
        CompletableFuture<Void> saved;
        List<String> held = List.of();
        try {
            saved = c.port.save();
            if (c.spaces != null) { // the spaces' writes too: a syncNow covers every outbox the client pushes
                held = c.port.heldSpaces();
                List<CompletableFuture<Void>> all = new ArrayList<>(List.of(saved));
                for (String id : held) {
                    SyncPort space = c.port.space(id, false);
                    if (space != null) {
                        all.add(space.save());
                    }
                }
                saved = CompletableFuture.allOf(all.toArray(CompletableFuture[]::new));
            }
        } catch (RuntimeException e) {
            result.completeExceptionally(new SyncException("could not save local changes: " + e.getMessage(), e));
            return;
        }
        Collection<String> heldAtCall = held;
        c.savedThrough.apply(saved).whenComplete((ignored, error) -> c.loop.post(() -> {
            if (error != null) {
                result.completeExceptionally(new SyncException("could not save local changes: " + SyncLoop.messageOf(error), error));
            } else if (c.isClosed() || c.connection.switchedOff) {
                result.completeExceptionally(new SyncException(c.isClosed() ? "the sync client was closed" : "sync was switched off (goOffline)"));
            } else if (c.connection.permanent != null || c.pull.locked()) {
                result.completeExceptionally(new SyncException(c.loop.lastErrorCode, c.loop.lastError, null));
            } else if (add(result, mark, heldAtCall)) {
                Session s = c.connection.session();
                if (s != null) {
                    c.push.release(s, PushPipeline.Reason.QUOTA); // the caller may have freed space: try now
                }
            }
        }));
    }

    /** A mark to pass to {@link #add}: refusals after it count for that call. */
    long mark() {
        return refusedBefore + refusals.size();
    }

    /**
     * Registers a syncNow() call made at {@code mark} holding the spaces {@code heldAtCall}, once
     * its local changes are saved; false if a quota refusal, or a refusal for good or leave of one
     * of those spaces, since the mark already failed it.
     */
    boolean add(CompletableFuture<Void> result, long mark, Collection<String> heldAtCall) {
        NavigableMap<Long, Change> outbox = c.port.outbox(Integer.MAX_VALUE);
        Waiter w = new Waiter(outbox.isEmpty() ? 0 : outbox.lastKey(), result);
        if (c.spaces != null) {
            for (String id : c.port.heldSpaces()) {
                SyncPort space = c.port.space(id, false);
                if (space != null) {
                    NavigableMap<Long, Change> o = space.outbox(Integer.MAX_VALUE);
                    w.spaces.put(id, o.isEmpty() ? 0 : o.lastKey());
                }
            }
        }
        for (int i = (int) Math.max(0, mark - refusedBefore); i < refusals.size(); i++) {
            Refusal r = refusals.get(i);
            if (r.space() != null) {
                // its refused changes were written before this registration (they were pushed), so the call covers them
                if (heldAtCall.contains(r.space())) {
                    result.completeExceptionally(new SyncException(r.code(), r.text(), null));
                    return false;
                }
            } else if (r.dropped()) {
                // pending at call time, so this call covers it
                w.rejected.add(r.text());
                w.rejectedCode = r.code();
            } else if (r.first() <= w.target) {
                result.completeExceptionally(new SyncException(r.code(), r.text(), null));
                return false;
            }
        }
        waiters.add(w);
        check();
        return true;
    }

    /** A change the server can never accept was dropped: the calls covering it will fail. */
    void dropped(long seq, String code, String what) {
        for (Waiter w : waiters) {
            if (seq <= w.target) {
                w.rejected.add(what);
                w.rejectedCode = code;
            }
        }
        remember(new Refusal(true, seq, code, what, null));
    }

    /** A space's batch was refused for good (forbidden, not-a-member): the calls covering its changes fail. */
    void spaceRefused(String space, Collection<Long> seqs, String code, String why) {
        long first = seqs.stream().mapToLong(Long::longValue).min().orElse(Long.MAX_VALUE);
        failIf(w -> w.spaces.getOrDefault(space, -1L) >= first, code, why);
        remember(new Refusal(false, first, code, why, space));
    }

    /** A space was left: the calls covering it fail (as a space's own wait does, not-a-member). */
    void spaceLeft(String space, String reason) {
        String why = "the space '" + space + "' was left (" + reason + ")";
        failIf(w -> w.spaces.containsKey(space), "not-a-member", why);
        remember(new Refusal(false, Long.MAX_VALUE, "not-a-member", why, space));
    }

    private void failIf(java.util.function.Predicate<Waiter> covers, String code, String why) {
        for (Iterator<Waiter> it = waiters.iterator(); it.hasNext(); ) {
            Waiter w = it.next();
            if (covers.test(w)) {
                it.remove();
                w.future.completeExceptionally(new SyncException(code, why, null));
            }
        }
    }

    /** The server refused changes from outbox seq {@code first} for the user's quota: the calls covering them fail now. */
    void overQuota(long first, String why) {
        failFrom(first, "quota-exceeded", why);
        remember(new Refusal(false, first, "quota-exceeded", why, null));
    }

    private void remember(Refusal refusal) {
        refusals.add(refusal);
        if (refusals.size() > KEPT_REFUSALS) {
            refusals.remove(0);
            refusedBefore++;
        }
    }

    /** Fails now the calls that cover outbox seq {@code first} or later. */
    void failFrom(long first, String code, String why) {
        for (Iterator<Waiter> it = waiters.iterator(); it.hasNext(); ) {
            Waiter w = it.next();
            if (first <= w.target) {
                it.remove();
                w.future.completeExceptionally(new SyncException(code, why, null));
            }
        }
    }

    /** Changes the server does not know the section of stay queued: the calls covering them fail. */
    void failHeld(Session s) {
        if (!s.user.held.isEmpty()) {
            failFrom(s.user.held.first(), "unknown-section", c.loop.lastError);
        }
    }

    void failAll(String code, String why) {
        List<Waiter> failing = new ArrayList<>(waiters);
        waiters.clear();
        for (Waiter w : failing) {
            w.future.completeExceptionally(new SyncException(code, why, null));
        }
    }

    /** Completes the calls whose changes are all acknowledged (or dropped) while the session is live. */
    void check() {
        if (waiters.isEmpty()) {
            return;
        }
        Session s = c.connection.session();
        if (s != null && s.current()) {
            failHeld(s);
        }
        boolean live = s != null && s.current() && s.caughtUp && c.port.cursor() >= s.knownHead;
        if (!live) {
            return;
        }
        NavigableMap<Long, Change> first = c.port.outbox(1);
        long firstPending = first.isEmpty() ? Long.MAX_VALUE : first.firstKey();
        boolean published = false;
        for (Iterator<Waiter> it = waiters.iterator(); it.hasNext(); ) {
            Waiter w = it.next();
            if (firstPending > w.target && spacesDone(w, s)) {
                if (!published) {
                    c.loop.publish(); // a caller whose syncNow completed sees a fresh status
                    published = true;
                }
                it.remove();
                if (w.rejected.isEmpty()) {
                    w.future.complete(null);
                } else {
                    w.future.completeExceptionally(new SyncException(w.rejectedCode, "the server refused " + w.rejected.size()
                            + " change(s), which were dropped: " + String.join("; ", w.rejected), null));
                }
            }
        }
    }

    /**
     * Each space of the call is live on this session with nothing written before the call still
     * in its outbox. A session without spaces (protocol 1) syncs none of them: they do not hold it up.
     */
    private boolean spacesDone(Waiter w, Session s) {
        if (w.spaces.isEmpty() || s.spaces == null) {
            return true;
        }
        for (Map.Entry<String, Long> e : w.spaces.entrySet()) {
            if (!s.spaces.live.contains(e.getKey())) {
                return false;
            }
            SyncPort space = c.port.space(e.getKey(), false);
            NavigableMap<Long, Change> first = space == null ? null : space.outbox(1);
            if (first != null && !first.isEmpty() && first.firstKey() <= e.getValue()) {
                return false;
            }
        }
        return true;
    }
}
