package dev.cairn.engine.sync;

import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/** Polling with deadlines (no fixed sleeps) and a predictable jitter source. */
final class SyncTestSupport {

    /** Generous: only reached when something is broken. */
    static final Duration PATIENCE = Duration.ofSeconds(10);

    private SyncTestSupport() {
    }

    static void await(String what, BooleanSupplier condition) {
        await(what, condition, () -> "");
    }

    /** Polls until {@code condition} holds; on timeout fails naming {@code what} and {@code state}. */
    static void await(String what, BooleanSupplier condition, Supplier<String> state) {
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out after " + PATIENCE + " waiting for: " + what + " " + state.get());
            }
            pause(2);
        }
    }

    /** Asserts that {@code condition} stays true for {@code millis} (for "nothing happens" checks). */
    static void holds(String what, long millis, BooleanSupplier condition) {
        long end = System.nanoTime() + Duration.ofMillis(millis).toNanos();
        while (System.nanoTime() < end) {
            if (!condition.getAsBoolean()) {
                fail("no longer true: " + what);
            }
            pause(5);
        }
    }

    static void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    /** Jitter that records each bound it is asked for and answers {@code bound - 1 - offset} clamped at 0, or 0. */
    static final class RecordingRandom extends Random {
        private static final long serialVersionUID = 1L;
        final List<Long> bounds = new CopyOnWriteArrayList<>();
        private final boolean highest;

        /** @param highest answer the largest allowed value instead of 0 */
        RecordingRandom(boolean highest) {
            super(42);
            this.highest = highest;
        }

        @Override
        public long nextLong(long bound) {
            bounds.add(bound);
            return highest ? bound - 1 : 0;
        }
    }
}
