package dev.cairn.server;

import static dev.cairn.server.TestChanges.append;
import static dev.cairn.server.TestChanges.goodSet;
import static dev.cairn.server.TestChanges.nested;
import static dev.cairn.server.TestChanges.set;
import static dev.cairn.server.TestChanges.stamp;
import static dev.cairn.server.TestChanges.stampAt;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.ProtocolException;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Hostile input over the socket and HTTP (PROTOCOL.md 2, 3.3, 3.5, 5), on the embedded store.
 * Every case checks three things: a clear error (code and a message naming the problem, or an
 * HTTP status with a JSON error), that nothing was written (the user's head and state are
 * unchanged), and that the server stays usable (the same socket acks a following valid push when
 * it stays open, and a bystander user's socket, open for the whole class, is still served).
 */
class HostileInputIT {

    private static final int MAX_FRAME_BYTES = 64 << 10;
    private static final int MAX_BATCH = 10;
    /** High enough that the bystander (one push per test, about 50 in all) never hits it. */
    private static final int MAX_FRAMES_PER_SECOND = 200;
    private static final long MAX_AHEAD_MS = 60_000;
    private static final Duration WAIT = RawSocket.WAIT;

    private static TestServer server;
    private static RawSocket bystander;
    private static final AtomicLong BATCHES = new AtomicLong(1000);

    private String user;

    @BeforeAll
    static void startServer() {
        // Import has its own limit (CAIRN_MAX_IMPORT_BYTES); here it is the frame limit, so one big body tests all routes.
        server = TestServer.embedded().limits(MAX_FRAME_BYTES, MAX_BATCH, MAX_FRAMES_PER_SECOND, 100).maxAheadMillis(MAX_AHEAD_MS)
                .env("CAIRN_MAX_IMPORT_BYTES", Integer.toString(MAX_FRAME_BYTES)).start();
        bystander = RawSocket.connect(server.syncUri(), server.token("bystander"));
        bystander.hello("bystander-1", 0);
    }

    @AfterAll
    static void stopServer() {
        if (bystander != null) {
            bystander.close();
        }
        if (server != null) {
            server.close();
        }
    }

    @BeforeEach
    void freshUser(TestInfo info) {
        user = "u-" + info.getTestMethod().orElseThrow().getName().toLowerCase(Locale.ROOT) + "-" + BATCHES.incrementAndGet();
    }

    /** Whatever the case did, another user's session is still served. */
    @AfterEach
    void bystanderUnaffected() {
        assertFalse(bystander.isClosed(), "the bystander's socket was closed");
        long before = server.head("bystander");
        bystander.pushAcked(BATCHES.incrementAndGet(), goodSet("still-here", "bystander-1"));
        assertEquals(before + 1, server.head("bystander"), "the bystander's push was not applied");
    }

    // ------------------------------------------------------------------ helpers

    /** A socket of {@link #user} after hello (caught up). */
    private RawSocket ready() {
        RawSocket ws = RawSocket.connect(server.syncUri(), server.token(user));
        ws.hello("r-1", 0);
        return ws;
    }

    /** The socket is open and acks a valid push, which is applied. */
    private void assertUsable(RawSocket ws) {
        assertFalse(ws.isClosed(), "the socket was closed");
        long before = server.head(user);
        ws.pushAcked(BATCHES.incrementAndGet(), goodSet("after-hostile", "r-1"));
        assertEquals(before + 1, server.head(user), "the valid push after the hostile frame was not applied");
    }

    private static void assertMessageMentions(JsonNode error, String... words) {
        String message = error.path("message").asText().toLowerCase(Locale.ROOT);
        for (String w : words) {
            assertTrue(message.contains(w.toLowerCase(Locale.ROOT)), "error message should mention '" + w + "': " + error);
        }
    }

    private void assertNothingWritten() {
        assertEquals(0, server.head(user), "a hostile frame wrote something for " + user);
    }

    // ------------------------------------------------------------------ malformed frames

    @Test
    void notJson() {
        try (RawSocket ws = ready()) {
            ws.send("{\"type\":\"push\",\"batch\":1,\"changes\":[" + goodSet("k", "r-1"));
            JsonNode e = ws.expectError("malformed-frame");
            assertMessageMentions(e, "JSON");
            ws.send("this is not json at all");
            assertMessageMentions(ws.expectError("malformed-frame"), "JSON");
            assertNothingWritten();
            assertUsable(ws);
        }
    }

    @Test
    void jsonArray() {
        try (RawSocket ws = ready()) {
            ws.send("[{\"type\":\"push\",\"batch\":1,\"changes\":[" + goodSet("k", "r-1") + "]}]");
            assertMessageMentions(ws.expectError("malformed-frame"), "object");
            ws.send("\"push\"");
            assertMessageMentions(ws.expectError("malformed-frame"), "object");
            ws.send("{\"type\":\"ping\"} {\"type\":\"ping\"}");
            assertMessageMentions(ws.expectError("malformed-frame"), "trailing");
            assertNothingWritten();
            assertUsable(ws);
        }
    }

    @Test
    void unknownFrameType() {
        try (RawSocket ws = ready()) {
            ws.send("{\"type\":\"subscribe\",\"batch\":1,\"changes\":[" + goodSet("k", "r-1") + "]}");
            assertMessageMentions(ws.expectError("malformed-frame"), "unknown frame type", "subscribe");
            ws.send("{\"batch\":1,\"changes\":[]}");
            assertMessageMentions(ws.expectError("malformed-frame"), "type");
            ws.send("{\"type\":\"push\",\"batch\":2,\"changes\":[],\"extra\":true}");
            assertMessageMentions(ws.expectError("malformed-frame"), "unknown field", "extra");
            assertNothingWritten();
            assertUsable(ws);
        }
    }

    @Test
    void missingField() {
        try (RawSocket ws = ready()) {
            ws.send("{\"type\":\"push\",\"changes\":[" + goodSet("k", "r-1") + "]}");
            assertMessageMentions(ws.expectError("malformed-frame"), "batch");
            ws.send("{\"type\":\"push\",\"batch\":5}");
            JsonNode e = ws.expectError("malformed-frame");
            assertMessageMentions(e, "changes");
            assertEquals(5, e.path("batch").asLong(), "the error should name the batch: " + e);
            ws.send("{\"type\":\"push\",\"batch\":6,\"changes\":[{\"op\":\"set\",\"section\":\"ui\",\"key\":\"k\",\"value\":1}]}");
            JsonNode noStamp = ws.expectError("invalid-change");
            assertMessageMentions(noStamp, "change 0", "stamp");
            assertEquals(6, noStamp.path("batch").asLong());
            assertNothingWritten();
            assertUsable(ws);
        }
    }

    @Test
    void wrongFieldType() {
        try (RawSocket ws = ready()) {
            ws.send("{\"type\":\"push\",\"batch\":\"7\",\"changes\":[" + goodSet("k", "r-1") + "]}");
            assertMessageMentions(ws.expectError("malformed-frame"), "batch", "integer");
            ws.send("{\"type\":\"push\",\"batch\":7,\"changes\":{\"0\":" + goodSet("k", "r-1") + "}}");
            assertMessageMentions(ws.expectError("malformed-frame"), "changes", "array");
            ws.send("{\"type\":\"push\",\"batch\":7.5,\"changes\":[" + goodSet("k", "r-1") + "]}");
            assertMessageMentions(ws.expectError("malformed-frame"), "batch");
            ws.send("{\"type\":\"push\",\"batch\":99999999999999999999999,\"changes\":[" + goodSet("k", "r-1") + "]}");
            assertMessageMentions(ws.expectError("malformed-frame"), "batch", "range");
            ws.send("{\"type\":\"push\",\"batch\":8,\"changes\":[" + goodSet("k", "r-1").replace("\"section\":\"ui\"", "\"section\":42") + "]}");
            assertMessageMentions(ws.expectError("invalid-change"), "section", "string");
            ws.send("{\"type\":\"push\",\"batch\":9,\"changes\":[17]}");
            assertMessageMentions(ws.expectError("malformed-frame"), "change 0", "not an object");
            ws.send("{\"type\":17}");
            assertMessageMentions(ws.expectError("malformed-frame"), "type", "string");
            assertNothingWritten();
            assertUsable(ws);
        }
    }

    @Test
    void pushBeforeHello() {
        try (RawSocket ws = RawSocket.connect(server.syncUri(), server.token(user))) {
            long batch = BATCHES.incrementAndGet();
            ws.push(batch, goodSet("k", "r-1"));
            JsonNode e = ws.expectError("not-ready");
            assertEquals(batch, e.path("batch").asLong(), "not-ready should name the batch: " + e);
            assertMessageMentions(e, "hello");
            assertNothingWritten();
            ws.hello("r-1", 0);
            assertUsable(ws);
        }
    }

    @Test
    void secondHello() {
        try (RawSocket ws = ready()) {
            ws.send("{\"type\":\"hello\",\"protocol\":1,\"replica\":\"r-2\",\"cursor\":0}");
            assertMessageMentions(ws.expectError("not-ready"), "hello");
            assertNothingWritten();
            assertUsable(ws);
        }
    }

    @Test
    void badHello() {
        try (RawSocket ws = RawSocket.connect(server.syncUri(), server.token(user))) {
            ws.send("{\"type\":\"hello\",\"protocol\":1,\"replica\":\"bad replica/id\",\"cursor\":0}");
            assertMessageMentions(ws.expectError("malformed-frame"), "replica");
            ws.send("{\"type\":\"hello\",\"protocol\":1,\"replica\":\"r-1\",\"cursor\":-1}");
            assertMessageMentions(ws.expectError("malformed-frame"), "cursor");
            ws.send("{\"type\":\"hello\",\"protocol\":\"1\",\"replica\":\"r-1\",\"cursor\":0}");
            assertMessageMentions(ws.expectError("malformed-frame"), "protocol");
            ws.hello("r-1", 0); // a refused hello leaves the socket waiting for a good one
            assertNothingWritten();
            assertUsable(ws);
        }
    }

    @Test
    void unsupportedProtocolVersion() {
        try (RawSocket ws = RawSocket.connect(server.syncUri(), server.token(user))) {
            ws.send("{\"type\":\"hello\",\"protocol\":3,\"replica\":\"r-1\",\"cursor\":0}");
            JsonNode e = ws.expectError("protocol-version");
            assertMessageMentions(e, "3");
            assertTrue(e.path("supported").isArray() && e.path("supported").toString().equals("[1,2]"), "supported should be [1,2]: " + e);
            assertNotNull(ws.closeStatus(WAIT), "the socket must be closed after protocol-version");
            assertNothingWritten();
        }
        try (RawSocket again = ready()) { // the same user connects again with a good hello
            assertUsable(again);
        }
    }

    @Test
    void binaryFrame() {
        try (RawSocket ws = ready()) {
            ws.sendBinary(("{\"type\":\"push\",\"batch\":1,\"changes\":[" + goodSet("k", "r-1") + "]}").getBytes(java.nio.charset.StandardCharsets.UTF_8));
            assertMessageMentions(ws.expectError("malformed-frame"), "binary");
            assertNothingWritten();
            assertUsable(ws);
        }
    }

    // ------------------------------------------------------------------ push checks

    @Test
    void batchTooLarge() {
        try (RawSocket ws = ready()) {
            String[] changes = new String[MAX_BATCH + 1];
            for (int i = 0; i < changes.length; i++) {
                changes[i] = goodSet("k" + i, "r-1");
            }
            long batch = BATCHES.incrementAndGet();
            ws.push(batch, changes);
            JsonNode e = ws.expectError("batch-too-large");
            assertEquals(batch, e.path("batch").asLong(), "batch-too-large should name the batch: " + e);
            assertMessageMentions(e, String.valueOf(MAX_BATCH + 1), String.valueOf(MAX_BATCH));
            assertNothingWritten();
            ws.pushAcked(BATCHES.incrementAndGet(), java.util.Arrays.copyOf(changes, MAX_BATCH)); // exactly the limit is fine
            assertEquals(MAX_BATCH, server.head(user));
            assertUsable(ws);
        }
    }

    static Stream<Arguments> badChanges() {
        return Stream.of(
                Arguments.of("unknown section", set("nosuch", "k", "1", stamp("r-1")), List.of("unknown section", "nosuch")),
                Arguments.of("invalid section name", set("Bad Name", "k", "1", stamp("r-1")), List.of("section", "Bad Name")),
                Arguments.of("append to a map section", append("cards", "s", "1", stamp("r-1")), List.of("cards", "map")),
                Arguments.of("set on a log section", set("chat", "k", "1", stamp("r-1")), List.of("chat", "log")),
                Arguments.of("malformed stamp", set("ui", "k", "1", "0190zzzzzzzz0001@r-1"), List.of("stamp")),
                Arguments.of("stamp without replica", set("ui", "k", "1", "0190a1b2c3d40001@"), List.of("stamp")),
                Arguments.of("upper-case stamp", set("ui", "k", "1", stamp("r-1").toUpperCase(Locale.ROOT).replace("@R-1", "@r-1")), List.of("stamp")),
                Arguments.of("key with a control character", set("ui", "bad\u0001key", "1", stamp("r-1")), List.of("control")),
                Arguments.of("empty key", set("ui", "", "1", stamp("r-1")), List.of("key")),
                Arguments.of("unknown field in a change", set("ui", "k", "1", stamp("r-1")).replace("{\"op\"", "{\"evil\":1,\"op\""), List.of("unknown field", "evil")),
                Arguments.of("unknown op", set("ui", "k", "1", stamp("r-1")).replace("\"set\"", "\"upsert\""), List.of("upsert")),
                Arguments.of("delete with a value", set("ui", "k", "1", stamp("r-1")).replace("\"set\"", "\"delete\""), List.of("value")));
    }

    @org.junit.jupiter.api.Test
    void stampFarInTheFutureIsClockSkewAndNothingIsApplied() {
        try (RawSocket ws = ready()) {
            long batch = BATCHES.incrementAndGet();
            String early = set("ui", "k", "1", stampAt(System.currentTimeMillis() + 10 * MAX_AHEAD_MS, "r-1"));
            ws.push(batch, goodSet("a", "r-1"), goodSet("b", "r-1"), early, goodSet("c", "r-1"));
            JsonNode e = ws.expectError("clock-skew");
            assertEquals(batch, e.path("batch").asLong(), "clock-skew should name the batch: " + e);
            assertMessageMentions(e, "change 2", "ahead");
            assertNothingWritten();
            assertUsable(ws);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badChanges")
    void oneBadChangeAmongGoodOnes(String what, String bad, List<String> mentions) {
        try (RawSocket ws = ready()) {
            long batch = BATCHES.incrementAndGet();
            ws.push(batch, goodSet("a", "r-1"), goodSet("b", "r-1"), bad, goodSet("c", "r-1"));
            JsonNode e = ws.expectError("invalid-change");
            assertEquals(batch, e.path("batch").asLong(), what + ": invalid-change should name the batch: " + e);
            assertMessageMentions(e, "change 2");
            assertMessageMentions(e, mentions.toArray(String[]::new));
            assertNothingWritten();
            assertUsable(ws);
        }
    }

    // ------------------------------------------------------------------ the number rule (PROTOCOL.md 1.2, spec/vectors/numbers.json)

    /** Numbers the server cannot give back exactly (they came back as "Infinity", 1.1805916207174113e+21, 0). */
    static Stream<String> inexactNumbers() {
        return Stream.of("1e400", "-1e400", "1e-400", "-0", "-0.0", "1180591620717411303424", "123456789012345678",
                "9007199254740993", "0.10000000000000001");
    }

    @ParameterizedTest(name = "pushed {0}")
    @MethodSource("inexactNumbers")
    void numbersThatWouldComeBackChangedAreRefusedOnTheSocket(String number) {
        try (RawSocket ws = ready()) {
            long batch = BATCHES.incrementAndGet();
            ws.push(batch, goodSet("a", "r-1"), set("ui", "n", "{\"x\":[" + number + "]}", stamp("r-1")));
            JsonNode e = ws.expectError("invalid-change");
            assertEquals(batch, e.path("batch").asLong(), "invalid-change should name the batch: " + e);
            assertMessageMentions(e, "change 1", number);
            ws.push(BATCHES.incrementAndGet(), "{\"op\":\"append\",\"section\":\"chat\",\"stream\":\"s\",\"value\":" + number
                    + ",\"stamp\":\"" + stamp("r-1") + "\"}");
            ws.expectError("invalid-change");
            assertNothingWritten();
            assertUsable(ws);
        }
    }

    @ParameterizedTest(name = "HTTP {0}")
    @MethodSource("inexactNumbers")
    void numbersThatWouldComeBackChangedAreRefusedOverHttp(String number) {
        String token = server.token(user);
        String before = seedHttpUser(token);
        long head = server.head(user);
        assertJsonError(server.post("/api/preferences", token, "{\"n\":" + number + "}"), 400, number);
        assertEquals("invalid-change", server.post("/api/preferences", token, "{\"n\":[" + number + "]}").json().path("error").asText());
        assertJsonError(server.post("/api/progress/assessment", token, "{\"answers\":{\"q\":" + number + "}}"), 400, number);
        assertJsonError(server.post("/api/progress/assessment", token, "{\"complete\":true,\"score\":" + number + "}"), 400, number);
        assertJsonError(server.post("/api/persistence/sync", token, "{\"sections\":{\"ui\":{\"kind\":\"map\",\"entries\":{\"n\":{\"value\":"
                + number + ",\"stamp\":\"" + stamp("r-1") + "\"}}}}}"), 400, number);
        TestServer.Response imported = server.post("/api/import", token, "{\"format\":\"cairn-export\",\"version\":1,\"sections\":{\"ui\":{\"kind\":\"map\","
                + "\"entries\":{\"n\":{\"value\":" + number + ",\"stamp\":\"" + stamp("r-1") + "\"}}}}}");
        assertJsonError(imported, 400, number);
        assertEquals("invalid-import", imported.json().path("error").asText());
        assertEquals(head, server.head(user), number + " was written");
        assertEquals(before, server.canonical(user));
    }

    /** An accepted number comes back exactly as accepted, on every path: pushed, HTTP and served to another socket. */
    @Test
    void acceptedNumbersComeBackInTheirCanonicalSpelling() {
        String value = "[0.1,1.0,1e2,2e23,9007199254740991,1152921504606847000,5e-324,1.5e300,0.0]";
        String canonical = "[0.1,1.0,100.0,2.0E23,9007199254740991,1152921504606847000,5.0E-324,1.5E300,0.0]";
        try (RawSocket ws = ready()) {
            ws.pushAcked(BATCHES.incrementAndGet(), set("ui", "pushed", value, stamp("r-1")));
        }
        String token = server.token(user);
        assertEquals(200, server.post("/api/preferences", token, "{\"posted\":" + value + "}").status());
        try (RawSocket other = RawSocket.connect(server.syncUri(), server.token(user))) {
            other.hello("r-2", 0);
            String frames = String.join("\n", other.received());
            assertTrue(frames.contains("\"key\":\"pushed\",\"value\":" + canonical), frames);
        }
        String served = server.get("/api/preferences", token).body();
        assertTrue(served.contains("\"posted\":" + canonical), served);
        assertTrue(server.canonical(user).contains("\"value\":" + canonical), server.canonical(user));
    }

    /** A stamp with its top bit set is well formed, only far ahead: clock-skew (keep and retry), not invalid-change. */
    @ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"ffffffffffffffff", "8000000000000000"})
    void stampWithTheTopBitSetIsClockSkew(String hlc) {
        try (RawSocket ws = ready()) {
            long batch = BATCHES.incrementAndGet();
            ws.push(batch, goodSet("a", "r-1"), set("ui", "k", "1", hlc + "@r-1"));
            JsonNode e = ws.expectError("clock-skew");
            assertEquals(batch, e.path("batch").asLong(), "clock-skew should name the batch: " + e);
            assertMessageMentions(e, "change 1", "ahead");
            assertNothingWritten();
            assertUsable(ws);
        }
        String token = server.token(user);
        TestServer.Response imported = server.post("/api/import", token, "{\"format\":\"cairn-export\",\"version\":1,\"sections\":{\"ui\":{\"kind\":\"map\","
                + "\"entries\":{\"n\":{\"value\":1,\"stamp\":\"" + hlc + "@r-1\"}}}}}");
        assertJsonError(imported, 400, "too far ahead");
        assertEquals("invalid-import", imported.json().path("error").asText());
        assertEquals(1, server.head(user), "only assertUsable's push was written");
    }

    /** A repeated field name is refused, not "last one wins" (parsers disagree on which one wins). */
    @Test
    void duplicateFieldNames() {
        try (RawSocket ws = ready()) {
            ws.send("{\"type\":\"push\",\"batch\":1,\"batch\":2,\"changes\":[" + goodSet("k", "r-1") + "]}");
            assertMessageMentions(ws.expectError("malformed-frame"), "duplicate", "batch");
            String twoValues = set("ui", "k", "1", stamp("r-1")).replace("\"value\":1", "\"value\":1,\"value\":2");
            ws.push(BATCHES.incrementAndGet(), twoValues);
            assertMessageMentions(ws.expectType("error", WAIT), "duplicate", "value");
            assertNothingWritten();
            assertUsable(ws);
        }
    }

    /** The error names the frame's own batch, not a "batch" key inside a change's value. */
    @Test
    void errorNamesTheTopLevelBatch() {
        try (RawSocket ws = ready()) {
            long batch = BATCHES.incrementAndGet();
            ws.send("{\"type\":\"push\",\"changes\":[" + set("ui", "k", "{\"batch\":999}", stamp("r-1")) + ","
                    + set("ui", "bad\u0001key", "1", stamp("r-1")) + "],\"batch\":" + batch + "}");
            JsonNode e = ws.expectError("invalid-change");
            assertEquals(batch, e.path("batch").asLong(-1), "the error must name the push's batch: " + e);
            ws.send("{\"type\":\"push\",\"changes\":[" + set("ui", "k", "{\"batch\":999}", stamp("r-1")) + "],\"batch\":\"x\"}");
            JsonNode noBatch = ws.expectError("malformed-frame");
            assertTrue(noBatch.path("batch").isMissingNode(), "a push without a valid batch has none to name: " + noBatch);
            assertNothingWritten();
            assertUsable(ws);
        }
    }

    // ------------------------------------------------------------------ limits

    @Test
    void oversizedFrameClosesWith1009() {
        String big = "\"" + "x".repeat(MAX_FRAME_BYTES + 1024) + "\"";
        try (RawSocket ws = ready()) {
            ws.push(BATCHES.incrementAndGet(), set("ui", "big", big, stamp("r-1")));
            Integer status = ws.closeStatus(WAIT);
            assertEquals(1009, status, "a frame over maxFrameBytes must close the socket with 1009; frames: " + ws.received());
        }
        assertNothingWritten();
        try (RawSocket again = ready()) { // the server serves the same user again
            assertUsable(again);
        }
    }

    @Test
    void oversizedSingleFrameClosesWith1009() throws Exception {
        // The JDK client fragments big messages into 16 KiB frames; browsers and Vert.x send one frame.
        WebSocketClient client = server.vertx().createWebSocketClient(new WebSocketClientOptions()
                .setMaxFrameSize(4 * MAX_FRAME_BYTES).setMaxMessageSize(4 * MAX_FRAME_BYTES));
        try {
            WebSocket ws = TestServer.await(client.connect(new WebSocketConnectOptions().setHost("127.0.0.1").setPort(server.port())
                    .setURI("/sync").addHeader("Authorization", "Bearer " + server.token(user))));
            CompletableFuture<Short> closed = new CompletableFuture<>();
            BlockingQueue<String> frames = new LinkedBlockingQueue<>();
            ws.closeHandler(v -> closed.complete(ws.closeStatusCode()));
            ws.textMessageHandler(frames::add);
            ws.writeTextMessage("{\"type\":\"hello\",\"protocol\":1,\"replica\":\"r-1\",\"cursor\":0}");
            assertNotNull(frames.poll(10, TimeUnit.SECONDS), "no welcome");
            String big = "\"" + "x".repeat(MAX_FRAME_BYTES + 1024) + "\"";
            ws.writeFinalTextFrame("{\"type\":\"push\",\"batch\":1,\"changes\":[" + set("ui", "big", big, stamp("r-1")) + "]}");
            assertEquals((short) 1009, closed.get(10, TimeUnit.SECONDS), "a single frame over maxFrameBytes must close the socket with 1009");
        } finally {
            TestServer.await(client.close());
        }
        assertNothingWritten();
        try (RawSocket again = ready()) {
            assertUsable(again);
        }
    }

    /**
     * Whatever value the server accepts must reach every other replica: a changes frame nests a
     * value one level deeper than a push does (and an HTTP body two levels less), and clients parse
     * with the same depth limit (Json.MAX_DEPTH). A value that is accepted but does not decode inside
     * a changes frame poisons the user: every replica's catch-up fails on it, forever.
     */
    @Test
    void everyAcceptedValueCanBeDeliveredToOtherReplicas() {
        List<String> undeliverable = new ArrayList<>();
        try (RawSocket writer = ready()) {
            for (int depth = 56; depth <= 64; depth++) {
                writer.push(BATCHES.incrementAndGet(), set("ui", "deep-" + depth, nested(depth), stamp("r-1")));
                JsonNode answer = writer.skipUntil(t -> !"changes".equals(t), WAIT);
                if ("ack".equals(answer.path("type").asText()) && !deliverable(server.head(user))) {
                    undeliverable.add("push of depth " + depth);
                }
            }
        }
        String token = server.token(user);
        for (int depth = 56; depth <= 64; depth++) {
            if (server.post("/api/preferences", token, "{\"deep\":" + nested(depth) + "}").status() == 200 && !deliverable(server.head(user))) {
                undeliverable.add("POST /api/preferences of depth " + depth);
            }
        }
        assertEquals(List.of(), undeliverable, "these values were accepted but no client can decode the changes frame that carries"
                + " them (FrameCodec refuses it), so every replica's catch-up fails on them");
    }

    /** Whether a fresh replica that asks for the change with this seq can decode everything it gets. */
    private boolean deliverable(long seq) {
        try (RawSocket reader = RawSocket.connect(server.syncUri(), server.token(user))) {
            reader.send("{\"type\":\"hello\",\"protocol\":1,\"replica\":\"r-2\",\"cursor\":" + (seq - 1) + "}");
            while (true) {
                Frame f = reader.nextFrame(WAIT);
                if (f instanceof Frame.CaughtUp) {
                    return true;
                }
            }
        } catch (ProtocolException e) {
            return false;
        }
    }

    @Test
    void rateLimited() throws InterruptedException {
        try (RawSocket ws = ready()) {
            Thread.sleep(1100); // a fresh one-second window starts with the next frame
            for (int i = 0; i < MAX_FRAMES_PER_SECOND; i++) {
                ws.send("{\"type\":\"ping\"}");
            }
            long batch = BATCHES.incrementAndGet();
            ws.push(batch, goodSet("flood", "r-1"));
            for (int i = 0; i < MAX_FRAMES_PER_SECOND; i++) {
                ws.expectType("pong", WAIT);
            }
            JsonNode e = ws.expectError("rate-limited");
            assertMessageMentions(e, "frames per second");
            // Named, so the client re-sends just that batch (without it, it must park every push in flight).
            assertEquals(batch, e.path("batch").asLong(-1), "rate-limited should name the dropped batch: " + e);
            ws.expectSilence(Duration.ofMillis(200)); // no ack: the push was dropped
            assertNothingWritten();
            Thread.sleep(1100);
            assertUsable(ws);
        }
    }

    @Test
    void deeplyNestedValue() {
        try (RawSocket ws = ready()) {
            for (int depth : new int[] {dev.cairn.engine.crdt.Names.MAX_VALUE_DEPTH + 1, 40, 70, 200, 20_000}) {
                long batch = BATCHES.incrementAndGet();
                ws.push(batch, goodSet("a", "r-1"), set("ui", "deep", nested(depth), stamp("r-1")));
                JsonNode e = ws.expectType("error", WAIT);
                String code = e.path("code").asText();
                assertTrue(code.equals("malformed-frame") || code.equals("invalid-change"), "depth " + depth + ": " + e);
                assertTrue(e.path("message").asText().contains("depth") || e.path("message").asText().contains("nested deeper"),
                        "the error should say the value is too deep: " + e);
                assertEquals(batch, e.path("batch").asLong(), "the error should name the batch: " + e);
            }
            // a value at the value-depth limit is accepted (and fits every frame that carries it)
            ws.pushAcked(BATCHES.incrementAndGet(), set("ui", "deep-ok", nested(dev.cairn.engine.crdt.Names.MAX_VALUE_DEPTH), stamp("r-1")));
            assertEquals(1, server.head(user));
            assertUsable(ws);
        }
    }

    // ------------------------------------------------------------------ HTTP

    /** A user with some state, so "no change" means something; returns its canonical state. */
    private String seedHttpUser(String token) {
        TestServer.Response r = server.post("/api/preferences", token, "{\"theme\":\"dark\",\"lang\":\"en\"}");
        assertEquals(200, r.status(), r.toString());
        return server.canonical(user);
    }

    private static void assertJsonError(TestServer.Response r, int status, String... mentions) {
        assertEquals(status, r.status(), "status of " + r);
        JsonNode body = r.json();
        assertTrue(body.path("error").isTextual(), "error body needs 'error': " + r);
        assertTrue(body.path("message").isTextual(), "error body needs 'message': " + r);
        String message = body.path("message").asText().toLowerCase(Locale.ROOT);
        for (String m : mentions) {
            assertTrue(message.contains(m.toLowerCase(Locale.ROOT)), "message should mention '" + m + "': " + r);
        }
    }

    @Test
    void httpMalformedJsonBody() {
        String token = server.token(user);
        String before = seedHttpUser(token);
        long head = server.head(user);
        for (String path : List.of("/api/preferences", "/api/progress/onboarding", "/api/progress/assessment", "/api/persistence/sync")) {
            assertJsonError(server.post(path, token, "{\"theme\":"), 400, "ends inside a JSON value");
            assertJsonError(server.post(path, token, "{\"theme\":NaN}"), 400, "NaN or an infinity");
            assertJsonError(server.post(path, token, "{\"a\":1,\"a\":2}"), 400, "a duplicate member");
            assertJsonError(server.post(path, token, "[1,2,3]"), 400);
            assertJsonError(server.post(path, token, ""), 400);
        }
        assertJsonError(server.post("/api/progress/assessment", token, "{\"complete\":true,\"score\":\"high\"}"), 400);
        assertJsonError(server.post("/api/preferences", token, "{\"bad\\u0001key\":1}"), 400, "control");
        assertEquals(head, server.head(user));
        assertEquals(before, server.canonical(user));
        assertEquals(200, server.post("/api/preferences", token, "{\"theme\":\"light\"}").status(), "the API is still usable");
    }

    /** A '%' not followed by two hex digits, in a path or an API query: JSON 400 before routing, nothing logged as an error. */
    @Test
    void badPercentEscapesAreAnsweredInTheApiShape() {
        ch.qos.logback.classic.Logger root = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> log = new ch.qos.logback.core.read.ListAppender<>();
        log.start();
        root.addAppender(log);
        try {
            String token = server.token(user);
            for (String path : List.of("/api/a%zz", "/api/history/preferences/a%zzb", "/api/export?sections=%zz", "/api/preferences?x=%4", "/index%g0.html")) {
                for (String auth : new String[] {"Authorization: Bearer " + token + "\r\n", ""}) {
                    // raw: the JDK's HTTP client refuses to send such a URI
                    String answer = rawHttp("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth + "Connection: close\r\n\r\n");
                    assertTrue(answer.startsWith("HTTP/1.1 400"), path + ": " + answer);
                    assertTrue(answer.toLowerCase(Locale.ROOT).contains("content-type: application/json"), path + ": " + answer);
                    assertTrue(answer.endsWith("{\"error\":\"bad-request\",\"message\":\"the request's path or query has a '%' not followed by two hex digits\"}"),
                            path + ": " + answer);
                }
            }
            assertEquals(200, server.get("/api/preferences?x=%41", token).status(), "a good escape still passes");
            String page = rawHttp("GET /?ref=50%off HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
            assertTrue(page.startsWith("HTTP/1.1 200"), "a page's query is the page's business (browsers send a bare %): " + page);
            assertTrue(log.list.stream().noneMatch(e -> e.getLevel().isGreaterOrEqual(ch.qos.logback.classic.Level.ERROR)),
                    "no error logged: " + log.list);
        } finally {
            root.detachAppender(log);
        }
    }

    private static String rawHttp(String request) {
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", server.port())) {
            socket.setSoTimeout((int) WAIT.toMillis());
            socket.getOutputStream().write(request.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            return new String(socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        } catch (java.io.IOException e) {
            throw new AssertionError("raw request failed: " + e, e);
        }
    }

    @Test
    void httpBodyOverLimit() {
        String token = server.token(user);
        String before = seedHttpUser(token);
        String big = "{\"theme\":\"" + "x".repeat(MAX_FRAME_BYTES + 1024) + "\"}";
        for (String path : List.of("/api/preferences", "/api/import", "/api/persistence/sync")) {
            assertJsonError(server.post(path, token, big), 413);
        }
        assertEquals(before, server.canonical(user));
        assertEquals(200, server.post("/api/preferences", token, "{\"theme\":\"light\"}").status(), "the API is still usable");
    }

    @Test
    void httpDeeplyNestedValue() {
        String token = server.token(user);
        String before = seedHttpUser(token);
        for (String body : List.of("{\"theme\":" + nested(100) + "}", "{\"answers\":{\"q\":" + nested(100) + "}}",
                "{\"theme\":" + nested(20_000) + "}")) {
            String path = body.contains("answers") ? "/api/progress/assessment" : "/api/preferences";
            TestServer.Response r = server.post(path, token, body);
            assertJsonError(r, 400, "nested deeper");
        }
        assertEquals(before, server.canonical(user), "a value deeper than the protocol allows was stored");
        // And whatever is stored must still decode for a socket client (FrameCodec is depth-limited).
        try (RawSocket ws = RawSocket.connect(server.syncUri(), token)) {
            ws.send("{\"type\":\"hello\",\"protocol\":1,\"replica\":\"r-1\",\"cursor\":0}");
            ws.nextFrame(WAIT);
            ws.nextFrame(WAIT);
        }
    }

    @Test
    void httpUnknownSectionOnDelete() {
        String token = server.token(user);
        String before = seedHttpUser(token);
        assertJsonError(server.delete("/api/sections/nosuch", token), 404, "nosuch");
        assertJsonError(server.delete("/api/sections/Bad%20Name", token), 404);
        assertEquals(before, server.canonical(user));
        TestServer.Response ok = server.delete("/api/sections/preferences", token);
        assertEquals(200, ok.status(), ok.toString());
        assertEquals(2, ok.json().path("cleared").asInt(), ok.toString());
    }

    static Stream<Arguments> badImports() {
        String future = stampAt(System.currentTimeMillis() + 10 * MAX_AHEAD_MS, "x");
        String goodStamp = stamp("x");
        return Stream.of(
                Arguments.of("binary garbage", "\u0000\u0001\u0002garbage\u00ff"),
                Arguments.of("empty", ""),
                Arguments.of("a JSON array", "[]"),
                Arguments.of("foreign format", "{\"format\":\"other-app\",\"version\":1,\"sections\":{}}"),
                Arguments.of("no format", "{\"version\":1,\"sections\":{}}"),
                Arguments.of("future version", "{\"format\":\"cairn-export\",\"version\":2,\"sections\":{}}"),
                Arguments.of("unknown section", "{\"format\":\"cairn-export\",\"version\":1,\"sections\":{\"nosuch\":{\"kind\":\"map\",\"entries\":{}}}}"),
                Arguments.of("wrong kind", "{\"format\":\"cairn-export\",\"version\":1,\"sections\":{\"chat\":{\"kind\":\"map\",\"entries\":{}}}}"),
                Arguments.of("bad stamp", "{\"format\":\"cairn-export\",\"version\":1,\"sections\":{\"ui\":{\"kind\":\"map\",\"entries\":"
                        + "{\"ok\":{\"value\":1,\"stamp\":\"" + goodStamp + "\"},\"k\":{\"value\":1,\"stamp\":\"nope\"}}}}}"),
                Arguments.of("stamp far in the future", "{\"format\":\"cairn-export\",\"version\":1,\"sections\":{\"ui\":{\"kind\":\"map\",\"entries\":"
                        + "{\"ok\":{\"value\":1,\"stamp\":\"" + goodStamp + "\"},\"k\":{\"value\":1,\"stamp\":\"" + future + "\"}}}}}"),
                Arguments.of("control character in a key", "{\"format\":\"cairn-export\",\"version\":1,\"sections\":{\"ui\":{\"kind\":\"map\",\"entries\":"
                        + "{\"ok\":{\"value\":1,\"stamp\":\"" + goodStamp + "\"},\"a\\u0000b\":{\"value\":1,\"stamp\":\"" + goodStamp + "\"}}}}}"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badImports")
    void httpBadImport(String what, String document) {
        String token = server.token(user);
        String before = seedHttpUser(token);
        long head = server.head(user);
        assertJsonError(server.post("/api/import", token, document), 400);
        assertEquals(head, server.head(user), what + ": the import wrote something");
        assertEquals(before, server.canonical(user));
    }

    @Test
    void httpTruncatedImport() {
        String token = server.token(user);
        String before = seedHttpUser(token);
        TestServer.Response export = server.get("/api/export", token);
        assertEquals(200, export.status(), export.toString());
        String doc = export.body();
        for (int cut : new int[] {doc.length() / 2, doc.length() - 1, 10}) {
            assertJsonError(server.post("/api/import", token, doc.substring(0, cut)), 400);
        }
        assertEquals(before, server.canonical(user));
        TestServer.Response reimport = server.post("/api/import", token, doc);
        assertEquals(200, reimport.status(), reimport.toString());
        assertEquals(0, reimport.json().path("changesApplied").asInt(), "re-importing the same state alters nothing: " + reimport);
    }

    @Test
    void httpSyncWithBadStamp() {
        String token = server.token(user);
        String before = seedHttpUser(token);
        long head = server.head(user);
        String good = "\"ok\":{\"value\":1,\"stamp\":\"" + stamp("x") + "\"}";
        List<String> bodies = new ArrayList<>(List.of(
                "{\"sections\":{\"ui\":{\"kind\":\"map\",\"entries\":{" + good + ",\"k\":{\"value\":1,\"stamp\":\"0190-not-a-stamp\"}}}}}",
                "{\"sections\":{\"ui\":{\"kind\":\"map\",\"entries\":{" + good + ",\"k\":{\"value\":1,\"stamp\":17}}}}}",
                "{\"sections\":{\"ui\":{\"kind\":\"map\",\"entries\":{" + good + ",\"k\":{\"value\":1,\"stamp\":\""
                        + stampAt(System.currentTimeMillis() + 10 * MAX_AHEAD_MS, "x") + "\"}}}}}",
                "{\"sections\":{\"nosuch\":{\"kind\":\"map\",\"entries\":{}}}}",
                "{\"sections\":[]}",
                "{\"nothing\":1}"));
        for (String body : bodies) {
            TestServer.Response r = server.post("/api/persistence/sync", token, body);
            assertJsonError(r, 400);
        }
        assertEquals(head, server.head(user));
        assertEquals(before, server.canonical(user));
        TestServer.Response ok = server.post("/api/persistence/sync", token, "{\"sections\":{\"ui\":{\"kind\":\"map\",\"entries\":{" + good + "}}}}");
        assertEquals(200, ok.status(), ok.toString());
    }

    @Test
    void plainHttpRequestToSyncEndpoint() {
        for (HttpClient.Version version : HttpClient.Version.values()) {
            HttpClient client = HttpClient.newBuilder().version(version).connectTimeout(Duration.ofSeconds(5)).build();
            HttpRequest request = HttpRequest.newBuilder(URI.create(server.httpBase() + "/sync")).timeout(Duration.ofSeconds(5))
                    .header("Authorization", "Bearer " + server.token(user)).GET().build();
            try {
                HttpResponse<String> r = client.send(request, HttpResponse.BodyHandlers.ofString());
                // PROTOCOL.md 2: 400 in the API's error shape (it was Vert.x's plain-text 400).
                assertEquals(400, r.statusCode(), version + ": a GET /sync without an upgrade: " + r.statusCode() + " " + r.body());
                assertTrue(r.headers().firstValue("content-type").orElse("").startsWith("application/json"), version + ": " + r.headers());
                JsonNode body = dev.cairn.engine.codec.Json.MAPPER.readTree(r.body());
                assertEquals("bad-request", body.path("error").asText(), version + ": " + r.body());
                assertTrue(body.path("message").isTextual(), version + ": " + r.body());
            } catch (java.io.IOException e) {
                throw new AssertionError(version + ": a GET /sync without an upgrade got no answer: " + e, e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }

    /** Every error answer is JSON in PROTOCOL.md's shape: unknown paths, wrong methods, bodies over the limit. */
    @Test
    void everyHttpErrorIsJsonInTheProtocolShape() {
        String token = server.token(user);
        TestServer.Response unknown = server.get("/api/no-such-thing", token);
        assertJsonError(unknown, 404);
        assertEquals("not-found", unknown.json().path("error").asText(), unknown.toString());
        assertTrue(unknown.header("content-type").startsWith("application/json"), unknown.toString());
        assertJsonError(server.get("/api/no-such-thing", null), 401); // no token: the token is checked first
        TestServer.Response wrongMethod = server.request("PUT", "/api/preferences", token, "{}");
        assertJsonError(wrongMethod, 405);
        assertEquals("method-not-allowed", wrongMethod.json().path("error").asText(), wrongMethod.toString());
        TestServer.Response deleteUsage = server.delete("/api/usage", token);
        assertJsonError(deleteUsage, 405);
        TestServer.Response tooLarge = server.post("/api/preferences", token, "{\"x\":\"" + "y".repeat(MAX_FRAME_BYTES + 10) + "\"}");
        assertJsonError(tooLarge, 413);
    }

    /** /health tells anyone only up or down: no store kind, database name or driver text. */
    @Test
    void healthNamesNothingButTheStatus() {
        TestServer.Response r = server.get("/health", null);
        assertEquals(200, r.status(), r.toString());
        assertEquals("{\"status\":\"up\",\"checks\":{\"store\":\"up\",\"fanout\":\"up\",\"eventLoop\":\"up\"}}", r.body());
    }

    /** Onboarding: wrong types are refused with a clear 400, never coerced, and no exception text is shown. */
    @Test
    void onboardingRefusesWrongTypesWithoutCoercion() {
        String token = server.token(user);
        String before = seedHttpUser(token);
        long head = server.head(user);
        for (String body : List.of("{\"stepId\":5,\"completed\":true}", "{\"stepId\":\"a\"}", "{\"stepId\":\"a\",\"completed\":\"yes\"}",
                "{\"stepId\":\"a\",\"completed\":1}", "{\"currentStep\":7}", "{\"completed\":true}", "{\"stepId\":\"a\",\"completed\":true,\"x\":1}",
                "{\"stepId\":null,\"completed\":true}")) {
            TestServer.Response r = server.post("/api/progress/onboarding", token, body);
            assertJsonError(r, 400);
            assertEquals("bad-request", r.json().path("error").asText(), body + ": " + r);
            String message = r.json().path("message").asText();
            assertFalse(message.contains("Exception") || message.contains("java.") || message.contains("cannot be cast"), body + ": " + message);
        }
        for (String body : List.of("{\"answers\":[1]}", "{\"complete\":\"true\"}", "{\"complete\":true,\"score\":\"high\"}")) {
            TestServer.Response r = server.post("/api/progress/assessment", token, body);
            assertJsonError(r, 400);
            assertFalse(r.json().path("message").asText().contains("Exception"), body + ": " + r);
        }
        assertEquals(head, server.head(user));
        assertEquals(before, server.canonical(user));
        TestServer.Response ok = server.post("/api/progress/onboarding", token, "{\"stepId\":\"5\",\"completed\":true}");
        assertEquals(200, ok.status(), ok.toString());
        assertEquals("[\"5\"]", ok.json().path("completedSteps").toString());
    }

    /** PROTOCOL.md 3: a client frame has exactly its type's members; one another type defines ("user" in hello) is refused too. */
    @Test
    void membersAFrameTypeDoesNotDefineAreRefused() {
        try (RawSocket ws = RawSocket.connect(server.syncUri(), server.token(user))) {
            ws.send("{\"type\":\"hello\",\"protocol\":1,\"replica\":\"r-1\",\"cursor\":0,\"user\":\"mallory\"}");
            assertMessageMentions(ws.expectError("malformed-frame"), "user");
            ws.send("{\"type\":\"hello\",\"protocol\":1,\"replica\":\"r-1\",\"cursor\":0,\"extra\":1}");
            assertMessageMentions(ws.expectError("malformed-frame"), "extra");
            ws.send("{\"type\":\"ping\",\"batch\":1}");
            ws.expectError("malformed-frame");
            ws.hello("r-1", 0);
            ws.send("{\"type\":\"push\",\"batch\":1,\"changes\":[],\"head\":5}");
            assertMessageMentions(ws.expectError("malformed-frame"), "head");
            assertNothingWritten();
            assertUsable(ws);
        }
    }

    /** welcome lists every section the server knows with its kind (PROTOCOL.md 3.1). */
    @Test
    void welcomeListsTheServersSections() {
        try (RawSocket ws = RawSocket.connect(server.syncUri(), server.token(user))) {
            JsonNode welcome = ws.hello("r-1", 0).welcome();
            JsonNode sections = welcome.path("sections");
            assertTrue(sections.isObject(), welcome.toString());
            assertEquals("map", sections.path("ui").asText(), welcome.toString());
            assertEquals("log", sections.path("chat").asText(), welcome.toString());
            assertEquals("map", sections.path("cards").asText(), welcome.toString());
            sections.fields().forEachRemaining(e -> assertTrue(Set.of("map", "log").contains(e.getValue().asText()), welcome.toString()));
        }
    }

    /**
     * PROTOCOL.md 1.3: a cursor beyond the user's head (the server lost or reset the data) gets the
     * whole state from 0, and caught-up names the server's head, below the cursor the replica sent.
     */
    @Test
    void aCursorAheadOfTheHeadGetsTheWholeStateFrom0() {
        try (RawSocket ws = ready()) {
            ws.pushAcked(BATCHES.incrementAndGet(), goodSet("a", "r-1"), goodSet("b", "r-1"));
        }
        try (RawSocket ws = RawSocket.connect(server.syncUri(), server.token(user))) {
            RawSocket.Handshake h = ws.hello("r-2", 1_000_000);
            assertEquals(2, h.welcome().path("head").asLong(), h.welcome().toString());
            assertEquals(2, h.changes().size(), "every change since 0: " + h.pages());
            assertEquals(2, h.cursor(), "the replica's cursor goes back to the server's head");
        }
    }

    /** 1009 storms: the third 1009 close of one user's sockets logs a WARNING naming the user and the size. */
    @Test
    void repeated1009ClosesOfOneUserAreLoggedAsAWarning() {
        ch.qos.logback.classic.Logger logger = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(
                dev.cairn.server.session.OversizeWarnings.class);
        ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> log = new ch.qos.logback.core.read.ListAppender<>();
        log.start();
        logger.addAppender(log);
        try {
            String big = "\"" + "x".repeat(MAX_FRAME_BYTES + 1024) + "\"";
            for (int i = 0; i < 3; i++) {
                try (RawSocket ws = ready()) {
                    ws.push(BATCHES.incrementAndGet(), set("ui", "big", big, stamp("r-1")));
                    assertEquals(1009, ws.closeStatus(WAIT));
                }
            }
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (log.list.isEmpty() && System.nanoTime() - deadline < 0) {
                Thread.onSpinWait();
            }
            assertEquals(1, log.list.size(), "one warning after the third close: " + log.list);
            String message = log.list.get(0).getFormattedMessage();
            assertEquals(ch.qos.logback.classic.Level.WARN, log.list.get(0).getLevel());
            assertTrue(message.contains(user) && message.contains("1009") && message.contains("bytes"), message);
        } finally {
            logger.detachAppender(log);
        }
        assertNothingWritten();
    }
}
