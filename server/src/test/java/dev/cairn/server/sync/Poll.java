package dev.cairn.server.sync;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/** Waits for a condition with a deadline (never a fixed sleep): fails with a message saying what was awaited and what was seen. */
final class Poll {

    /** Default deadline for anything a live sync should deliver. */
    static final Duration DEADLINE = Duration.ofSeconds(15);

    private Poll() {
    }

    static void until(String what, BooleanSupplier condition, Supplier<String> seen) {
        until(what, DEADLINE, condition, seen);
    }

    static void until(String what, Duration deadline, BooleanSupplier condition, Supplier<String> seen) {
        long end = System.nanoTime() + deadline.toNanos();
        while (true) {
            if (condition.getAsBoolean()) {
                return;
            }
            if (System.nanoTime() - end > 0) {
                throw new AssertionError("timed out after " + deadline.toMillis() + " ms waiting for " + what + "; seen: " + seen.get());
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while waiting for " + what, e);
            }
        }
    }
}
