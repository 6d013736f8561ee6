package dev.cairn.server.presence;

/**
 * PROTOCOL.md 8.6: at most {@link #PER_SECOND} presence frames per second per socket; more are
 * answered {@code rate-limited} and dropped. One per session, confined to its event loop.
 */
public final class PresenceRate {

    /** Presence frames a socket may send per second. */
    public static final int PER_SECOND = 10;

    private long windowStart = Long.MIN_VALUE / 2; // before any reading
    private int inWindow;

    /** Counts one presence frame at {@code nowMillis} (a monotonic clock's); false when it is over the limit. */
    public boolean allow(long nowMillis) {
        if (nowMillis - windowStart >= 1000) {
            windowStart = nowMillis;
            inWindow = 0;
        }
        return ++inWindow <= PER_SECOND;
    }
}
