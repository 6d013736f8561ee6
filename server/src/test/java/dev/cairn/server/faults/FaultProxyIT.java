package dev.cairn.server.faults;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.clock.WallClock;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.section.SectionSpec;
import dev.cairn.server.TestServer;
import dev.cairn.server.store.TestDatabase;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 5, real stack through a fault proxy: N devices of one user, each a real engine (durable
 * journal store) with a real {@code SyncClient}, each through its own {@link FaultProxy} route to a
 * real server, write random changes while a seeded schedule of fault episodes runs: partitions
 * (blackhole), delays, slow links, cuts, resets, refused connections and combinations. After the
 * last heal every device and the server must converge within 10 s, with 0 lost changes, nothing
 * twice in the server's log, and the server's state equal to folding every change written.
 *
 * <p>CI: 1,000 changes, 9 episodes (every kind once, two partitions and a last partition; the
 * combo partitions one more device), ~18 s of faults per store. Long ({@code CAIRN_LONG=1}): {@code CAIRN_MINUTES} (default
 * 30) minutes of random episodes, 100,000 changes (scaled down for fewer minutes unless
 * {@code CAIRN_CHANGES} says), 4 devices,
 * PostgreSQL; after every partition (and combo) the writes pause and the run checks convergence
 * within 10 s and the ledger (every change so far acknowledged, none lost or twice), so the long
 * run measures many convergence times, not one. The seed fixes the schedule and the operations,
 * not the thread timing.
 *
 * <p>Client settings: keepalive 2 s (a ping after 2 s of silence, the connection dropped 2 s later
 * without an answer: a blackholed connection is given up after at most ~4.5 s), connect timeout
 * 2 s (a handshake swallowed by a partition), reconnect backoff 50 ms .. 1 s. With the defaults
 * (keepalive 20 s, connect timeout 15 s, backoff up to 30 s) a blackholed connection is only
 * noticed after 40-45 s.
 */
class FaultProxyIT {

    static final Duration KEEP_ALIVE = Duration.ofSeconds(2);
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(2);
    static final Duration CONVERGE_WITHIN = Duration.ofSeconds(10);

    enum Kind { PARTITION, DELAY, SLOW, CUT, RESET, REFUSE, COMBO }

    /** One fault episode: from {@code start} to {@code end} (ms after the run began) on some devices. */
    record Episode(int index, Kind kind, long start, long end, List<Integer> targets, long a, long b) {
    }

    /** How big a run is. */
    record Plan(int devices, int changes, long faultMillis, int minPartitions, long maxPartitionMillis, boolean drawn) {
        /** About 18 s: 8 episodes (every kind, 2 partitions) and a last partition. */
        static Plan ci() {
            return new Plan(3, 1_000, 0, 3, 3_000, false);
        }

        static Plan longRun() {
            String minutes = System.getenv().getOrDefault("CAIRN_MINUTES", System.getProperty("cairn.minutes", "30"));
            long millis = (long) (Double.parseDouble(minutes) * 60_000);
            String changes = System.getenv("CAIRN_CHANGES");
            int n = changes != null ? Integer.parseInt(changes) : (int) Math.max(1_000, 100_000 * millis / 1_800_000);
            return new Plan(4, n, millis, 3, 20_000, true);
        }
    }

    @Test
    void postgres(@TempDir Path dir) {
        Vertx admin = Vertx.vertx();
        try (TestDatabase db = TestDatabase.create(admin);
             TestServer server = TestServer.postgres(db.url()).limits(1 << 20, 1000, 500, 200).start()) {
            run("FaultProxyIT.postgres", server, dir, RunMode.longRun() ? Plan.longRun() : Plan.ci());
        } finally {
            TestServer.await(admin.close());
        }
    }

    @Test
    void embedded(@TempDir Path dir) {
        try (TestServer server = TestServer.embedded().limits(1 << 20, 1000, 500, 200).start()) {
            run("FaultProxyIT.embedded", server, dir, Plan.ci()); // the long run is on PostgreSQL
        }
    }

