package dev.cairn.server.sync;

import dev.cairn.engine.clock.WallClock;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A wall clock a test sets by hand, so which of two concurrent writes wins (the later stamp) is
 * decided by the test, not by scheduling. Starts at a given real time: stamps must stay within
 * the server's and the other devices' {@code maxAhead} bound of their clocks.
 */
final class ManualClock implements WallClock {

    private final AtomicLong now;

    ManualClock(long start) {
        this.now = new AtomicLong(start);
    }

    @Override
    public long millis() {
        return now.get();
    }

    void set(long millis) {
        now.set(millis);
    }
}
