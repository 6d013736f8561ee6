package dev.cairn.engine;

import dev.cairn.engine.clock.WallClock;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/** A wall clock the test moves by hand (forwards or backwards). */
final class ManualWallClock implements WallClock {

    /** 2025-06-15T12:00:00Z: a realistic epoch for stamps. */
    static final long START = 1_750_000_000_000L;

    private final AtomicLong now;

    ManualWallClock() {
        this(START);
    }

    ManualWallClock(long start) {
        this.now = new AtomicLong(start);
    }

    @Override
    public long millis() {
        return now.get();
    }

    void advance(Duration d) {
        now.addAndGet(d.toMillis());
    }

    void set(long millis) {
        now.set(millis);
    }
}