    // ------------------------------------------------------------------ the run

    private void run(String test, TestServer server, Path dir, Plan plan) {
        long seed = RunMode.seed(test);
        long t0 = System.nanoTime();
        Random random = new Random(seed);
        String user = "fault-" + UUID.randomUUID().toString().substring(0, 8);
        String token = server.token(user);
        List<Episode> schedule = schedule(new Random(random.nextLong()), plan);
        List<FaultDevice> devices = new ArrayList<>();
        List<FaultProxy> proxies = new ArrayList<>();
        try {
            for (int i = 0; i < plan.devices(); i++) {
                FaultProxy proxy = FaultProxy.start("127.0.0.1", server.port(), random.nextLong());
                proxies.add(proxy);
                Random jitter = new Random(random.nextLong());
                devices.add(FaultDevice.open("dev-" + i, dir.resolve("dev-" + i), server.syncUri(), token, WallClock.system(), proxy,
                        b -> b.keepAlive(KEEP_ALIVE).connectTimeout(CONNECT_TIMEOUT).backoff(Duration.ofMillis(50), Duration.ofSeconds(1))
                                .random(jitter)));
            }
            devices.forEach(d -> d.sync.start());
            System.out.println(test + " setup took " + (System.nanoTime() - t0) / 1_000_000 + " ms");
            Writer writer = new Writer(new Random(random.nextLong()), devices);

            // writes at a steady rate while the episodes come and go, the last one until the last heal
            long writeMillis = schedule.get(schedule.size() - 1).end();
            long began = System.nanoTime();
            int next = 0;
            Episode active = null;
            Map<Kind, Integer> counts = new EnumMap<>(Kind.class);
            long lastProgress = 0;
            long maxConverged = 0;
            int checkpoints = 0;
            while (true) {
                long now = (System.nanoTime() - began) / 1_000_000;
                if (active != null && now >= active.end()) {
                    if (next == schedule.size()) {
                        while (writer.changes() < plan.changes()) {
                            writer.step(); // the last few, before the last heal
                        }
                    }
                    heal(active, proxies);
                    if (plan.drawn() && next < schedule.size() && (active.kind() == Kind.PARTITION || active.kind() == Kind.COMBO)) {
                        // long run: after each partition, stop writing and check convergence and the ledger
                        long healed = System.nanoTime();
                        long ms = converge(server, user, devices, healed, "the heal of episode " + active, seed);
                        maxConverged = Math.max(maxConverged, ms);
                        checkpoints++;
                        assertLedger(server, user, devices, seed);
                        began += System.nanoTime() - healed; // the pause does not count as fault time
                    }
                    active = null;
                }
                if (active == null && next < schedule.size() && now >= schedule.get(next).start()) {
                    active = schedule.get(next++);
                    apply(active, proxies);
                    counts.merge(active.kind(), 1, Integer::sum);
                }
                long due = Math.min(plan.changes(), plan.changes() * now / writeMillis);
                while (writer.changes() < due) {
                    writer.step();
                }
                if (active == null && next == schedule.size() && writer.changes() >= plan.changes()) {
                    break;
                }
                if (now - lastProgress >= 60_000) {
                    lastProgress = now;
                    System.out.println(test + " progress: " + now / 1000 + " s, episodes " + next + "/" + schedule.size()
                            + ", changes " + writer.changes() + " " + devices.stream().map(FaultDevice::describe).collect(Collectors.joining(" ")));
                }
                sleep(5);
            }
            long healedAt = System.nanoTime(); // the loop ends right after the last heal
            long faultMillis = (healedAt - began) / 1_000_000;

            // converge: every outbox empty, every device and the server byte-identical
            Function<String, SectionKind> kinds = kinds(devices.get(0));
            long convergedMillis = converge(server, user, devices, healedAt, "the last heal", seed);
            System.out.println(test + " converged " + convergedMillis + " ms after the last heal");
            maxConverged = Math.max(maxConverged, convergedMillis);

            // 0 lost, 0 duplicated, equal to folding everything written
            List<Change> written = new ArrayList<>();
            devices.forEach(d -> written.addAll(d.made()));
            Ledger.ServerLog log = Ledger.read(server, user, kinds);
            String serverCanonical = server.canonical(user);
            List<String> lost = Ledger.lost(written, log.state());
            List<String> dups = Ledger.duplicates(log);
            long dropped = devices.stream().mapToLong(d -> d.droppedReports.get()).sum();
            String summary = test + " seed=" + seed + " devices=" + plan.devices() + " minutes=" + String.format("%.1f", faultMillis / 60_000.0)
                    + " episodes=" + schedule.size() + " " + counts + " changes=" + written.size() + " serverLog=" + log.entries().size()
                    + " reconnects=" + proxies.stream().mapToLong(FaultProxy::linksOpened).sum()
                    + " refused=" + proxies.stream().mapToLong(FaultProxy::refused).sum()
                    + " lost=" + lost.size() + " duplicates=" + dups.size() + " dropped=" + dropped
                    + " convergedMs=" + convergedMillis + " checkpoints=" + checkpoints + " maxConvergedMs=" + maxConverged;
            System.out.println(summary);
            assertEquals(List.of(), lost.subList(0, Math.min(20, lost.size())), "lost changes (seed " + seed + ")");
            assertEquals(List.of(), dups.subList(0, Math.min(20, dups.size())), "duplicates (seed " + seed + ")");
            assertEquals(0, dropped, "a device dropped changes as refused (seed " + seed + ")");
            assertEquals(Ledger.fold(written, kinds), serverCanonical,
                    "the server's state must equal folding every change written (seed " + seed + ")");
            assertTrue(written.size() >= plan.changes(), "only " + written.size() + " changes written");
            assertTrue(counts.getOrDefault(Kind.PARTITION, 0) >= plan.minPartitions(), "partitions: " + counts);
            if (plan.faultMillis() >= 1_800_000) {
                assertTrue(schedule.size() >= 50 && written.size() >= 100_000, "the 30-minute run needs >= 50 episodes and >= 100,000 changes");
            }
        } finally {
            long closing = System.nanoTime();
            for (FaultDevice d : devices) {
                d.close();
            }
            proxies.forEach(FaultProxy::close);
            System.out.println(test + " closing took " + (System.nanoTime() - closing) / 1_000_000 + " ms, whole run "
                    + (System.nanoTime() - t0) / 1_000_000 + " ms");
        }
    }

