package dev.cairn.server.faults;

import dev.cairn.engine.clock.WallClock;
import java.util.concurrent.atomic.AtomicLong;

/** A device's wall clock: real time plus an offset the test sets (e.g. +24 h) and changes mid-run (a jump). */
final class OffsetClock implements WallClock {

    private final AtomicLong offset;

    OffsetClock(long offsetMillis) {
        this.offset = new AtomicLong(offsetMillis);
    }

    @Override
    public long millis() {
        return System.currentTimeMillis() + offset.get();
    }

    void offset(long millis) {
        offset.set(millis);
    }
}
