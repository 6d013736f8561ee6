package dev.cairn.server.security;

import static dev.cairn.server.TestChanges.goodSet;
import static dev.cairn.server.TestChanges.set;
import static dev.cairn.server.TestChanges.stamp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.server.RawSocket;
import dev.cairn.server.TestServer;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Every limit of the server (README "Configuration"), one row each: what exceeding it looks like
 * (a WebSocket close code, an error frame or an HTTP status, PROTOCOL.md 2, 3.5 and 5), and that
 * afterwards the server is healthy: {@code /health} answers 200, and a bystander user's two
 * devices, connected all along, still push and receive each other's changes.
 *
 * <p>The table is keyed by the setting, and {@link #everyLimitSettingHasARow} fails if a
 * {@code CAIRN_MAX_*} setting of the README has no row.
 */
class LimitsIT {

    private static final int FRAME_BYTES = 64 << 10;
    private static final int BATCH = 10;
    private static final int FRAMES_PER_SECOND = 60;
    private static final int CHANGES_PER_SECOND = 30;
    private static final int SOCKETS_PER_USER = 3;
    private static final int SOCKETS = 10;
    private static final int IMPORT_BYTES = 256 << 10;

    private static final AtomicLong BATCHES = new AtomicLong();
    private static TestServer server;
    private static RawSocket bystanderPhone;
    private static RawSocket bystanderLaptop;

    /** Setting -> what happens beyond it. */
    private static final Map<String, Runnable> LIMITS = new LinkedHashMap<>();

    static {
        LIMITS.put("CAIRN_MAX_FRAME_BYTES: a message over the limit (fragmented) closes the socket with 1009", LimitsIT::messageTooBig);
        LIMITS.put("CAIRN_MAX_FRAME_BYTES: a single frame over the limit closes the socket with 1009", LimitsIT::frameTooBig);
        LIMITS.put("CAIRN_MAX_FRAME_BYTES: an HTTP body over the limit gets 413", LimitsIT::bodyTooBig);
        LIMITS.put("CAIRN_MAX_IMPORT_BYTES: an import file over the limit gets 413 (one under it, larger than a frame, is taken)",
                LimitsIT::importTooBig);
        LIMITS.put("CAIRN_MAX_BATCH: a push of more changes gets batch-too-large", LimitsIT::batchTooLarge);
        LIMITS.put("CAIRN_MAX_FRAMES_PER_SECOND: more frames get rate-limited", LimitsIT::framesPerSecond);
        LIMITS.put("CAIRN_MAX_CHANGES_PER_SECOND: more changes get rate-limited", LimitsIT::changesPerSecond);
        LIMITS.put("CAIRN_MAX_SOCKETS_PER_USER: one more socket of the user gets 429 before the upgrade", LimitsIT::socketsPerUser);
        LIMITS.put("CAIRN_MAX_SOCKETS: one more socket on the server gets 503 before the upgrade", LimitsIT::socketsInTotal);
    }

    @BeforeAll
    static void start() {
        server = TestServer.embedded()
                .limits(FRAME_BYTES, BATCH, FRAMES_PER_SECOND, 100)
                .env("CAIRN_MAX_CHANGES_PER_SECOND", Integer.toString(CHANGES_PER_SECOND))
                .env("CAIRN_MAX_SOCKETS_PER_USER", Integer.toString(SOCKETS_PER_USER))
                .env("CAIRN_MAX_SOCKETS", Integer.toString(SOCKETS))
                .env("CAIRN_MAX_IMPORT_BYTES", Integer.toString(IMPORT_BYTES))
                .start();
        bystanderPhone = RawSocket.connect(server.syncUri(), server.token("bystander"));
        bystanderPhone.hello("by-phone", 0);
        bystanderLaptop = RawSocket.connect(server.syncUri(), server.token("bystander"));
        bystanderLaptop.hello("by-laptop", 0);
    }

    @AfterAll
    static void stop() {
        for (AutoCloseable c : new AutoCloseable[] {bystanderPhone, bystanderLaptop, server}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception ignored) {
                // closing anyway
            }
        }
    }

    /** CI: the table once. Long (CAIRN_LONG=1): 50 rounds, so a limit that leaks (slots, windows) shows. */
    @TestFactory
    Stream<DynamicTest> limits() {
        int rounds = LongRun.pick(1, 50);
        return java.util.stream.IntStream.range(0, rounds).boxed().flatMap(round -> LIMITS.entrySet().stream()
                .map(e -> DynamicTest.dynamicTest((rounds > 1 ? "round " + round + ": " : "") + e.getKey(), () -> {
                    e.getValue().run();
                    assertServerHealthy(e.getKey());
                })));
    }

    @Test
    void everyLimitSettingHasARow() throws Exception {
        String readme = java.nio.file.Files.readString(java.nio.file.Path.of("..", "README.md"));
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("`(CAIRN_MAX_[A-Z_]+)`").matcher(readme);
        List<String> missing = new ArrayList<>();
        while (m.find()) {
            String setting = m.group(1);
            if (setting.equals("CAIRN_MAX_AHEAD_MS") || setting.equals("CAIRN_MAX_PENDING_WRITE_BYTES")
                    || setting.equals("CAIRN_MAX_OUTBOUND_BYTES") || setting.equals("CAIRN_MAX_PAGE_BYTES")) {
                // clock skew (HostileInputIT) and what the server holds for readers (SlowConsumersIT,
                // OutboundBoundsIT): not limits on what a client sends
                continue;
            }
            if (LIMITS.keySet().stream().noneMatch(k -> k.startsWith(setting + ":"))) {
                missing.add(setting);
            }
        }
        assertEquals(List.of(), missing, "limits in the README's configuration table without a row in LIMITS");
    }

    // ------------------------------------------------------------------ afterwards

    /** /health is 200 and the bystander's devices still sync with each other. */
    private static void assertServerHealthy(String after) {
        TestServer.Response health = server.get("/health", null);
        assertEquals(200, health.status(), "after " + after + ": " + health);
        assertFalse(bystanderPhone.isClosed(), "after " + after + ": the bystander's socket was closed");
        String key = "k-" + BATCHES.incrementAndGet();
        bystanderPhone.pushAcked(BATCHES.incrementAndGet(), set("ui", key, "\"still-syncing\"", stamp("by-phone")));
        JsonNode changes = bystanderLaptop.skipUntil("changes"::equals, RawSocket.WAIT);
        assertTrue(changes.toString().contains(key), "after " + after + ": the laptop should receive " + key + ", got " + changes);
    }

    // ------------------------------------------------------------------ the rows

    private static RawSocket ready(String user, String replica) {
        RawSocket ws = RawSocket.connect(server.syncUri(), server.token(user));
        ws.hello(replica, 0);
        return ws;
    }

    private static void assertOpenAndUsable(RawSocket ws) {
        ws.send("{\"type\":\"ping\"}");
        ws.skipUntil("pong"::equals, RawSocket.WAIT);
    }

    private static String bigValue() {
        return "\"" + "x".repeat(FRAME_BYTES + 1024) + "\"";
    }

    private static void messageTooBig() {
        long head = server.head("big");
        try (RawSocket ws = ready("big", "big-1")) {
            // the JDK client sends big messages in 16 KiB fragments: each is small, the message is not
            ws.push(BATCHES.incrementAndGet(), set("ui", "big", bigValue(), stamp("big-1")));
            assertEquals(1009, ws.closeStatus(RawSocket.WAIT), "frames: " + ws.received());
        }
        assertEquals(head, server.head("big"), "nothing of the refused message is written");
    }

    private static void frameTooBig() {
        long head = server.head("big");
        WebSocketClient client = server.vertx().createWebSocketClient(new WebSocketClientOptions()
                .setMaxFrameSize(4 * FRAME_BYTES).setMaxMessageSize(4 * FRAME_BYTES));
        try {
            WebSocket ws = TestServer.await(client.connect(new WebSocketConnectOptions().setHost("127.0.0.1").setPort(server.port())
                    .setURI("/sync").addHeader("Authorization", "Bearer " + server.token("big"))));
            CompletableFuture<Short> closed = new CompletableFuture<>();
            BlockingQueue<String> frames = new LinkedBlockingQueue<>();
            ws.closeHandler(v -> closed.complete(ws.closeStatusCode()));
            ws.textMessageHandler(frames::add);
            ws.writeTextMessage("{\"type\":\"hello\",\"protocol\":1,\"replica\":\"big-2\",\"cursor\":0}");
            assertNotNull(frames.poll(10, TimeUnit.SECONDS), "no welcome");
            ws.writeFinalTextFrame("{\"type\":\"push\",\"batch\":1,\"changes\":[" + set("ui", "big", bigValue(), stamp("big-2")) + "]}");
            assertEquals((short) 1009, closed.get(10, TimeUnit.SECONDS));
        } catch (Exception e) {
            throw new AssertionError(e);
        } finally {
            TestServer.await(client.close());
        }
        assertEquals(head, server.head("big"), "nothing of the refused frame is written");
    }

    private static void bodyTooBig() {
        long head = server.head("big");
        TestServer.Response r = server.post("/api/preferences", server.token("big"), "{\"theme\":" + bigValue() + "}");
        assertEquals(413, r.status(), r.toString());
        assertEquals("too-large", r.json().path("error").asText(), r.toString());
        assertEquals(head, server.head("big"));
    }

    private static void importTooBig() {
        String user = "importer";
        StringBuilder entries = new StringBuilder();
        for (int i = 0; entries.length() < 2 * FRAME_BYTES; i++) {
            entries.append(i == 0 ? "" : ",").append("\"k").append(i).append("\":{\"stamp\":\"").append(stamp("imp")).append("\",\"value\":\"")
                    .append("x".repeat(100)).append("\"}");
        }
        String head = "{\"format\":\"cairn-export\",\"version\":1,\"sections\":{\"ui\":{\"kind\":\"map\",\"entries\":{";
        String document = head + entries + "}}}}";
        assertTrue(document.length() > FRAME_BYTES && document.length() < IMPORT_BYTES);
        TestServer.Response ok = server.post("/api/import", server.token(user), document);
        assertEquals(200, ok.status(), "an import larger than a frame but under its own limit: " + ok);
        long before = server.head(user);
        String padded = head + entries + " ".repeat(IMPORT_BYTES) + "}}}}";
        TestServer.Response r = server.post("/api/import", server.token(user), padded);
        assertEquals(413, r.status(), r.toString());
        assertEquals("too-large", r.json().path("error").asText(), r.toString());
        assertTrue(r.json().path("message").asText().contains("CAIRN_MAX_IMPORT_BYTES"), r.toString());
        assertEquals(before, server.head(user));
    }

    private static void batchTooLarge() {
        try (RawSocket ws = ready("batcher", "b-1")) {
            long head = server.head("batcher");
            String[] changes = new String[BATCH + 1];
            for (int i = 0; i < changes.length; i++) {
                changes[i] = goodSet("k" + i, "b-1");
            }
            long batch = BATCHES.incrementAndGet();
            ws.push(batch, changes);
            JsonNode e = ws.expectError("batch-too-large");
            assertEquals(batch, e.path("batch").asLong(), e.toString());
            assertEquals(head, server.head("batcher"), "nothing of the refused batch is written");
            assertOpenAndUsable(ws);
            ws.pushAcked(BATCHES.incrementAndGet(), java.util.Arrays.copyOf(changes, BATCH));
        }
    }

    private static void framesPerSecond() {
        try (RawSocket ws = ready("pinger", "p-1")) {
            for (int i = 0; i < 2 * FRAMES_PER_SECOND + 5; i++) {
                ws.send("{\"type\":\"ping\"}");
            }
            JsonNode e = ws.skipUntil("error"::equals, RawSocket.WAIT);
            assertEquals("rate-limited", e.path("code").asText(), e.toString());
            assertTrue(e.path("message").asText().contains("frames per second"), e.toString());
            sleep(1100);
            drain(ws);
            assertOpenAndUsable(ws);
        }
    }

    private static void changesPerSecond() {
        try (RawSocket ws = ready("writer", "w-1")) {
            sleep(1100); // a fresh window
            // 10 full batches at once: 100 changes, more than the 30 a second allows in any one or two windows
            Map<Long, List<String>> keys = new LinkedHashMap<>();
            for (int b = 0; b < 10; b++) {
                long batch = BATCHES.incrementAndGet();
                List<String> batchKeys = new ArrayList<>();
                String[] changes = new String[BATCH];
                for (int i = 0; i < BATCH; i++) {
                    String key = "w" + batch + "-" + i;
                    batchKeys.add(key);
                    changes[i] = set("ui", key, "1", stamp("w-1"));
                }
                keys.put(batch, batchKeys);
                ws.push(batch, changes);
            }
            List<Long> acked = new ArrayList<>();
            List<Long> refused = new ArrayList<>();
            while (acked.size() + refused.size() < keys.size()) {
                JsonNode f = ws.next(RawSocket.WAIT);
                switch (f.path("type").asText()) {
                    case "ack" -> acked.add(f.path("batch").asLong());
                    case "error" -> {
                        assertEquals("rate-limited", f.path("code").asText(), f.toString());
                        assertTrue(f.path("message").asText().contains("changes per second"), f.toString());
                        refused.add(f.path("batch").asLong());
                    }
                    default -> { } // changes of its own pushes
                }
            }
            assertFalse(refused.isEmpty(), "100 changes at once should exceed " + CHANGES_PER_SECOND + " a second; acked " + acked);
            assertTrue(acked.size() * BATCH <= 2 * CHANGES_PER_SECOND, "at most two windows' worth accepted, got acks " + acked);
            String state = server.canonical("writer");
            for (long b : refused) {
                for (String key : keys.get(b)) {
                    assertFalse(state.contains("\"" + key + "\""), "a refused batch was written: " + key);
                }
            }
            for (long b : acked) {
                for (String key : keys.get(b)) {
                    assertTrue(state.contains("\"" + key + "\""), "an acked batch is missing: " + key);
                }
            }
            sleep(1100);
            drain(ws);
            ws.pushAcked(BATCHES.incrementAndGet(), goodSet("after", "w-1"));
        }
    }

    private static void socketsPerUser() {
        awaitOpenSockets(2);
        List<RawSocket> open = new ArrayList<>();
        try {
            for (int i = 0; i < SOCKETS_PER_USER; i++) {
                open.add(ready("greedy", "g-" + i));
            }
            assertEquals(429, RawSocket.refusal(server.syncUri(), server.token("greedy")));
            assertEquals(429, RawSocket.refusal(server.syncUri(), server.token("greedy")), "still at the limit");
            for (RawSocket ws : open) {
                assertOpenAndUsable(ws); // the ones already open are not harmed
            }
            // another user is not affected by greedy's limit
            try (RawSocket other = ready("modest", "m-1")) {
                assertOpenAndUsable(other);
            }
            // a closed socket frees its slot
            open.remove(0).close();
            RawSocket again = eventually(() -> RawSocket.connect(server.syncUri(), server.token("greedy")));
            open.add(again);
            again.hello("g-again", 0);
        } finally {
            open.forEach(RawSocket::close);
        }
    }

    private static void socketsInTotal() {
        awaitOpenSockets(2);
        List<RawSocket> open = new ArrayList<>();
        try {
            int refusedAt = -1;
            for (int i = 0; i <= SOCKETS; i++) {
                String token = server.token("crowd-" + i);
                try {
                    open.add(RawSocket.connect(server.syncUri(), token));
                } catch (AssertionError e) {
                    assertEquals(503, RawSocket.refusal(server.syncUri(), token), "refused with: " + e.getMessage());
                    refusedAt = i;
                    break;
                }
            }
            // the bystander's two sockets count too
            assertEquals(SOCKETS - 2, refusedAt, "the socket after " + SOCKETS + " open ones should be refused with 503");
            TestServer.Response health = server.get("/health", null);
            assertEquals(200, health.status(), "HTTP is served while the sockets are full: " + health);
        } finally {
            open.forEach(RawSocket::close);
        }
        // slots come back once the sockets are closed
        eventually(() -> RawSocket.connect(server.syncUri(), server.token("crowd-late"))).close();
    }

    // ------------------------------------------------------------------ helpers

    /** Waits until the server counts {@code n} open sockets (closes of earlier rows travel to it asynchronously). */
    private static void awaitOpenSockets(int n) {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        String expected = "cairn_sessions " + n + ".0";
        String metrics = "";
        while (System.nanoTime() < end) {
            metrics = server.get("/metrics", null).body();
            if (metrics.lines().anyMatch(expected::equals)) {
                return;
            }
            sleep(20);
        }
        fail("expected " + n + " open sockets (only the bystander's), /metrics says: "
                + metrics.lines().filter(l -> l.startsWith("cairn_sessions")).toList());
    }

    /** Retries while a freed slot has not been given back yet (the close travels to the server). */
    private static RawSocket eventually(java.util.function.Supplier<RawSocket> open) {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            try {
                return open.get();
            } catch (AssertionError e) {
                if (System.nanoTime() > end) {
                    throw e;
                }
                sleep(50);
            }
        }
    }

    private static void drain(RawSocket ws) {
        while (ws.nextText(Duration.ofMillis(100)) != null) {
            // frames of the flood
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail("interrupted");
        }
    }
}