    /**
     * Waits until every device and the server agree (failing after 90 s), and fails if that took
     * longer than {@link #CONVERGE_WITHIN}; returns the milliseconds since {@code healedAt}.
     */
    private static long converge(TestServer server, String user, List<FaultDevice> devices, long healedAt, String after, long seed) {
        long giveUp = healedAt + Duration.ofSeconds(90).toNanos();
        String verdict;
        while (true) {
            verdict = notConverged(server, user, devices);
            if (verdict == null || System.nanoTime() > giveUp) {
                break;
            }
            sleep(20);
        }
        long ms = (System.nanoTime() - healedAt) / 1_000_000;
        assertEquals(null, verdict, "not converged " + ms + " ms after " + after + " (seed " + seed + ")");
        assertTrue(ms <= CONVERGE_WITHIN.toMillis(),
                "converged only " + ms + " ms after " + after + " (limit " + CONVERGE_WITHIN.toMillis() + " ms, seed " + seed + ")");
        return ms;
    }

    /** Converged with every outbox empty: every change written so far was acknowledged; none may be missing or twice. */
    private static void assertLedger(TestServer server, String user, List<FaultDevice> devices, long seed) {
        List<Change> written = new ArrayList<>();
        devices.forEach(d -> written.addAll(d.made()));
        Ledger.ServerLog log = Ledger.read(server, user, kinds(devices.get(0)));
        List<String> lost = Ledger.lost(written, log.state());
        List<String> dups = Ledger.duplicates(log);
        assertEquals(List.of(), lost.subList(0, Math.min(20, lost.size())), "lost changes (seed " + seed + ")");
        assertEquals(List.of(), dups.subList(0, Math.min(20, dups.size())), "duplicates (seed " + seed + ")");
    }

