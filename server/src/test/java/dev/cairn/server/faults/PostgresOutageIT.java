package dev.cairn.server.faults;

import static dev.cairn.server.faults.FaultRun.log;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.crdt.Change;
import dev.cairn.server.ServerConfig;
import dev.cairn.server.SyncServer;
import dev.cairn.server.TestServer;
import dev.cairn.server.TestTokens;
import dev.cairn.server.faults.FaultRun.Device;
import dev.cairn.server.faults.FaultRun.ServerView;
import dev.cairn.server.faults.FaultRun.Writers;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * PostgreSQL stopped with {@code pg_ctl stop -m immediate} (every backend killed, no checkpoint)
 * and started again while devices sync through two server nodes that share it (so the LISTEN/NOTIFY
 * fan-out is part of the path). Runs on a private cluster ({@link PrivatePostgres}), never the
 * shared one.
 *
 * <p>Checks: {@code /health} answers 503 on both nodes while the database is away and 200 after;
 * devices keep writing meanwhile (their changes queue in the outbox); after the last restart
 * devices and the database converge within 30 s; every acknowledged (and every written) change is
 * on the server; no change was applied twice and no seq given twice; and a change made after the
 * outages reaches the other node's device within 10 s (well under the 30 s resync safety net), so
 * the fan-out's LISTEN connection came back.
 *
 * <p>CI: 2 outages, 2,000 changes. Long ({@code CAIRN_LONG=1}): 50 outages, 50,000 changes.
 * Seed: {@code CAIRN_SEED}.
 */
class PostgresOutageIT {

    private static final Duration CONVERGE_WITHIN = Duration.ofSeconds(30);
    private static final Duration HEALTH_WITHIN = Duration.ofSeconds(30);
    private static final Duration FANOUT_WITHIN = Duration.ofSeconds(10);
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path dir;

