package dev.cairn.server.session;

import dev.cairn.server.store.ServerStore.CommitResult;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.LoggerFactory;

/**
 * This node's live sessions by user, on every event loop. Told of every commit made on this node
 * (with its changes, on the committer's context) and of heads moved by other nodes (without them,
 * on the fan-out's context); passes each to the user's sessions on each session's own event loop.
 *
 * <p>Thread-safe: the map and each user's set are concurrent; a session joins and leaves from its
 * own event loop, and every delivery hops to that loop (one task per loop and delivery). A commit's
 * {@code changes} frame is encoded once here, lazily, and shared by all of the user's sessions
 * ({@link CommittedFrame}).
 */
public final class Hub {

    private final Map<String, Set<SyncSession>> byUser = new ConcurrentHashMap<>();
    private final SessionMetrics metrics;

    public Hub(SessionMetrics metrics) {
        this.metrics = metrics;
    }
    /** 1009 closes per user, for the storm warning. */
    final OversizeWarnings oversize = new OversizeWarnings();

    void add(SyncSession session) {
        byUser.compute(session.user(), (u, sessions) -> {
            Set<SyncSession> set = sessions == null ? ConcurrentHashMap.newKeySet() : sessions;
            set.add(session);
            return set;
        });
    }

    void remove(SyncSession session) {
        byUser.computeIfPresent(session.user(), (u, sessions) -> {
            sessions.remove(session);
            return sessions.isEmpty() ? null : sessions;
        });
    }

    /** A commit on this node: sessions that are up to date get the changes without a store read. */
    public void committed(CommitResult result) {
        Set<SyncSession> sessions = byUser.get(result.user());
        if (sessions == null) {
            return;
        }
        CommittedFrame frame = new CommittedFrame(result);
        long committedAt = System.nanoTime();
        deliver(sessions, s -> s.onCommitted(frame), result.user(), () -> metrics.fanOut(System.nanoTime() - committedAt));
    }

    /** Another node moved a user's head: sessions behind it read the rest from the store. */
    public void headMoved(String user, long head) {
        Set<SyncSession> sessions = byUser.get(user);
        if (sessions == null) {
            return;
        }
        deliver(sessions, s -> s.onHead(head), user, () -> { });
    }

    /**
     * Runs {@code call} for each session on the session's own loop: one task per loop, not per
     * session (a user with hundreds of sockets costs each loop one wake-up per commit), and in
     * place for the sessions of the loop this runs on.
     */
    private static void deliver(Set<SyncSession> sessions, Consumer<SyncSession> call, String user, Runnable perLoop) {
        Map<Context, List<SyncSession>> byLoop = new IdentityHashMap<>(4);
        for (SyncSession s : sessions) {
            byLoop.computeIfAbsent(s.loop(), l -> new ArrayList<>()).add(s);
        }
        Context current = Vertx.currentContext();
        byLoop.forEach((loop, list) -> {
            Runnable task = () -> {
                perLoop.run();
                for (SyncSession s : list) {
                    try {
                        call.accept(s);
                    } catch (RuntimeException e) {
                        LoggerFactory.getLogger(Hub.class).atWarn().addKeyValue("user", user).log("delivery to a session failed: {}", e.toString());
                    }
                }
            };
            if (loop == current) {
                task.run();
            } else {
                loop.runOnContext(v -> task.run());
            }
        });
    }

    /** Users with sessions on this node (for a resync after the fan-out connection was lost). */
    public Set<String> users() {
        return Set.copyOf(byUser.keySet());
    }
}