    /** Null when converged, else what still differs. */
    private static String notConverged(TestServer server, String user, List<FaultDevice> devices) {
        for (FaultDevice d : devices) {
            if (d.cairn.pendingChanges() != 0) {
                return d.describe() + " has unacknowledged changes";
            }
        }
        String serverState = server.canonical(user);
        for (FaultDevice d : devices) {
            if (!d.cairn.canonicalState().equals(serverState)) {
                return d.describe() + " differs from the server";
            }
        }
        return null;
    }

    static Function<String, SectionKind> kinds(FaultDevice d) {
        Map<String, SectionSpec> specs = d.cairn.sections();
        return name -> {
            SectionSpec spec = specs.get(name);
            if (spec == null) {
                throw new IllegalArgumentException("unknown section " + name);
            }
            return spec.kind();
        };
    }

    // ------------------------------------------------------------------ the schedule

    static List<Episode> schedule(Random r, Plan plan) {
        List<Kind> kinds = new ArrayList<>();
        List<long[]> times = new ArrayList<>();
        // CI: every kind once and two partitions, shuffled; long: random draws until the window is full
        List<Kind> bag = new ArrayList<>();
        if (!plan.drawn()) {
            bag.addAll(List.of(Kind.PARTITION, Kind.PARTITION, Kind.DELAY, Kind.SLOW, Kind.CUT, Kind.RESET, Kind.REFUSE, Kind.COMBO));
            java.util.Collections.shuffle(bag, r);
        }
        double scale = plan.drawn() ? 1.0 : 0.5; // CI episodes are shorter
        long t = 1_000; // let everyone connect first
        for (int i = 0; ; i++) {
            Kind kind;
            if (plan.drawn()) {
                kind = Kind.values()[r.nextInt(Kind.values().length)];
            } else if (i < bag.size()) {
                kind = bag.get(i);
            } else {
                break;
            }
            long gap = (long) (scale * (300 + r.nextInt(r.nextInt(10) == 0 ? 5_000 : 1_200)));
            long length = length(kind, r, plan, scale);
            if (plan.drawn() && t + gap + length > plan.faultMillis()) {
                break;
            }
            kinds.add(kind);
            times.add(new long[] {t + gap, t + gap + length});
            t += gap + length;
        }
        // the last episode is a partition: writes go on until it heals, so converging after the
        // last heal needs the dead connections found (keepalive) and the backlog pushed
        long gap = 300 + r.nextInt(700);
        long length = length(Kind.PARTITION, r, plan, scale);
        kinds.add(Kind.PARTITION);
        times.add(new long[] {t + gap, t + gap + length});
        long partitions = kinds.stream().filter(k -> k == Kind.PARTITION).count();
        for (int i = 0; i < kinds.size() && partitions < plan.minPartitions(); i++) {
            if (kinds.get(i) != Kind.PARTITION) { // a short draw: turn an early episode into a partition
                kinds.set(i, Kind.PARTITION);
                times.get(i)[1] = times.get(i)[0] + 1_500; // may overlap the next one, which then starts later
                partitions++;
            }
        }
        if (partitions < plan.minPartitions()) {
            throw new IllegalStateException("the schedule has only " + partitions + " partitions, wanted " + plan.minPartitions());
        }
        List<Episode> out = new ArrayList<>();
        for (int i = 0; i < kinds.size(); i++) {
            Kind kind = kinds.get(i);
            List<Integer> targets = new ArrayList<>();
            for (int d = 0; d < plan.devices(); d++) {
                targets.add(d);
            }
            java.util.Collections.shuffle(targets, r);
            // partitions: sometimes every device (the server unreachable), usually some
            int n = kind == Kind.COMBO ? plan.devices() : 1 + r.nextInt(plan.devices());
            long a = switch (kind) {
                case DELAY -> 50 + r.nextInt(350);
                case SLOW -> 8_000 + r.nextInt(40_000);
                default -> 0;
            };
            long b = kind == Kind.DELAY ? r.nextInt(200) : 0;
            out.add(new Episode(i, kind, times.get(i)[0], times.get(i)[1], List.copyOf(targets.subList(0, n)), a, b));
        }
        return out;
    }

