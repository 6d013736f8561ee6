package dev.cairn.server.faults;

import static dev.cairn.server.faults.FaultRun.log;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.clock.WallClock;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.server.TestServer;
import dev.cairn.server.TestTokens;
import dev.cairn.server.faults.FaultRun.ServerView;
import dev.cairn.server.faults.ServerKillIT.AppliedLog;
import dev.cairn.server.faults.ServerKillIT.Child;
import dev.cairn.server.store.PgServerStore;
import dev.cairn.server.store.TestDatabase;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 11 item 5: the browser client under faults. Two browser devices, each the real browser
 * client in its own Node process ({@link NodeDevice}, {@code demo-web/src/it/fault/device.mjs}:
 * cairn.js unchanged, IndexedDB from fake-indexeddb, Web Storage, {@code ws}), and one JVM device
 * (a real engine on its journal with a real {@code SyncClient}) of one user write seeded random
 * changes through their own {@link FaultProxy} to a real server in its own JVM
 * ({@link ServerChild}, PostgreSQL, restarted on the same port after every kill), while a seeded
 * schedule of episodes runs:
 * <ul>
 *   <li>{@code reset}: the targets' connections aborted (RST), again and again during the episode;</li>
 *   <li>{@code cut}: the targets' connections closed cleanly (FIN);</li>
 *   <li>{@code kill}: the server SIGKILLed, down for the episode, restarted;</li>
 *   <li>{@code drop}: the targets' links blackholed (bytes read and thrown away, sockets left open);
 *       the link stays dead after the heal until an endpoint gives it up;</li>
 *   <li>{@code storm}, a 1009 storm: the targets' proxies lie in the {@code welcome}
 *       ({@code maxFrameBytes} 1 MiB instead of the server's {@value #MAX_FRAME_BYTES},
 *       {@link FaultProxy#rewriteWelcome}); their connections are reset and refused while the
 *       targets write a burst of chat messages (each far below the limit, together far above
 *       it), then they reconnect through the lie with the burst in their outbox. A client that believes the welcome pushes frames over
 *       the limit and is closed with 1009; it must halve its push budget (spec/vectors/sync, Connection 5) and get
 *       everything through, during the lie or after it.</li>
 * </ul>
 * The server runs with {@code CAIRN_MAX_FRAME_BYTES} = {@value #MAX_FRAME_BYTES}: every ordinary
 * batch of 1,000 changes fits. After the last heal the writes stop; within
 * {@link #CONVERGE_WITHIN} every outbox must be empty and every device's canonical state
 * byte-equal to the server's (read from its PostgreSQL store); then 0 acknowledged changes lost
 * (acknowledged = a push and its ack seen on one socket, on the wire), 0 written changes missing,
 * nothing twice (the server children's applied logs and the server's log), and the server's
 * state equal to folding every change written. The long run also checks all of that after every
 * fifth episode.
 *
 * <p>Which kinds run: {@code CAIRN_BROWSER_FAULTS} (comma-separated, or {@code all}); by default
 * every kind. CI: about 40-50 s of episodes, every selected kind at least once. Long ({@code CAIRN_LONG=1}, {@code CAIRN_MINUTES}, default 30): random episodes
 * for that long. Seed: {@code CAIRN_SEED}. Node.js 18+ and {@code npm ci} in demo-web are required:
 * the test fails (never skips) without them.
 */
class BrowserClientFaultIT {

    enum Kind { RESET, CUT, KILL, DROP, STORM }

    static final int MAX_FRAME_BYTES = 256 << 10;
    /**
     * The browser devices run with Cairn.open's {@code sync} options set like the JVM device's
     * (keepalive 2 s, connect timeout 2 s, backoff 50 ms..1 s; device.mjs), so a dead socket is given
     * up within 4 s and a reconnect is at most 1 s away. Kept at 45 s, the bound of the runs with the
     * client's default 30 s backoff, so a heavily loaded machine does not fail it (the runs' figures
     * are in RELIABILITY.md).
     */
    static final Duration CONVERGE_WITHIN = Duration.ofSeconds(45);
    static final Duration GIVE_UP = Duration.ofSeconds(75);
    static final int BROWSERS = 2;
    /** Changes per 100 ms tick: each browser device, and the JVM device. */
    static final int BROWSER_RATE = 2;
    static final int JVM_RATE = 2;
    static final int STORM_MESSAGES = 150;
    static final int STORM_MESSAGE_BYTES = 4_000;

    record Episode(int index, Kind kind, long start, long end, List<Integer> targets) {
        @Override
        public String toString() {
            return "#" + index + " " + kind.name().toLowerCase(Locale.ROOT) + " " + start + ".." + end + " ms on " + targets;
        }
    }

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path dir;

    @Test
    void browserDevicesLoseNothingAndConvergeUnderFaults() throws Exception {
        String node = requireNode();
        Path demoWeb = requireDemoWeb(node);
        boolean longRun = RunMode.longRun();
        long seed = RunMode.seed("BrowserClientFaultIT");
        Set<Kind> kinds = selectedKinds();
        double minutes = longRun ? Double.parseDouble(System.getenv().getOrDefault("CAIRN_MINUTES", "30")) : 0;
        log("BrowserClientFaultIT kinds=" + kinds + " (off: " + EnumSet.complementOf(EnumSet.copyOf(kinds))
                + "; CAIRN_BROWSER_FAULTS=all runs every kind) " + (longRun ? "long, " + minutes + " min" : "CI") + ", dir=" + dir);
        Random random = new Random(seed);
        List<Episode> schedule = schedule(new Random(random.nextLong()), kinds, longRun ? (long) (minutes * 60_000) : 0);
        long t0 = System.nanoTime();

        Vertx vertx = Vertx.vertx();
        TestDatabase db = null;
        PgServerStore store = null;
        Child child = null;
        List<FaultProxy> proxies = new ArrayList<>();
        List<NodeDevice> browsers = new ArrayList<>();
        FaultDevice jvm = null;
        AckTracker jvmAcks = new AckTracker();
        try {
            db = TestDatabase.create(vertx);
            String url = db.url();
            int port = ServerKillIT.freePort();
            String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
            Path appliedLog = dir.resolve("applied.log");
            int restarts = 0;
            child = Child.start(classpath, dir.resolve("child-0.out"), port, url, appliedLog, 0, MAX_FRAME_BYTES);
            child.awaitReady();
            store = PgServerStore.create(vertx, url, 2);
            TestServer.await(store.start());

            String user = "web-fault-" + UUID.randomUUID().toString().substring(0, 8);
            long now = TestTokens.now();
            String token = TestTokens.hs256("{\"sub\":\"" + user + "\",\"iat\":" + now + ",\"exp\":" + (now + 6 * 3600) + "}", TestServer.SECRET);
            URI direct = URI.create("ws://127.0.0.1:" + port + "/sync");
            for (int i = 0; i <= BROWSERS; i++) {
                proxies.add(FaultProxy.start("127.0.0.1", port, random.nextLong()));
            }
            for (int i = 0; i < BROWSERS; i++) {
                browsers.add(NodeDevice.start(node, demoWeb, dir, "web-" + i, proxies.get(i).via(direct).toString(), token, user, random.nextLong()));
            }
            Random jitter = new Random(random.nextLong());
            jvm = FaultDevice.open("jvm-0", dir.resolve("jvm-0"), direct, token, WallClock.system(), proxies.get(BROWSERS),
                    b -> b.transport(jvmAcks).keepAlive(Duration.ofSeconds(2)).connectTimeout(Duration.ofSeconds(2))
                            .backoff(Duration.ofMillis(50), Duration.ofSeconds(1)).random(jitter));
            AtomicLong jvmFrameTooBig = new AtomicLong();
            String[] jvmLastError = {null};
            jvm.sync.onStatus(st -> {
                String e = st.lastError();
                if (e != null && !e.equals(jvmLastError[0]) && e.contains("code 1009")) {
                    jvmFrameTooBig.incrementAndGet();
                }
                jvmLastError[0] = e;
            });
            jvm.sync.start();
            FaultProxyIT.Writer jvmWriter = new FaultProxyIT.Writer(new Random(random.nextLong()), List.of(jvm));
            Function<String, SectionKind> sectionKinds = FaultProxyIT.kinds(jvm);
            log("BrowserClientFaultIT setup took " + (System.nanoTime() - t0) / 1_000_000 + " ms; schedule: " + schedule);

            // ---- the episodes, with writes every 100 ms
            Map<Kind, Integer> counts = new EnumMap<>(Kind.class);
            List<Long> convergeTimes = new ArrayList<>();
            long began = System.nanoTime();
            long paused = 0;
            int next = 0;
            Episode active = null;
            boolean serverDown = false;
            long lastProgress = 0;
            long nextTick = 0;
            while (true) {
                long at = (System.nanoTime() - began) / 1_000_000 - paused;
                if (active != null && at >= active.end()) {
                    // heal
                    if (active.kind() == Kind.KILL) {
                        child = Child.start(classpath, dir.resolve("child-" + (++restarts) + ".out"), port, url, appliedLog, 0, MAX_FRAME_BYTES);
                        child.awaitReady();
                        serverDown = false;
                    }
                    for (FaultProxy p : proxies) {
                        p.heal();
                    }
                    boolean last = next == schedule.size();
                    if (last || (longRun && active.index() % 5 == 4)) {
                        long healed = System.nanoTime();
                        String after = "the heal of episode " + active;
                        convergeTimes.add(converge(store, user, browsers, jvm, healed, after, seed,
                                () -> "jvm 1009s~" + jvmFrameTooBig + ", welcomes rewritten " + proxies.stream().mapToLong(FaultProxy::welcomesRewritten).sum()));
                        check(store, user, browsers, jvm, jvmAcks, appliedLog, sectionKinds, true, seed, after);
                        paused += (System.nanoTime() - healed) / 1_000_000;
                        if (last) {
                            active = null;
                            break;
                        }
                    }
                    active = null;
                }
                if (active == null && next < schedule.size() && at >= schedule.get(next).start()) {
                    active = schedule.get(next++);
                    counts.merge(active.kind(), 1, Integer::sum);
                    switch (active.kind()) {
                        case RESET -> active.targets().forEach(i -> proxies.get(i).resetAll());
                        case CUT -> active.targets().forEach(i -> proxies.get(i).cutAll());
                        case DROP -> active.targets().forEach(i -> proxies.get(i).faults().drop(true));
                        case KILL -> {
                            assertEquals(137, child.kill(), "the server child's exit code after SIGKILL");
                            child = null;
                            serverDown = true;
                        }
                        case STORM -> {
                            // offline while the burst is written, so it is all in the outbox at the reconnect
                            for (int i : active.targets()) {
                                proxies.get(i).rewriteWelcome(1 << 20).refuseNew(true).resetAll();
                            }
                            for (int i : active.targets()) {
                                if (i < BROWSERS) {
                                    browsers.get(i).burst(STORM_MESSAGES, STORM_MESSAGE_BYTES);
                                } else {
                                    String pad = "x".repeat(STORM_MESSAGE_BYTES - 60);
                                    for (int m = 0; m < STORM_MESSAGES; m++) {
                                        jvm.cairn.chat().append("big-j", "user", "jvm-0#" + m + ":" + pad);
                                    }
                                }
                            }
                            Thread.sleep(1_500); // the browser client saves offline writes after its saveDelay (1 s)
                            for (int i : active.targets()) {
                                proxies.get(i).refuseNew(false); // reconnect through the lie
                            }
                        }
                    }
                }
                if (at >= nextTick) {
                    nextTick = at + 100;
                    for (NodeDevice b : browsers) {
                        b.write(BROWSER_RATE);
                    }
                    for (int k = 0; k < JVM_RATE; k++) {
                        jvmWriter.step();
                    }
                    if (active != null && active.kind() == Kind.RESET && random.nextInt(5) == 0) {
                        active.targets().forEach(i -> proxies.get(i).resetAll()); // again and again
                    }
                }
                if (at - lastProgress >= 60_000) {
                    lastProgress = at;
                    log("BrowserClientFaultIT progress: " + at / 1000 + " s, episode " + next + "/" + schedule.size() + ", "
                            + browsers.stream().map(NodeDevice::summary).collect(Collectors.joining(" ")) + " " + jvm.describe());
                }
                Thread.sleep(10);
            }
            assertTrue(!serverDown, "the server is up at the end");
            for (NodeDevice b : browsers) {
                // the browser client speaks protocol 2 (binary pages): the ledger counts only what the tap read
                assertTrue(b.welcomesV2.get() > 0, "a browser device negotiated protocol 2: " + b.summary());
                assertTrue(b.acknowledgedCount() > 0, "the tap read the browser device's acks: " + b.summary());
            }

            // ---- the final figures and checks
            long written = browsers.stream().mapToLong(NodeDevice::writtenCount).sum() + jvm.madeCount();
            long acked = browsers.stream().mapToLong(NodeDevice::acknowledgedCount).sum() + jvmAcks.acknowledged().size();
            String figures = "BrowserClientFaultIT seed=" + seed + " kinds=" + kinds + (longRun ? " minutes=" + minutes : "")
                    + " episodes=" + schedule.size() + " " + counts + " serverKills=" + restarts + " changes=" + written + " acknowledged=" + acked
                    + " links=" + proxies.stream().mapToLong(FaultProxy::linksOpened).sum()
                    + " checks=" + convergeTimes.size() + " convergedMs(last)=" + convergeTimes.get(convergeTimes.size() - 1)
                    + " convergedMs(p50)=" + percentile(convergeTimes, 50) + " convergedMs(p90)=" + percentile(convergeTimes, 90)
                    + " convergedMs(max)=" + convergeTimes.stream().mapToLong(Long::longValue).max().orElse(0)
                    + " " + browsers.stream().map(NodeDevice::summary).collect(Collectors.joining(" "))
                    + " jvm{resent=" + jvmAcks.resent() + ", 1009s~" + jvmFrameTooBig + "} welcomesRewritten="
                    + proxies.stream().mapToLong(FaultProxy::welcomesRewritten).sum() + " total " + (System.nanoTime() - t0) / 1_000_000 + " ms";
            log(figures);
        } finally {
            for (NodeDevice b : browsers) {
                b.close();
            }
            if (jvm != null) {
                jvm.close();
            }
            proxies.forEach(FaultProxy::close);
            if (child != null) {
                child.kill();
            }
            try {
                if (store != null) {
                    TestServer.await(store.close());
                }
                if (db != null) {
                    db.close();
                }
            } finally {
                TestServer.await(vertx.close());
            }
        }
    }

    // ------------------------------------------------------------------ convergence and the ledger

    /**
     * Waits (writes paused) until every outbox is empty and every device's canonical state equals
     * the server's; fails after {@link #GIVE_UP} with what differs, or if it took longer than
     * {@link #CONVERGE_WITHIN}. Returns the milliseconds since {@code healed}.
     */
    private static long converge(PgServerStore store, String user, List<NodeDevice> browsers, FaultDevice jvm, long healed, String after,
                                 long seed, java.util.function.Supplier<String> extra) throws InterruptedException {
        long giveUp = healed + GIVE_UP.toNanos();
        String verdict;
        while (true) {
            verdict = notConverged(store, user, browsers, jvm);
            if (verdict == null || System.nanoTime() > giveUp) {
                break;
            }
            Thread.sleep(200);
        }
        long ms = (System.nanoTime() - healed) / 1_000_000;
        String seen = browsers.stream().map(NodeDevice::summary).collect(Collectors.joining(" ")) + " " + jvm.describe() + " " + extra.get();
        assertEquals(null, verdict, "not converged " + ms + " ms after " + after + " (replay: CAIRN_SEED=" + seed + "); " + seen);
        assertTrue(ms <= CONVERGE_WITHIN.toMillis(), "converged only " + ms + " ms after " + after + " (limit "
                + CONVERGE_WITHIN.toMillis() + " ms, replay: CAIRN_SEED=" + seed + "); " + seen);
        log("BrowserClientFaultIT converged " + ms + " ms after " + after);
        return ms;
    }

    private static String notConverged(PgServerStore store, String user, List<NodeDevice> browsers, FaultDevice jvm) {
        if (jvm.cairn.pendingChanges() != 0) {
            return jvm.describe() + " has unacknowledged changes";
        }
        List<NodeDevice.State> states = new ArrayList<>();
        for (NodeDevice b : browsers) {
            NodeDevice.State s = b.state();
            if (s.pending() != 0 || s.unsaved() != 0) {
                return b.name + " has " + s.pending() + " unacknowledged and " + s.unsaved() + " unsaved changes (status " + s.status()
                        + ", cursor " + s.cursor() + ", last error " + s.lastError() + ")";
            }
            states.add(s);
        }
        String server = ServerView.read(store, user).canonical();
        if (!jvm.cairn.canonicalState().equals(server)) {
            return jvm.describe() + " differs from the server";
        }
        String serverSha256 = NodeDevice.sha256(server);
        for (int i = 0; i < browsers.size(); i++) {
            if (!states.get(i).canonicalSha256().equals(serverSha256)) {
                return browsers.get(i).name + " differs from the server (status " + states.get(i).status() + ", cursor " + states.get(i).cursor()
                        + ", " + states.get(i).canonicalBytes() + " bytes of canonical state against the server's " + server.getBytes(java.nio.charset.StandardCharsets.UTF_8).length + ")";
            }
        }
        return null;
    }

    /** 0 acknowledged lost; once converged, 0 written missing, nothing twice, server state = fold of everything written. */
    private static void check(PgServerStore store, String user, List<NodeDevice> browsers, FaultDevice jvm, AckTracker jvmAcks, Path appliedLog,
                              Function<String, SectionKind> kinds, boolean converged, long seed, String when) throws IOException {
        ServerView view = ServerView.read(store, user);
        ReplicaState state = new ReplicaState(kinds);
        view.changes().forEach(s -> state.apply(s.change()));
        List<Change> acknowledged = new ArrayList<>(jvmAcks.acknowledgedChanges().values());
        List<Change> written = new ArrayList<>(jvm.made());
        for (NodeDevice b : browsers) {
            acknowledged.addAll(b.acknowledged());
            written.addAll(b.written());
        }
        String replay = " after " + when + " (replay: CAIRN_SEED=" + seed + ")";
        assertEquals(List.of(), first(Ledger.lost(acknowledged, state)), "acknowledged changes lost" + replay);
        assertEquals(List.of(), first(Ledger.duplicates(new Ledger.ServerLog(view.changes(), state))), "duplicates in the server's log" + replay);
        AppliedLog applied = AppliedLog.read(appliedLog);
        assertEquals(List.of(), first(applied.duplicates), "changes applied twice" + replay);
        assertEquals(List.of(), first(applied.reusedSeqs), "seqs given twice" + replay);
        if (converged) {
            assertEquals(List.of(), first(Ledger.lost(written, state)), "written changes missing on the server" + replay);
            assertEquals(Ledger.fold(written, kinds), view.canonical(), "the server's state must equal folding every change written" + replay);
        }
        log("BrowserClientFaultIT ledger" + " after " + when + ": written " + written.size() + ", acknowledged " + acknowledged.size()
                + ", server log " + view.changes().size() + ", applied " + applied.count + "; lost 0, twice 0");
    }

    /** The nearest-rank percentile of {@code values}. */
    static long percentile(List<Long> values, int p) {
        List<Long> sorted = values.stream().sorted().toList();
        return sorted.get(Math.max(0, (int) Math.ceil(p / 100.0 * sorted.size()) - 1));
    }

    private static List<String> first(List<String> items) {
        return items.size() <= 20 ? items : items.subList(0, 20);
    }

    // ------------------------------------------------------------------ the schedule

    /** CI ({@code millis == 0}): every kind once, reset and kill twice, shuffled; long: random kinds until {@code millis}. */
    static List<Episode> schedule(Random r, Set<Kind> kinds, long millis) {
        List<Kind> bag = new ArrayList<>();
        if (millis == 0) {
            bag.addAll(kinds);
            for (Kind k : List.of(Kind.RESET, Kind.KILL)) {
                if (kinds.contains(k)) {
                    bag.add(k);
                }
            }
            java.util.Collections.shuffle(bag, r);
        }
        List<Kind> choice = new ArrayList<>(kinds);
        List<Episode> out = new ArrayList<>();
        long t = 2_000;
        for (int i = 0; millis == 0 ? i < bag.size() : t < millis; i++) {
            Kind k = millis == 0 ? bag.get(i) : choice.get(r.nextInt(choice.size()));
            long length = switch (k) {
                case KILL -> 1_000 + r.nextInt(2_500);
                case DROP -> 2_000 + r.nextInt(3_000);
                case RESET -> 1_500 + r.nextInt(2_500);
                case STORM -> 5_000 + r.nextInt(4_000); // 1.5 s offline for the burst, then the lie
                default -> 1_000 + r.nextInt(2_000);
            };
            List<Integer> targets = new ArrayList<>();
            for (int d = 0; d <= BROWSERS; d++) {
                if (r.nextBoolean()) {
                    targets.add(d);
                }
            }
            if (targets.stream().noneMatch(d -> d < BROWSERS)) {
                targets.add(r.nextInt(BROWSERS)); // every episode hits a browser device
            }
            targets.sort(null);
            out.add(new Episode(i, k, t, t + length, k == Kind.KILL ? List.of() : List.copyOf(targets)));
            t += length + 1_000 + r.nextInt(2_000);
        }
        return out;
    }

    static Set<Kind> selectedKinds() {
        String given = System.getenv("CAIRN_BROWSER_FAULTS");
        if (given == null || given.isBlank() || given.trim().equalsIgnoreCase("all")) {
            return EnumSet.allOf(Kind.class);
        }
        Set<Kind> kinds = EnumSet.noneOf(Kind.class);
        for (String k : given.split(",")) {
            try {
                kinds.add(Kind.valueOf(k.trim().toUpperCase(Locale.ROOT)));
            } catch (IllegalArgumentException e) {
                throw new AssertionError("CAIRN_BROWSER_FAULTS: unknown kind '" + k + "'; known: " + Arrays.toString(Kind.values()) + " or all");
            }
        }
        return kinds;
    }

    // ------------------------------------------------------------------ Node and the browser client

    /** The Node executable ({@code -Dnode.executable}, {@code CAIRN_NODE}, else {@code node} on the PATH); fails clearly without it. */
    static String requireNode() throws InterruptedException {
        String node = System.getProperty("node.executable", System.getenv().getOrDefault("CAIRN_NODE", "node"));
        String version;
        try {
            Process p = new ProcessBuilder(node, "--version").redirectErrorStream(true).start();
            version = new String(p.getInputStream().readAllBytes()).trim();
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IOException("exit " + p.exitValue() + ": " + version);
            }
        } catch (IOException e) {
            throw new AssertionError("BrowserClientFaultIT runs the browser client in Node.js 18+, but '" + node + "' cannot be run (" + e.getMessage()
                    + "). Install Node.js with npm (.ci/run does), or pass -Dnode.executable=/path/to/node or CAIRN_NODE.");
        }
        int major = Integer.parseInt(version.replaceFirst("^v", "").split("\\.")[0]);
        if (major < 18) {
            throw new AssertionError("BrowserClientFaultIT needs Node.js 18+, '" + node + "' is " + version);
        }
        return node;
    }

    /** demo-web, found from the working directory up; fails clearly if {@code npm ci} has not installed ws and fake-indexeddb. */
    static Path requireDemoWeb(String node) {
        Path at = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        for (Path p = at; p != null; p = p.getParent()) {
            Path demoWeb = p.resolve("demo-web");
            if (Files.isRegularFile(demoWeb.resolve("package.json")) && Files.isRegularFile(demoWeb.resolve("src/it/fault/device.mjs"))) {
                for (String module : List.of("ws", "fake-indexeddb")) {
                    if (!Files.isRegularFile(demoWeb.resolve("node_modules").resolve(module).resolve("package.json"))) {
                        throw new AssertionError("BrowserClientFaultIT needs the npm package '" + module + "' in " + demoWeb.resolve("node_modules")
                                + ": run `npm ci` in " + demoWeb + " (the build does it in demo-web's test phase; npm must be on the PATH)");
                    }
                }
                return demoWeb;
            }
        }
        throw new AssertionError("BrowserClientFaultIT: no demo-web/src/it/fault/device.mjs in " + at + " or any parent directory");
    }
}
