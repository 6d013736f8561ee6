package dev.cairn.server.faults;

import dev.cairn.engine.sync.internal.SyncPorts;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.Cairn;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.sync.SyncState;
import dev.cairn.server.TestServer;
import dev.cairn.server.store.ServerStore;
import dev.cairn.server.store.TestDatabase;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 5, clock skew on the real stack (PostgreSQL, real engines and SyncClients): four devices of
 * one user write random changes while their wall clocks are off, and two clocks jump back mid-run:
 * <ul>
 *   <li>{@code dev-ok}: the real time;</li>
 *   <li>{@code dev-behind}: 24 h behind the whole run;</li>
 *   <li>{@code dev-jumper}: right at first, then jumps 24 h back;</li>
 *   <li>{@code dev-ahead}: 24 h ahead, then jumps back to the real time.</li>
 * </ul>
 * The server's bound ({@code maxAheadMillis}, 60 s) holds: no stamp in the server's store is more
 * than the bound ahead of the server's clock. {@code dev-ahead}'s pushes are answered with
 * {@code clock-skew}; its writes are not lost: they stay in its (durable) outbox, are retried
 * with a growing delay, show in its own state, and are still there after the engine is reopened.
 * Because its hybrid clock never goes back, even the writes after its wall clock was corrected
 * carry stamps 24 h ahead: all of them wait until the server's clock reaches them. The other
 * three devices and the server converge with 0 lost and 0 duplicates.
 */
class ClockSkewIT {

    static final long DAY = Duration.ofHours(24).toMillis();
    static final long MAX_AHEAD = 60_000;

    @Test
    void skewedClocksAreBoundedAndTheRestConverges(@TempDir Path dir) {
        long seed = RunMode.seed("ClockSkewIT");
        boolean longRun = RunMode.longRun();
        int changesPerPhase = longRun ? 20_000 : 400;
        long phaseMillis = longRun ? 300_000 : 3_000;
        Random random = new Random(seed);
        Vertx admin = Vertx.vertx();
        List<FaultDevice> devices = new ArrayList<>();
        try (TestDatabase db = TestDatabase.create(admin);
             TestServer server = TestServer.postgres(db.url()).maxAheadMillis(MAX_AHEAD).start()) {
            String user = "skew-" + UUID.randomUUID().toString().substring(0, 8);
            String token = server.token(user);
            OffsetClock ok = new OffsetClock(0);
            OffsetClock behind = new OffsetClock(-DAY);
            OffsetClock jumper = new OffsetClock(0);
            OffsetClock ahead = new OffsetClock(DAY);
            String[] names = {"dev-ok", "dev-behind", "dev-jumper", "dev-ahead"};
            OffsetClock[] clocks = {ok, behind, jumper, ahead};
            for (int i = 0; i < names.length; i++) {
                devices.add(FaultDevice.open(names[i], dir.resolve(names[i]), server.syncUri(), token, clocks[i], null,
                        b -> b.backoff(Duration.ofMillis(50), Duration.ofSeconds(1))
                                .clockSkewRetry(Duration.ofMillis(500), Duration.ofSeconds(2))));
            }
            FaultDevice devAhead = devices.get(3);
            List<FaultDevice> fine = new ArrayList<>(devices.subList(0, 3));
            devices.forEach(d -> d.sync.start());
            poll("every device LIVE", Duration.ofSeconds(15), () -> devices.stream().allMatch(d -> d.sync.status().isLive()), () -> describe(devices));

            FaultProxyIT.Writer writer = new FaultProxyIT.Writer(new Random(random.nextLong()), devices);
            write(writer, changesPerPhase, phaseMillis);
            // mid-run: two clocks jump back a day
            jumper.offset(-DAY);
            ahead.offset(0);
            write(writer, 2L * changesPerPhase, phaseMillis);

            // the three others and the server converge
            Function<String, SectionKind> kinds = FaultProxyIT.kinds(devices.get(0));
            poll("dev-ok, dev-behind, dev-jumper and the server to converge", Duration.ofSeconds(30), () -> {
                String s = server.canonical(user);
                return fine.stream().allMatch(d -> d.cairn.pendingChanges() == 0 && d.cairn.canonicalState().equals(s));
            }, () -> describe(devices));
            Ledger.ServerLog log = Ledger.read(server, user, kinds);
            List<Change> writtenByOthers = new ArrayList<>();
            fine.forEach(d -> writtenByOthers.addAll(d.made()));
            assertEquals(List.of(), Ledger.lost(writtenByOthers, log.state()), "lost changes (seed " + seed + ")");
            assertEquals(List.of(), Ledger.duplicates(log), "duplicates (seed " + seed + ")");
            assertEquals(Ledger.fold(writtenByOthers, kinds), server.canonical(user),
                    "the server's state must be exactly the others' writes (seed " + seed + ")");

            // the server's bound held: nothing in its store is more than maxAhead ahead of its clock
            long serverNow = System.currentTimeMillis();
            long maxStamp = log.entries().stream().mapToLong(s -> s.change().stamp().millis()).max().orElse(0);
            assertTrue(maxStamp <= serverNow + MAX_AHEAD, "a stamp " + (maxStamp - serverNow) + " ms ahead of the server's clock was accepted");
            List<ServerStore.Sequenced> fromAhead = log.entries().stream()
                    .filter(s -> s.change().stamp().replica().equals("dev-ahead")).collect(Collectors.toList());
            assertEquals(List.of(), fromAhead, "the server accepted changes stamped a day ahead");

            // dev-ahead: refused with clock-skew, every write kept in its outbox, visible to itself
            List<Change> aheadMade = devAhead.made();
            assertTrue(aheadMade.size() > 0, "dev-ahead wrote nothing");
            assertTrue(devAhead.clockSkewReports.get() > 0, "dev-ahead was never told clock-skew: " + devAhead.describe());
            assertEquals(0, devAhead.droppedReports.get(), "dev-ahead dropped changes: " + devAhead.describe());
            long minAhead = aheadMade.stream().mapToLong(c -> c.stamp().millis()).min().orElseThrow() - serverNow;
            assertTrue(minAhead > DAY - 3_600_000, "even writes after the clock was corrected keep stamps a day ahead (HLC never goes back): "
                    + minAhead + " ms");
            devAhead.cairn.save().join(); // outbox() shows committed entries only
            assertKept(aheadMade, SyncPorts.of(devAhead.cairn).outbox(Integer.MAX_VALUE).values(), kinds, "dev-ahead's outbox");
            assertEquals(SyncPorts.of(devAhead.cairn).outbox(Integer.MAX_VALUE).size(), devAhead.cairn.pendingChanges(), devAhead.describe());
            assertEquals(SyncState.LIVE, devAhead.sync.status().state(), "dev-ahead stays connected and pulls: " + devAhead.describe());
            poll("dev-ahead to hold the server's state plus its own writes", Duration.ofSeconds(15), () -> {
                List<Change> all = new ArrayList<>(writtenByOthers);
                all.addAll(aheadMade);
                return devAhead.cairn.canonicalState().equals(Ledger.fold(all, kinds));
            }, devAhead::describe);
            System.out.println("ClockSkewIT seed=" + seed + " devices=4 changes=" + (writtenByOthers.size() + aheadMade.size())
                    + " accepted=" + writtenByOthers.size() + " waitingOnDevAhead=" + aheadMade.size()
                    + " clockSkewReports=" + devAhead.clockSkewReports.get() + " maxStampAheadOfServerMs=" + (maxStamp - serverNow)
                    + " lost=0 duplicates=0");

            // and its outbox is durable: reopened, the engine still holds them
            devAhead.close();
            devices.remove(devAhead);
            try (Cairn reopened = Cairn.builder().dataDir(dir.resolve("dev-ahead")).replicaId("dev-ahead").wallClock(ahead).open()) {
                assertKept(aheadMade, SyncPorts.of(reopened).outbox(Integer.MAX_VALUE).values(), kinds, "dev-ahead's outbox after reopening");
            }
        } finally {
            for (FaultDevice d : devices) {
                d.close();
            }
            TestServer.await(admin.close());
        }
    }