    @Test
    void databaseKilledAndRestartedWhileDevicesSync() throws Exception {
        boolean longRun = FaultRun.longRun();
        long seed = FaultRun.seed();
        int outages = longRun ? 50 : 2;
        int changes = longRun ? 50_000 : 2_000;
        log("PostgresOutageIT seed=" + seed + " (replay: CAIRN_SEED=" + seed + ") outages=" + outages + " changes=" + changes
                + (longRun ? " (long)" : "") + " dir=" + dir);
        Random random = new Random(seed);
        List<Node> nodes = new ArrayList<>();
        List<Device> devices = new ArrayList<>();
        try (PrivatePostgres pg = PrivatePostgres.start()) {
            for (int i = 0; i < 2; i++) {
                nodes.add(Node.start("node-" + i, pg.url(), dir.resolve("applied-" + i + ".log")));
            }
            String user = "outage";
            String token = TestTokens.valid(user, TestServer.SECRET);
            for (int i = 0; i < 2; i++) {
                devices.add(new Device("dev-" + (char) ('a' + i), dir.resolve("dev-" + i), nodes.get(i).syncUri(), token));
            }
            int perDevice = changes / devices.size();
            Writers writers = new Writers(devices, perDevice, 2000);
            devices.forEach(d -> d.sync.start());
            writers.start();

            List<String> episodes = new ArrayList<>();
            long t0 = System.nanoTime();
            long restarted = 0;
            for (int o = 0; o < outages; o++) {
                int phase = perDevice / (2 * outages + 1);
                writers.quota.set((2 * o + 1) * phase);
                // Stop the database while the devices sync: connected, with writes on the way.
                FaultRun.until("devices to be live before outage " + (o + 1), CONVERGE_WITHIN,
                        () -> devices.stream().allMatch(d -> d.sync.status().isLive()), () -> FaultRun.describe(devices));
                Thread.sleep(random.nextInt(400));   // the phase's writes take about 0.4 s or more: stop while they are pushed
                int ackedBefore = FaultRun.acknowledged(devices).size();
                long stopAt = System.nanoTime();
                pg.stopImmediate();
                for (Node n : nodes) {
                    FaultRun.until(n.name + " /health to say 503 while the database is away", HEALTH_WITHIN,
                            () -> n.health() == 503, () -> "status " + n.health());
                }
                double unhealthyAfter = (System.nanoTime() - stopAt) / 1e9;
                int ackedDown = FaultRun.acknowledged(devices).size();
                int writtenDown = writers.done.get();
                // Devices keep working with the database away: writes succeed locally and queue.
                int target = (2 * o + 2) * phase;
                writers.quota.set(target);
                FaultRun.until("devices to write while the database is away", Duration.ofSeconds(30),
                        () -> writers.done.get() >= target * devices.size() || writers.failed.get() != null,
                        () -> "written " + writers.done.get());
                Thread.sleep(random.nextInt(1500));
                int pendingDown = FaultRun.pending(devices);
                assertTrue(pendingDown > 0, "changes written while the database is away must queue on the devices");
                int ackedStillDown = FaultRun.acknowledged(devices).size();
                assertTrue(nodes.stream().allMatch(n -> n.health() == 503), "/health while the database is still away");
                pg.startServer();
                restarted = System.nanoTime();
                for (Node n : nodes) {
                    FaultRun.until(n.name + " /health to say 200 after the database is back", HEALTH_WITHIN,
                            () -> n.health() == 200, () -> "status " + n.health());
                }
                double healthyAfter = (System.nanoTime() - restarted) / 1e9;
                episodes.add(String.format("outage %d: 503 %.1f s after the stop, wrote %d while away (pending %d), acks while away %d"
                                + " (acked %d before the stop), 200 %.1f s after the start",
                        o + 1, unhealthyAfter, writers.done.get() - writtenDown, pendingDown, ackedStillDown - ackedDown, ackedBefore, healthyAfter));
            }
            episodes.forEach(e -> log("  " + e));

            writers.quota.set(perDevice);
            writers.join(CONVERGE_WITHIN);
            long since = restarted;
            FaultRun.until("devices to push everything and converge after the database is back",
                    CONVERGE_WITHIN.minusNanos(System.nanoTime() - since), () -> FaultRun.devicesSettled(devices) && nodes.stream()
                            .allMatch(n -> ServerView.read(n.server.store(), user).canonical().equals(devices.get(0).cairn.canonicalState())),
                    () -> FaultRun.describe(devices));
            double convergeSeconds = (System.nanoTime() - restarted) / 1e9;

            // The fan-out's LISTEN connection is back: a change through node 0 reaches the device on node 1 at once.
            long probeAt = System.nanoTime();
            devices.get(0).cairn.map("state").put("probe", "after-outage");
            FaultRun.until("a change on node 0 to reach the device on node 1 through the fan-out", FANOUT_WITHIN,
                    () -> "after-outage".equals(devices.get(1).cairn.map("state").get("probe", String.class, null)), () -> FaultRun.describe(devices));
            double probeSeconds = (System.nanoTime() - probeAt) / 1e9;
            FaultRun.until("the probe to settle", CONVERGE_WITHIN, () -> FaultRun.devicesSettled(devices), () -> FaultRun.describe(devices));

            ServerView view = ServerView.read(nodes.get(0).server.store(), user);
            Map<String, Change> acked = FaultRun.acknowledged(devices);
            Map<String, Change> written = FaultRun.written(devices);
            List<String> lostAcked = view.missing(acked);
            List<String> lostWritten = view.missing(written);
            ServerKillIT.AppliedLog applied = ServerKillIT.AppliedLog.read(dir.resolve("applied-0.log"), dir.resolve("applied-1.log"));
            long resent = devices.stream().mapToLong(d -> d.acks.resent()).sum();
            log(String.format("PostgresOutageIT: %d outages (stop -m immediate), %d changes written, %d acknowledged, %d re-sent, %d applied,"
                            + " lost acknowledged %d, lost written %d, applied twice %d, seqs given twice %d, converged %.1f s after the last"
                            + " restart, fan-out probe %.2f s, total %.1f s",
                    outages, written.size(), acked.size(), resent, applied.count, lostAcked.size(), lostWritten.size(),
                    applied.duplicates.size(), applied.reusedSeqs.size(), convergeSeconds, probeSeconds, (System.nanoTime() - t0) / 1e9));
            String replay = " (replay: CAIRN_SEED=" + seed + ")";
            assertEquals(changes + 1, written.size(), "changes written (and the probe)" + replay);
            assertEquals(List.of(), lostAcked, "acknowledged changes lost" + replay);
            assertEquals(List.of(), lostWritten, "written changes missing on the server" + replay);
            assertEquals(List.of(), applied.duplicates, "changes applied twice" + replay);
            assertEquals(List.of(), applied.reusedSeqs, "seqs given twice" + replay);
            for (Device d : devices) {
                assertEquals(view.canonical(), d.cairn.canonicalState(), d.name + " differs from the server" + replay);
            }
        } finally {
            for (Device d : devices) {
                d.close();
            }
            for (Node n : nodes) {
                n.close();
            }
        }
    }

    /** A server node in this JVM, its store wrapped in {@link AppliedLogStore} (never halting). */
    static final class Node implements AutoCloseable {
        final String name;
        final Vertx vertx;
        final SyncServer server;

        private Node(String name, Vertx vertx, SyncServer server) {
            this.name = name;
            this.vertx = vertx;
            this.server = server;
        }

        static Node start(String name, String url, Path appliedLog) {
            ServerConfig config = ServerConfig.fromEnv(Map.of("CAIRN_HOST", "127.0.0.1", "CAIRN_DB_POOL_SIZE", "4"))
                    .withPort(0).withDatabaseUrl(url).withDataDir(Path.of("unused-cairn-data"))
                    .withJwtSecret(TestServer.SECRET, false).withNodeId(name);
            Vertx vertx = Vertx.vertx();
            SyncServer server = new SyncServer(config, store -> new AppliedLogStore(store, appliedLog, 0));
            try {
                TestServer.await(vertx.deployVerticle(server));
            } catch (AssertionError e) {
                TestServer.await(vertx.close());
                throw new AssertionError(name + " did not start on the private cluster " + url + ": " + e.getMessage(), e);
            }
            return new Node(name, vertx, server);
        }

        URI syncUri() {
            return URI.create("ws://127.0.0.1:" + server.port() + "/sync");
        }

        int health() {
            try {
                HttpRequest r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/health"))
                        .timeout(Duration.ofSeconds(10)).GET().build();
                return HTTP.send(r, HttpResponse.BodyHandlers.discarding()).statusCode();
            } catch (IOException e) {
                return -1;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return -1;
            }
        }

        @Override
        public void close() {
            TestServer.await(vertx.close());
        }
    }
}
