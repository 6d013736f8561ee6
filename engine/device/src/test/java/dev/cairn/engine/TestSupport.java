package dev.cairn.engine;

import dev.cairn.engine.sync.internal.SyncPorts;
import static org.junit.jupiter.api.Assertions.fail;

import dev.cairn.engine.crdt.Change;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

/** Polling with a deadline (instead of fixed sleeps) and small engine helpers. */
final class TestSupport {

    /** Generous: only reached when something is broken, so a loaded machine does not flake. */
    static final Duration PATIENCE = Duration.ofSeconds(10);

    private TestSupport() {
    }

    /** Polls until {@code condition} holds; fails naming {@code what} after {@link #PATIENCE}. */
    static void await(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out after " + PATIENCE + " waiting for: " + what);
            }
            pause(2);
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

    static Cairn inMemory(String replica) {
        return Cairn.builder().inMemory().replicaId(replica).open();
    }

    static Cairn inMemory(String replica, ManualWallClock clock) {
        return Cairn.builder().inMemory().replicaId(replica).wallClock(clock).open();
    }

    /** Every committed outbox change, oldest first (after {@code save().join()}). */
    static List<Change> outbox(Cairn cairn) {
        return new ArrayList<>(SyncPorts.of(cairn).outbox(Integer.MAX_VALUE).values());
    }

    /** Committed outbox changes that touch {@code section/target}. */
    static long outboxCount(Cairn cairn, String section, String target) {
        return SyncPorts.of(cairn).outbox(Integer.MAX_VALUE).values().stream()
                .filter(c -> c.section().equals(section) && c.target().equals(target))
                .count();
    }

    /** Saves {@code from} and applies its whole outbox to {@code to}; returns how many changed {@code to}. */
    static int ship(Cairn from, Cairn to) {
        from.save().join();
        return SyncPorts.of(to).applyRemote(outbox(from));
    }
}
