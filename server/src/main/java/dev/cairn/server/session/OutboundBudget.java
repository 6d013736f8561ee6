package dev.cairn.server.session;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The text this node has queued to all its sockets and not yet written to the network, against a
 * node-wide limit. Each socket's own queue is bounded ({@code CAIRN_MAX_PENDING_WRITE_BYTES}), but
 * thousands of sockets that stop reading could still hold gigabytes between them; above this budget
 * catch-ups wait and sockets whose queue is full are closed as slow consumers without waiting the
 * usual time (RELIABILITY.md, slow consumers).
 *
 * <p>Counted in UTF-16 characters of the frames' text (what the session has at hand; equal to the
 * bytes for ASCII). Thread-safe: sessions live on several event loops.
 */
public final class OutboundBudget {

    private final long limit;
    private final AtomicLong queued = new AtomicLong();

    public OutboundBudget(long limit) {
        if (limit <= 0) {
            throw new IllegalArgumentException("outbound limit must be > 0, got " + limit);
        }
        this.limit = limit;
    }

    /** A frame of {@code chars} was handed to a socket. */
    void queued(int chars) {
        queued.addAndGet(chars);
    }

    /** That frame was written to the network, or its socket closed. */
    void written(int chars) {
        queued.addAndGet(-chars);
    }

    /** Whether the node holds more than its limit: catch-ups wait, stalled sockets are closed now. */
    public boolean exhausted() {
        return queued.get() > limit;
    }

    public long queued() {
        return queued.get();
    }

    public long limit() {
        return limit;
    }
}
