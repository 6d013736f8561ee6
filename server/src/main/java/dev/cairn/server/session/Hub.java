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
import dev.cairn.server.presence.PresenceUpdate;
import dev.cairn.server.space.SpaceEvents;
import org.slf4j.LoggerFactory;

/**
 * This node's live sessions by store key, on every event loop: a session is listed under its
 * user's id and under the store key of every space it delivers ({@code SpaceKeys.storeKey}). Told
 * of every commit made on this node (with its changes, on the committer's context) and of heads
 * moved by other nodes (without them, on the fan-out's context); passes each to the key's sessions
 * on each session's own event loop. It is also the node's {@link SpaceEvents}: a membership that
 * ended is passed to the user's sessions, which send {@code space-left} (PROTOCOL.md 8.4).
 *
 * <p>Thread-safe: the map and each user's set are concurrent; a session joins and leaves from its
 * own event loop, and every delivery hops to that loop (one task per loop and delivery). A commit's
 * {@code changes} frame is encoded once here, lazily, and shared by all of the user's sessions
 * ({@link CommittedFrame}).
 */
public final class Hub implements SpaceEvents {

    private final Map<String, Set<SyncSession>> byKey = new ConcurrentHashMap<>();
    private final SessionMetrics metrics;

    public Hub(SessionMetrics metrics) {
        this.metrics = metrics;
    }
    /** 1009 closes per user, for the storm warning. */
    final OversizeWarnings oversize = new OversizeWarnings();

    /** Lists {@code session} under a store key (its user's id, or a space's key). */
    void add(String key, SyncSession session) {
        byKey.compute(key, (u, sessions) -> {
            Set<SyncSession> set = sessions == null ? ConcurrentHashMap.newKeySet() : sessions;
            set.add(session);
            return set;
        });
    }

    void remove(String key, SyncSession session) {
        byKey.computeIfPresent(key, (u, sessions) -> {
            sessions.remove(session);
            return sessions.isEmpty() ? null : sessions;
        });
    }

    /** A commit on this node (of a user or a space): sessions that are up to date get the changes without a store read. */
    public void committed(CommitResult result) {
        Set<SyncSession> sessions = byKey.get(result.user());
        if (sessions == null) {
            return;
        }
        CommittedFrame frame = new CommittedFrame(result);
        long committedAt = System.nanoTime();
        deliver(sessions, s -> s.onCommitted(frame), result.user(), () -> metrics.fanOut(System.nanoTime() - committedAt));
    }

    /** Another node moved a store key's head (a user's or a space's): sessions behind it read the rest from the store. */
    public void headMoved(String key, long head) {
        Set<SyncSession> sessions = byKey.get(key);
        if (sessions == null) {
            return;
        }
        deliver(sessions, s -> s.onHead(key, head), key, () -> { });
    }

    /** {@inheritDoc} Called on the committer's home context after the commit that ended the membership. */
    @Override
    public void ended(String user, String spaceId, String reason) {
        Set<SyncSession> sessions = byKey.get(user);
        if (sessions == null) {
            return;
        }
        deliver(sessions, s -> s.onSpaceEnded(spaceId, reason), user, () -> { });
    }

    /** Passes a presence frame (encoded once) to the sessions of the space's store key on this node. */
    public void presence(String spaceKey, PresenceUpdate update) {
        Set<SyncSession> sessions = byKey.get(spaceKey);
        if (sessions == null) {
            return;
        }
        deliver(sessions, s -> s.onPresence(update), spaceKey, () -> { });
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

    /** Store keys (users and spaces) with sessions on this node (for a resync after the fan-out connection was lost). */
    public Set<String> users() {
        return Set.copyOf(byKey.keySet());
    }
}