    private static long length(Kind kind, Random r, Plan plan, double scale) {
        return switch (kind) {
            case PARTITION -> 1_500 + (long) (r.nextDouble() * (plan.maxPartitionMillis() - 1_500));
            case DELAY, SLOW, REFUSE -> (long) (scale * (1_500 + r.nextInt(2_500)));
            case CUT, RESET -> 100;
            case COMBO -> (long) (scale * (3_000 + r.nextInt(3_000)));
        };
    }

    private static void apply(Episode e, List<FaultProxy> proxies) {
        List<FaultProxy> on = e.targets().stream().map(proxies::get).collect(Collectors.toList());
        switch (e.kind()) {
            case PARTITION -> on.forEach(p -> p.faults().drop(true));
            case DELAY -> on.forEach(p -> p.faults().delay(e.a(), e.b()));
            case SLOW -> on.forEach(p -> p.faults().bandwidth(e.a()));
            case CUT -> on.forEach(FaultProxy::cutAll);
            case RESET -> on.forEach(FaultProxy::resetAll);
            case REFUSE -> on.forEach(p -> {
                p.refuseNew(true);
                p.resetAll();
            });
            case COMBO -> {
                // one partitioned, one delayed, one slow, the rest reset (and refused for a while)
                on.get(0).faults().drop(true);
                on.get(1).faults().delay(200, 150);
                on.get(2).faults().bandwidth(10_000);
                for (int i = 3; i < on.size(); i++) {
                    on.get(i).refuseNew(true);
                    on.get(i).resetAll();
                }
            }
        }
    }

    private static void heal(Episode e, List<FaultProxy> proxies) {
        e.targets().forEach(i -> proxies.get(i).heal());
    }

    // ------------------------------------------------------------------ the changes

    /** Random changes on random devices: map puts/deletes, card fields, chat appends, now and then a clear. */
    static final class Writer {
        private final Random r;
        private final List<FaultDevice> devices;
        private long ops;

        Writer(Random r, List<FaultDevice> devices) {
            this.r = r;
            this.devices = devices;
        }

        long changes() {
            long n = 0;
            for (FaultDevice d : devices) {
                n += d.madeCount();
            }
            return n;
        }

        void step() {
            int i = r.nextInt(devices.size());
            FaultDevice d = devices.get(i);
            long op = ++ops;
            double x = r.nextDouble();
            if (x < 0.30) {
                d.cairn.ui().put("k" + r.nextInt(40), r.nextBoolean() ? op : "v" + op);
            } else if (x < 0.40) {
                String key = "k" + r.nextInt(40);
                if (d.cairn.ui().contains(key)) {
                    d.cairn.ui().remove(key);
                } else {
                    d.cairn.ui().put(key, op);
                }
            } else if (x < 0.55) {
                var card = d.cairn.cards().card("c" + r.nextInt(8));
                switch (r.nextInt(3)) {
                    case 0 -> card.toggle();
                    case 1 -> card.setVisible(r.nextBoolean());
                    default -> card.putCustomData("n", op);
                }
            } else if (x < 0.88) {
                d.cairn.chat().append("conv-" + r.nextInt(4), r.nextBoolean() ? "user" : "assistant", d.name + "#" + op);
            } else if (x < 0.995) {
                d.cairn.map("state").put("s" + r.nextInt(30), Map.of("n", op, "by", d.name));
            } else if (r.nextBoolean()) {
                d.cairn.chat().clear("conv-" + r.nextInt(4));
            } else {
                d.cairn.ui().clear();
            }
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