    private static void write(FaultProxyIT.Writer writer, long upTo, long millis) {
        long start = writer.changes();
        long began = System.nanoTime();
        while (writer.changes() < upTo) {
            long elapsed = (System.nanoTime() - began) / 1_000_000;
            long due = start + (upTo - start) * Math.min(elapsed, millis) / millis;
            while (writer.changes() < Math.max(due, start + 1) && writer.changes() < upTo) {
                writer.step();
            }
            sleep(5);
        }
    }

    /**
     * Every write is in the outbox, or superseded by a later write in it (the engine coalesces
     * queued writes of one key, and a clear drops the queued appends it hides); the outbox holds
     * nothing else.
     */
    private static void assertKept(List<Change> made, java.util.Collection<Change> outbox, Function<String, SectionKind> kinds, String what) {
        Set<Stamp> inOutbox = new HashSet<>();
        outbox.forEach(c -> inOutbox.add(c.stamp()));
        Set<Stamp> madeStamps = new HashSet<>();
        made.forEach(c -> madeStamps.add(c.stamp()));
        List<Stamp> foreign = inOutbox.stream().filter(st -> !madeStamps.contains(st)).limit(10).collect(Collectors.toList());
        assertEquals(List.of(), foreign, what + " holds changes this device did not write");
        dev.cairn.engine.crdt.ReplicaState pending = new dev.cairn.engine.crdt.ReplicaState(kinds);
        outbox.forEach(pending::apply);
        List<Change> notThere = made.stream().filter(c -> !inOutbox.contains(c.stamp())).collect(Collectors.toList());
        List<String> lost = Ledger.lost(notThere, pending);
        assertEquals(List.of(), lost.subList(0, Math.min(10, lost.size())), what + ": writes neither kept nor superseded (of "
                + made.size() + " written, " + inOutbox.size() + " in the outbox)");
    }

    private static String describe(List<FaultDevice> devices) {
        return devices.stream().map(FaultDevice::describe).collect(Collectors.joining("\n"));
    }

    private static void poll(String what, Duration deadline, java.util.function.BooleanSupplier condition, java.util.function.Supplier<String> seen) {
        long end = System.nanoTime() + deadline.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out after " + deadline.toMillis() + " ms waiting for " + what + "; seen: " + seen.get());
            }
            sleep(20);
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }
}
