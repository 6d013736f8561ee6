package dev.cairn.engine.sync;

import java.time.Duration;
import java.util.Random;

/**
 * Exponential backoff with full jitter: the n-th delay (from 0) is uniform in
 * {@code [0, min(max, min * 2^n)]} milliseconds, raised to {@code min} if below. Not thread-safe (the sync thread owns it).
 */
final class Backoff {

    private final long minMillis;
    private final long maxMillis;
    private final Random random;
    private int attempt;

    Backoff(Duration min, Duration max, Random random) {
        this.minMillis = min.toMillis();
        this.maxMillis = max.toMillis();
        this.random = random;
    }

    /** The upper bound of the {@code attempt}-th delay. */
    long ceilingMillis(int attempt) {
        long ceiling = minMillis;
        for (int i = 0; i < attempt && ceiling < maxMillis; i++) {
            ceiling = ceiling > Long.MAX_VALUE / 2 ? Long.MAX_VALUE : ceiling * 2;
        }
        return Math.min(maxMillis, ceiling);
    }

    /** The next delay, growing with each call until {@link #reset()}. */
    Duration next() {
        long ceiling = ceilingMillis(attempt);
        if (attempt < Integer.MAX_VALUE) {
            attempt++;
        }
        // never below the minimum, so a tight reconnect loop is impossible (spec/vectors/sync/README.md)
        return Duration.ofMillis(Math.max(minMillis, random.nextLong(ceiling + 1)));
    }

    /** The longest delay, without jitter (for errors retrying soon cannot fix). */
    Duration max() {
        return Duration.ofMillis(maxMillis);
    }

    int attempt() {
        return attempt;
    }

    void reset() {
        attempt = 0;
    }
}
