package dev.cairn.server.session;

import dev.cairn.server.store.ServerStore.CommitResult;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import org.slf4j.LoggerFactory;

/**
 * This node's live sessions by user. Told of every commit made on this node (with its changes)
 * and of heads moved by other nodes (without them); passes each to the user's sessions.
 * Event-loop confined.
 */
public final class Hub {

    private final Map<String, Set<SyncSession>> byUser = new HashMap<>();
    /** 1009 closes per user, for the storm warning. */
    final OversizeWarnings oversize = new OversizeWarnings();

    void add(SyncSession session) {
        byUser.computeIfAbsent(session.user(), u -> new LinkedHashSet<>()).add(session);
    }

    void remove(SyncSession session) {
        Set<SyncSession> sessions = byUser.get(session.user());
        if (sessions != null && sessions.remove(session)) {
            if (sessions.isEmpty()) {
                byUser.remove(session.user());
            }
        }
    }

    /** A commit on this node: sessions that are up to date get the changes without a store read. */
    public void committed(CommitResult result) {
        Set<SyncSession> sessions = byUser.get(result.user());
        if (sessions != null) {
            for (SyncSession s : Set.copyOf(sessions)) {
                try {
                    s.onCommitted(result);
                } catch (RuntimeException e) {
                    LoggerFactory.getLogger(Hub.class).warn("delivery to a session of user={} failed: {}", result.user(), e.toString());
                }
            }
        }
    }

    /** Another node moved a user's head: sessions behind it read the rest from the store. */
    public void headMoved(String user, long head) {
        Set<SyncSession> sessions = byUser.get(user);
        if (sessions != null) {
            for (SyncSession s : Set.copyOf(sessions)) {
                try {
                    s.onHead(head);
                } catch (RuntimeException e) {
                    LoggerFactory.getLogger(Hub.class).warn("delivery to a session of user={} failed: {}", user, e.toString());
                }
            }
        }
    }

    /** Users with sessions on this node (for a resync after the fan-out connection was lost). */
    public java.util.Set<String> users() {
        return java.util.Set.copyOf(byUser.keySet());
    }
}
