package dev.cairn.engine.clock;

import java.util.Objects;

/**
 * A hybrid-logical-clock stamp plus the writer's replica id: the total order every merge uses.
 *
 * <p>{@code hlc} packs 48 bits of wall-clock milliseconds above a 16-bit logical counter, so two
 * stamps compare by time, then counter, then replica id (the tie-break between replicas that
 * stamped in the same millisecond and counter). The order is identical on every replica.
 *
 * <p>The text form {@code 0190a1b2c3d40001@replica} is 16 lower-case hex digits, {@code @},
 * and the replica id. Comparing two text forms as strings gives the same order as
 * {@link #compareTo}, which lets the JavaScript client compare stamps without 64-bit integers.
 */
public record Stamp(long hlc, String replica) implements Comparable<Stamp> {

    /** Width of the logical counter in the low bits of {@code hlc}. */
    public static final int COUNTER_BITS = 16;
    /** Largest wall time a stamp can carry: the packed hlc must stay a non-negative long (year 6429). */
    public static final long MAX_MILLIS = (1L << 47) - 1;
    /** Mask of the counter bits of {@code hlc}; also the largest counter (65535). */
    public static final long COUNTER_MASK = (1L << COUNTER_BITS) - 1;

    /**
     * Checks the parts: IllegalArgumentException if {@code hlc} is negative or the replica id is
     * not 1-64 characters of A-Z, a-z, 0-9, '-' and '_'; NullPointerException if it is null.
     */
    public Stamp {
        Objects.requireNonNull(replica, "replica");
        if (hlc < 0) {
            throw new IllegalArgumentException("stamp hlc must be non-negative: " + hlc);
        }
        if (!isValidReplicaId(replica)) {
            throw new IllegalArgumentException("invalid replica id '" + replica
                    + "': use 1-64 characters of A-Z, a-z, 0-9, '-' and '_'");
        }
    }

    /** Replica ids are 1 to 64 characters of A-Z, a-z, 0-9, '-' and '_' (checked on every stamp, so no regex). */
    public static boolean isValidReplicaId(String id) {
        int n = id.length();
        if (n == 0 || n > 64) {
            return false;
        }
        for (int i = 0; i < n; i++) {
            char c = id.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    /**
     * The {@code hlc} of a wall time and counter: millis in the high 48 bits, counter in the low 16.
     * IllegalArgumentException if millis is outside 0..{@link #MAX_MILLIS} or counter outside 0..65535.
     */
    public static long pack(long millis, int counter) {
        if (millis < 0 || millis > MAX_MILLIS) {
            throw new IllegalArgumentException("millis out of 48-bit range: " + millis);
        }
        if (counter < 0 || counter > COUNTER_MASK) {
            throw new IllegalArgumentException("counter out of 16-bit range: " + counter);
        }
        return (millis << COUNTER_BITS) | counter;
    }

    /** The wall time, in milliseconds since the epoch, packed in an {@code hlc}. */
    public static long millisOf(long hlc) {
        return hlc >>> COUNTER_BITS;
    }

    /** This stamp's wall time, in milliseconds since the epoch. */
    public long millis() {
        return millisOf(hlc);
    }

    /** This stamp's logical counter within its millisecond (0..65535). */
    public int counter() {
        return (int) (hlc & COUNTER_MASK);
    }

    @Override
    public int compareTo(Stamp other) {
        int byClock = Long.compare(hlc, other.hlc);
        return byClock != 0 ? byClock : replica.compareTo(other.replica);
    }

    /** Whether this stamp orders after {@code other}, so its write wins (false for an equal stamp). */
    public boolean isAfter(Stamp other) {
        return compareTo(other) > 0;
    }

    /** The text form, e.g. {@code 0190a1b2c3d40001@phone-1}. */
    @Override
    public String toString() {
        String hex = Long.toHexString(hlc);
        StringBuilder out = new StringBuilder(17 + replica.length());
        for (int i = hex.length(); i < 16; i++) {
            out.append('0');
        }
        return out.append(hex).append('@').append(replica).toString();
    }

    /** Parses the text form; a malformed stamp is an {@link IllegalArgumentException} naming it. */
    public static Stamp parse(String text) {
        if (text == null || text.length() < 18 || text.charAt(16) != '@') {
            throw new IllegalArgumentException("malformed stamp '" + text + "': expected 16 hex digits, '@', replica id");
        }
        long hlc = 0;
        for (int i = 0; i < 16; i++) {
            char c = text.charAt(i);
            // ASCII only: Character.digit would also accept e.g. Arabic-Indic or fullwidth digits.
            int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (digit < 0) {
                throw new IllegalArgumentException("malformed stamp '" + text + "': expected lower-case hex digits");
            }
            hlc = (hlc << 4) | digit;
        }
        if (hlc < 0) {
            // A valid 16-hex-digit stamp, only later than year 6429: too far ahead for any clock
            // bound, so it is refused as early (clock-skew, PROTOCOL.md 3.3), never as malformed.
            throw new TooFarAheadException(text);
        }
        return new Stamp(hlc, text.substring(17));
    }

    /**
     * A well-formed stamp whose hlc has its top bit set (8000000000000000 and above): later than
     * {@link #MAX_MILLIS}, so further ahead than any clock bound allows. Not malformed: a receiver
     * treats it as it treats any stamp too far ahead.
     */
    public static final class TooFarAheadException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;

        /**
         * An exception whose message quotes the stamp.
         *
         * @param text the stamp's text form
         */
        public TooFarAheadException(String text) {
            super("stamp '" + text + "' is too far ahead: its time is beyond year 6429, later than any clock allows");
        }
    }
}
