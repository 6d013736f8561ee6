package dev.cairn.engine.clock;

/**
 * Source of physical time in milliseconds since the epoch. Injected everywhere time is read,
 * so tests can drive skew and backwards jumps with a manual clock.
 */
@FunctionalInterface
public interface WallClock {

    /** The current time in milliseconds since 1970-01-01T00:00Z; may jump backwards (the clock copes). */
    long millis();

    /** The system clock. */
    static WallClock system() {
        return System::currentTimeMillis;
    }
}
