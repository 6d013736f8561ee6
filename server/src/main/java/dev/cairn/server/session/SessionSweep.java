package dev.cairn.server.session;

import io.vertx.core.Vertx;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * One timer for all the sessions of one event loop, instead of three per session: every period it
 * asks each session to check its deadlines ({@link SyncSession#sweep}: no {@code hello} in time,
 * token expired, slow consumer). An idle socket then holds a set entry, not three scheduled tasks
 * with their handlers (W5, BENCHMARKS.md). Deadlines are met within one period.
 *
 * <p>Confined to its event loop: sessions join and leave from the loop that accepted them.
 */
public final class SessionSweep {

    private final Vertx vertx;
    private final long periodMillis;
    private final Set<SyncSession> sessions = new LinkedHashSet<>();
    private long timer = -1;

    /** @param periodMillis how often deadlines are checked (the lateness they may have) */
    public SessionSweep(Vertx vertx, long periodMillis) {
        if (periodMillis <= 0) {
            throw new IllegalArgumentException("sweep period must be > 0, got " + periodMillis);
        }
        this.vertx = vertx;
        this.periodMillis = periodMillis;
    }

    /** The period for a node whose slow consumers get {@code slowConsumerMillis}: a third of it, at most a second. */
    public static long periodFor(long slowConsumerMillis) {
        return Math.max(1, Math.min(1000, slowConsumerMillis / 3));
    }

    void add(SyncSession session) {
        sessions.add(session);
        if (timer < 0) {
            timer = vertx.setPeriodic(periodMillis, id -> sweep());
        }
    }

    void remove(SyncSession session) {
        sessions.remove(session);
        if (sessions.isEmpty() && timer >= 0) {
            vertx.cancelTimer(timer);
            timer = -1;
        }
    }

    private void sweep() {
        long now = System.currentTimeMillis();
        // A copy: a session may close (and leave) while it is checked.
        for (SyncSession s : sessions.toArray(new SyncSession[0])) {
            s.sweep(now);
        }
    }

    /** Sessions on this loop (for tests and metrics). */
    public int size() {
        return sessions.size();
    }
}
