package dev.cairn.server.monitoring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.server.RawSocket;
import dev.cairn.server.ServerConfig;
import dev.cairn.server.SyncServer;
import dev.cairn.server.TestServer;
import dev.cairn.server.store.TestDatabase;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * /metrics of a server wired as {@code Main} wires it: Vert.x's HTTP, WebSocket and pool meters,
 * the JVM's, and Cairn's own, on one registry (README "Metrics").
 */
class MetricsIT {

    /** Each must be present after some traffic: a name (a prefix of the exported series). */
    static final List<String> EXPECTED = List.of(
            // Vert.x: HTTP server, WebSockets, the PostgreSQL pool
            "vertx_http_server_requests_total", "vertx_http_server_response_time_seconds", "vertx_http_server_active_ws_connections",
            "vertx_pool_in_use", "vertx_pool_queue_time_seconds",
            // JVM
            "jvm_memory_used_bytes", "jvm_gc_pause_seconds", "jvm_threads_live_threads", "process_cpu_usage", "jvm_classes_loaded_classes",
            // Cairn
            "cairn_sessions", "cairn_commit_seconds", "cairn_fanout_seconds", "cairn_catchup_pages_total", "cairn_changes_committed_total");

    /** Not "metrics": a second scrape shows the first one's route="/metrics" label. */
    private static final String USER = "meter-reader-7";

    @Test
    void vertxJvmAndCairnMetersShareOneScrape() throws Exception {
        PrometheusMeterRegistry registry = Monitoring.registry();
        Vertx vertx = Monitoring.vertx(registry);
        try (TestDatabase database = TestDatabase.create(vertx)) {
            ServerConfig config = ServerConfig.fromEnv(Map.of("CAIRN_HOST", "127.0.0.1")).withPort(0)
                    .withDatabaseUrl(database.url()).withJwtSecret(TestServer.SECRET, true);
            SyncServer server = new SyncServer(config, UnaryOperator.identity(), registry);
            TestServer.await(vertx.deployVerticle(server));
            String base = "http://127.0.0.1:" + server.port();
            HttpClient http = HttpClient.newHttpClient();
            String token = new com.fasterxml.jackson.databind.ObjectMapper().readTree(http.send(HttpRequest.newBuilder(URI.create(base + "/api/dev/token"))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{\"user\":\"" + USER + "\"}")).build(),
                    HttpResponse.BodyHandlers.ofString()).body()).get("token").asText();
            try (RawSocket socket = RawSocket.connect(URI.create("ws://127.0.0.1:" + server.port() + "/sync"), token)) {
                socket.hello("metrics-dev", 0);
                assertEquals(200, http.send(HttpRequest.newBuilder(URI.create(base + "/api/preferences")).header("Authorization", "Bearer " + token)
                        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString("{\"theme\":\"dark\"}")).build(),
                        HttpResponse.BodyHandlers.ofString()).statusCode());
                // The GC timer shows only after a pause, reported by an asynchronous JMX notification.
                HttpResponse<String> scrape;
                Set<String> names;
                long deadline = System.nanoTime() + 10_000_000_000L;
                while (true) {
                    System.gc();
                    scrape = http.send(HttpRequest.newBuilder(URI.create(base + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
                    assertEquals(200, scrape.statusCode());
                    names = names(scrape.body());
                    if (names.stream().anyMatch(n -> n.startsWith("jvm_gc_pause_seconds")) || System.nanoTime() >= deadline) {
                        break; // a missing timer after the deadline is reported by the checks below, with every name seen
                    }
                    Thread.sleep(100);
                }
                for (String name : EXPECTED) {
                    assertTrue(names.stream().anyMatch(n -> n.startsWith(name)), name + " in /metrics; names: " + names);
                }
                assertTrue(scrape.body().contains("pool_name=\"cairn-pg\""), "the PostgreSQL pool is named");
                for (String name : dashboardMetrics()) {
                    assertTrue(names.stream().anyMatch(n -> n.startsWith(name)), "ops/grafana/cairn-server.json uses " + name + ", not in /metrics");
                }
                assertTrue(!scrape.body().contains(USER) && !scrape.body().contains(token), "no user or token in a label");
            }
        } finally {
            TestServer.await(vertx.close());
        }
    }

    private static Set<String> names(String scrape) {
        Set<String> names = new TreeSet<>();
        for (String line : scrape.split("\n")) {
            if (!line.startsWith("#") && !line.isBlank()) {
                names.add(line.split("[{ ]", 2)[0]);
            }
        }
        return names;
    }

    /** Every metric name the Grafana dashboard's queries use. */
    private static Set<String> dashboardMetrics() throws java.io.IOException {
        String json = java.nio.file.Files.readString(java.nio.file.Path.of("..", "ops", "grafana", "cairn-server.json"));
        Set<String> out = new TreeSet<>();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\b((?:cairn|vertx|jvm|process)_[a-z_]+)").matcher(json);
        while (m.find()) {
            out.add(m.group(1).replaceAll("_(sum|count)$", ""));
        }
        assertTrue(out.size() >= 10, "the dashboard's metrics: " + out);
        return out;
    }
}
