package dev.cairn.server;

/**
 * Milliseconds on the monotonic clock, for intervals on this node (rates, deadlines, presence
 * expiry): a wall clock that steps (NTP, a VM resumed) must not shift them. Only differences mean
 * anything, on this node in this run; stamps and token expiry read the wall clock.
 */
public final class MonotonicMillis {

    private MonotonicMillis() {
    }

    public static long now() {
        return System.nanoTime() / 1_000_000;
    }
}
