package dev.cairn.engine.clock;

import java.util.Objects;

/**
 * Hybrid logical clock: issues strictly increasing {@link Stamp}s that stay close to wall time.
 *
 * <ul>
 *   <li>{@link #tick()} returns a stamp greater than every stamp this clock issued or observed,
 *       even when the wall clock jumps backwards.</li>
 *   <li>{@link #observe(Stamp)} advances the clock past a remote stamp, unless that stamp is more
 *       than {@code maxAheadMillis} ahead of the local wall clock: then it throws
 *       {@link ClockSkewException} and the clock is unchanged.</li>
 *   <li>{@link #restore(long)} raises the clock to a persisted high-water mark, which is how it
 *       never goes backwards across restarts.</li>
 * </ul>
 *
 * <p>When the 16-bit counter overflows within one millisecond the stamp moves into the next
 * millisecond: order is kept and the drift is bounded by the write rate. Thread-safe.
 */
public final class HybridClock {

    private final WallClock wall;
    private final String replica;
    private final long maxAheadMillis;
    private long last;

    /**
     * A clock starting at 0 (call {@link #restore} with the persisted high-water mark before the first tick).
     *
     * @param wall the physical time source
     * @param replica the id every stamp carries; IllegalArgumentException unless 1-64 characters of
     *     A-Z, a-z, 0-9, '-' and '_'
     * @param maxAheadMillis how far (ms) a remote stamp may lie ahead of {@code wall} before
     *     {@link #observe} refuses it; IllegalArgumentException if negative
     */
    public HybridClock(WallClock wall, String replica, long maxAheadMillis) {
        this.wall = Objects.requireNonNull(wall, "wall");
        this.replica = new Stamp(0, replica).replica(); // validates the id
        if (maxAheadMillis < 0) {
            throw new IllegalArgumentException("maxAheadMillis must be >= 0: " + maxAheadMillis);
        }
        this.maxAheadMillis = maxAheadMillis;
    }

    /** The replica id this clock writes into every stamp it issues. */
    public String replica() {
        return replica;
    }

    /** The bound, in milliseconds, on how far ahead of the wall clock an observed stamp may be. */
    public long maxAheadMillis() {
        return maxAheadMillis;
    }

    /** A new stamp, strictly greater than any issued or observed before. */
    public synchronized Stamp tick() {
        long physical = Stamp.pack(clampMillis(wall.millis()), 0);
        last = physical > last ? physical : last + 1;
        return new Stamp(last, replica);
    }

    /** Advances past a remote stamp, or refuses one too far in the future. */
    public synchronized void observe(Stamp remote) {
        check(remote);
        if (remote.hlc() > last) {
            last = remote.hlc();
        }
    }

    /**
     * Advances past a stamp without the bound check: for stamps a trusted party (the sync server,
     * which enforces its own bound) already accepted. A device whose clock lags must still take them.
     */
    public synchronized void advance(Stamp trusted) {
        if (trusted.hlc() > last) {
            last = trusted.hlc();
        }
    }

    /** Throws {@link ClockSkewException} if the stamp is further ahead than the bound; changes nothing. */
    public void check(Stamp remote) {
        long local = wall.millis();
        long ahead = remote.millis() - local;
        if (ahead > maxAheadMillis) {
            throw new ClockSkewException(remote.millis(), local, maxAheadMillis);
        }
    }

    /** Raises the clock to a persisted high-water mark (never lowers it). */
    public synchronized void restore(long hlc) {
        if (hlc > last) {
            last = hlc;
        }
    }

    /** The highest hlc issued or observed, for persisting. */
    public synchronized long last() {
        return last;
    }

    private static long clampMillis(long millis) {
        return Math.max(0, Math.min(millis, Stamp.MAX_MILLIS));
    }
}
