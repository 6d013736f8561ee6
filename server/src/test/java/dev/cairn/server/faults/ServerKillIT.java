package dev.cairn.server.faults;

import static dev.cairn.server.faults.FaultRun.log;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.cairn.engine.crdt.Change;
import dev.cairn.server.TestServer;
import dev.cairn.server.TestTokens;
import dev.cairn.server.faults.FaultRun.Device;
import dev.cairn.server.faults.FaultRun.ServerView;
import dev.cairn.server.faults.FaultRun.Writers;
import dev.cairn.server.store.JournalServerStore;
import dev.cairn.server.store.PgServerStore;
import dev.cairn.server.store.ServerStore;
import dev.cairn.server.store.TestDatabase;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The server killed with SIGKILL mid-sync, on both stores: a server in its own JVM
 * ({@link ServerChild}) is killed at random points while devices (engines with durable journals
 * and real sync clients, in this JVM) write and push {@code changes} changes, and restarted on the
 * same port and data each time. Every other kill is not a timed SIGKILL but a halt right after the
 * k-th commit completed and before its result returns ({@link AppliedLogStore}): committed, never
 * acknowledged, so the client must re-send and the server must not apply it again.
 *
 * <p>Checks: every change the server acknowledged (seen on the wire, {@link AckTracker}) and every
 * change written is on the server at the end (0 lost); no change identity was applied twice and
 * no seq was given twice (the children's applied logs); devices and the server's store converge
 * (byte-identical canonical state) within 30 s of the last restart.
 *
 * <p>CI: 20 kills and 10,000 changes on PostgreSQL, 10 kills and 10,000 changes on the embedded
 * store. Long ({@code CAIRN_LONG=1}): 100 kills and 50,001 changes from 3 devices on each. Seed: {@code CAIRN_SEED}.
 */
class ServerKillIT {

    enum Store { POSTGRES, EMBEDDED }

    private static final Duration CONVERGE_WITHIN = Duration.ofSeconds(30);
    private static final Duration CHILD_READY = Duration.ofSeconds(60);
    private static final int MAX_KILL_DELAY_MS = 1_200;
    private static final int MAX_HALT_COMMIT = 8;

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path dir;

    @ParameterizedTest
    @EnumSource(Store.class)
    void killedServerLosesNothingAndAppliesEachChangeOnce(Store store) throws Exception {
        boolean longRun = FaultRun.longRun();
        long seed = FaultRun.seed();
        int kills = longRun ? 100 : store == Store.POSTGRES ? 20 : 10;
        int deviceCount = longRun ? 3 : 2;
        int changes = longRun ? 50_001 : 10_000;   // a multiple of the device count
        log("ServerKillIT seed=" + seed + " (replay: CAIRN_SEED=" + seed + ") store=" + store + " kills=" + kills + " changes="
                + changes + " devices=" + deviceCount + (longRun ? " (long)" : "") + " dir=" + dir);
        Random random = new Random(seed);
        Vertx vertx = Vertx.vertx();
        TestDatabase db = null;
        List<Device> devices = new ArrayList<>();
        Child child = null;
        try {
            String where;
            if (store == Store.POSTGRES) {
                db = TestDatabase.create(vertx);
                where = db.url();
            } else {
                where = dir.resolve("server-data").toString();
            }
            int port = freePort();
            String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
            Path appliedLog = dir.resolve("applied.log");
            String user = "kill-" + store.name().toLowerCase();
            String token = TestTokens.valid(user, TestServer.SECRET);
            URI uri = URI.create("ws://127.0.0.1:" + port + "/sync");
            for (int i = 0; i < deviceCount; i++) {
                devices.add(new Device("dev-" + (char) ('a' + i), dir.resolve("dev-" + i), uri, token));
            }
            int perDevice = changes / deviceCount;
            Writers writers = new Writers(devices, perDevice, 500);
            devices.forEach(d -> d.sync.start());
            writers.start();

            long t0 = System.nanoTime();
            int halts = 0;
            int haltsNotReached = 0;
            List<String> killLog = new ArrayList<>();
            for (int k = 0; k < kills; k++) {
                boolean halt = k % 2 == 1;
                int haltAfter = halt ? 1 + random.nextInt(MAX_HALT_COMMIT) : 0;
                int delay = random.nextInt(MAX_KILL_DELAY_MS);
                child = Child.start(classpath, dir.resolve("child-" + k + ".out"), port, where, appliedLog, haltAfter);
                long startedAt = System.nanoTime();
                child.awaitReady();
                long readyMs = (System.nanoTime() - startedAt) / 1_000_000;
                int quota = (k + 1) * perDevice / (kills + 1);
                writers.quota.set(quota);
                String how;
                if (halt) {
                    // Wait for the halt; if this cycle's changes are all pushed first, the k-th commit will not come.
                    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(8);
                    while (child.process.isAlive() && System.nanoTime() < end
                            && !(writers.done.get() >= quota * devices.size() && FaultRun.pending(devices) == 0)) {
                        Thread.sleep(10);
                    }
                    if (child.process.waitFor(50, TimeUnit.MILLISECONDS)) {
                        halts++;
                        how = "halted after commit " + haltAfter;
                    } else {
                        haltsNotReached++;
                        how = "SIGKILL (commit " + haltAfter + " not reached)";
                    }
                } else {
                    Thread.sleep(delay);
                    how = "SIGKILL after " + delay + " ms";
                }
                int code = child.kill();
                if (code != 137) {
                    throw new AssertionError("kill " + (k + 1) + ": child exit code " + code + ", expected 137; output:\n" + child.output());
                }
                child = null;
                int acked = FaultRun.acknowledged(devices).size();
                int pending = FaultRun.pending(devices);
                killLog.add((k + 1) + ": ready in " + readyMs + " ms, " + how + ", written " + writers.done.get() + ", acked " + acked + ", pending " + pending);
            }
            killLog.forEach(l -> log("  kill " + l));

            // The last restart: everything must converge within 30 s of it.
            child = Child.start(classpath, dir.resolve("child-final.out"), port, where, appliedLog, 0);
            child.awaitReady();
            long restarted = System.nanoTime();
            writers.quota.set(perDevice);
            writers.join(CONVERGE_WITHIN);
            FaultRun.until("devices to push everything and converge", CONVERGE_WITHIN.minusNanos(System.nanoTime() - restarted),
                    () -> FaultRun.devicesSettled(devices), () -> FaultRun.describe(devices));
            double convergeSeconds = (System.nanoTime() - restarted) / 1e9;
            int code = child.kill();   // every commit is durable: the store is read after a kill, not a clean stop
            child = null;
            assertEquals(137, code);

            ServerView view = readStore(vertx, store, where, dir.resolve("server-data"), user);
            Map<String, Change> acked = FaultRun.acknowledged(devices);
            Map<String, Change> written = FaultRun.written(devices);
            List<String> lostAcked = view.missing(acked);
            List<String> lostWritten = view.missing(written);
            AppliedLog applied = AppliedLog.read(appliedLog);
            long resent = devices.stream().mapToLong(d -> d.acks.resent()).sum();
            log(String.format("ServerKillIT %s: %d kills (%d halts between COMMIT and ack, %d halts not reached -> SIGKILL), "
                            + "%d changes written, %d acknowledged, %d re-sent, %d applied (%d torn log lines), "
                            + "lost acknowledged %d, lost written %d, applied twice %d, seqs given twice %d, converged %.1f s after the last restart, total %.1f s",
                    store, kills, halts, haltsNotReached, written.size(), acked.size(), resent, applied.count, applied.torn,
                    lostAcked.size(), lostWritten.size(), applied.duplicates.size(), applied.reusedSeqs.size(), convergeSeconds,
                    (System.nanoTime() - t0) / 1e9));
            String replay = " (replay: CAIRN_SEED=" + seed + ")";
            assertEquals(changes, written.size(), "changes written" + replay);
            assertEquals(List.of(), first(lostAcked), "acknowledged changes lost" + replay);
            assertEquals(List.of(), first(lostWritten), "written changes missing on the server" + replay);
            assertEquals(List.of(), first(applied.duplicates), "changes applied twice" + replay);
            assertEquals(List.of(), first(applied.reusedSeqs), "seqs given twice (a committed seq was lost)" + replay);
            for (Device d : devices) {
                assertEquals(view.canonical(), d.cairn.canonicalState(), d.name + " differs from the server's store" + replay);
            }
        } finally {
            if (child != null) {
                child.kill();
            }
            for (Device d : devices) {
                d.close();
            }
            try {
                if (db != null) {
                    db.close();
                }
            } finally {
                TestServer.await(vertx.close());
            }
        }
    }

    private static List<String> first(List<String> items) {
        return items.size() <= 20 ? items : items.subList(0, 20);
    }

    private static ServerView readStore(Vertx vertx, Store store, String where, Path dataDir, String user) {
        ServerStore s = store == Store.POSTGRES ? PgServerStore.create(vertx, where, 2) : JournalServerStore.inDataDir(vertx, dataDir);
        TestServer.await(s.start());
        try {
            return ServerView.read(s, user);
        } finally {
            TestServer.await(s.close());
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        }
    }

    /** What the children's {@link AppliedLogStore}s wrote: identities applied more than once, seqs given more than once. */
    static final class AppliedLog {
        int count;
        int torn;
        final List<String> duplicates = new ArrayList<>();
        final List<String> reusedSeqs = new ArrayList<>();

        /** Reads the logs of every node (one file per node, or one file that every restart of a node appends to). */
        static AppliedLog read(Path... files) throws IOException {
            AppliedLog log = new AppliedLog();
            Map<String, Integer> ids = new HashMap<>();
            Map<String, String> seqs = new HashMap<>();
            List<String> lines = new ArrayList<>();
            for (Path file : files) {
                if (Files.exists(file)) {
                    lines.addAll(Files.readAllLines(file, StandardCharsets.UTF_8));
                }
            }
            for (String line : lines) {
                String[] f = line.split("\t");
                if (line.isEmpty()) {
                    continue;
                }
                if (f.length != 4 || !f[0].equals("A")) {
                    log.torn++;   // a line cut by a kill
                    continue;
                }
                log.count++;
                if (ids.merge(f[3], 1, Integer::sum) == 2) {
                    log.duplicates.add(f[3]);
                }
                String seq = f[1] + " seq " + f[2];
                String before = seqs.put(seq, f[3]);
                if (before != null) {
                    log.reusedSeqs.add(seq + ": " + before + " then " + f[3]);
                }
            }
            return log;
        }
    }

    /** One server JVM; its output goes to a file (a pipe could block the child or lose lines at the kill). */
    static final class Child {
        final Process process;
        final Path out;

        private Child(Process process, Path out) {
            this.process = process;
            this.out = out;
        }

        static Child start(String classpath, Path out, int port, String where, Path appliedLog, int haltAfter) throws IOException {
            return start(classpath, out, port, where, appliedLog, haltAfter, 0);
        }

        /** As above, with the server's {@code CAIRN_MAX_FRAME_BYTES} ({@code 0}: the default). */
        static Child start(String classpath, Path out, int port, String where, Path appliedLog, int haltAfter, int maxFrameBytes)
                throws IOException {
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            List<String> cmd = new ArrayList<>(List.of(java, "-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                    "-cp", classpath, ServerChild.class.getName(), Integer.toString(port), TestServer.SECRET, where,
                    appliedLog.toString(), Integer.toString(haltAfter)));
            if (maxFrameBytes > 0) {
                cmd.add(Integer.toString(maxFrameBytes));
            }
            ProcessBuilder pb = new ProcessBuilder(cmd);
            pb.redirectErrorStream(true).redirectOutput(out.toFile());
            pb.environment().remove("CAIRN_DATABASE_URL");
            return new Child(pb.start(), out);
        }

        void awaitReady() throws Exception {
            long end = System.nanoTime() + CHILD_READY.toNanos();
            while (System.nanoTime() < end) {
                String text = output();
                if (text.contains("READY ")) {
                    return;
                }
                if (text.contains("FAILED ") || !process.isAlive()) {
                    kill();
                    throw new AssertionError("the server child did not start; output:\n" + output());
                }
                Thread.sleep(20);
            }
            kill();
            throw new AssertionError("the server child was not ready within " + CHILD_READY + "; output:\n" + output());
        }

        /** SIGKILL (if still alive); returns the exit code. */
        int kill() throws InterruptedException {
            if (process.isAlive()) {
                process.destroyForcibly();
            }
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                throw new AssertionError("server child pid " + process.pid() + " survived SIGKILL for 10 s");
            }
            return process.exitValue();
        }

        String output() {
            try {
                return Files.readString(out, StandardCharsets.ISO_8859_1);
            } catch (IOException e) {
                return "(no output: " + e + ")";
            }
        }
    }
}
