package dev.cairn.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.clock.HybridClock;
import dev.cairn.engine.clock.WallClock;
import dev.cairn.engine.protocol.FrameType;
import dev.cairn.server.auth.TokenAuth;
import dev.cairn.server.http.HttpApi;
import dev.cairn.server.monitoring.ServerMetrics;
import dev.cairn.server.section.SectionRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.Route;
import io.vertx.ext.web.Router;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import static dev.cairn.server.TestChanges.append;
import static dev.cairn.server.TestChanges.set;
import static dev.cairn.server.TestChanges.stamp;
import static dev.cairn.server.TestChanges.stampAt;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Isolation (PROTOCOL.md 2 and 4.4): a token's user sees and changes only that user's data, on
 * every frame type and every HTTP route. User A (with data in every kind of section, written over a
 * socket and over HTTP, and a live socket open all along) and user B, whose id extends A's (so a
 * prefix scan over A's keys would also hit B's). After each of B's actions A's head and state are
 * unchanged and A's live socket received nothing.
 *
 * <p>The cases are two tables, one per frame type ({@link FrameType#values()}) and one per HTTP route
 * (read from {@link HttpApi#mount} itself), so a new frame type or route without a case fails
 * {@link #everyFrameTypeHasACase} or {@link #everyRouteHasACase}.
 */
class IsolationIT {

    private static final String A = "alice";
    private static final String B = "alice.b";
    private static final String A_REPLICA = "alice-phone";
    /** Every value and key A writes contains this; nothing B receives may. */
    private static final String SECRET = "A-SECRET-7f3c";

    private static TestServer server;
    private static RawSocket aLive;
    private static String aToken;
    private static String bToken;
    private static String aState;
    private static long aHead;
    private static final AtomicLong BATCHES = new AtomicLong();

    // ------------------------------------------------------------------ the tables

    /** Frame types a client may send (PROTOCOL.md 3), each with its isolation case. */
    private static final Map<FrameType, Runnable> CLIENT_FRAMES = new EnumMap<>(Map.of(
            FrameType.HELLO, IsolationIT::helloCatchUpShowsNothingOfA,
            FrameType.PUSH, IsolationIT::pushLandsOnlyInB,
            FrameType.PING, IsolationIT::pingIsAnsweredOnlyToB,
            FrameType.PONG, IsolationIT::pongDoesNothing,
            FrameType.PRESENCE, IsolationIT::presenceWithoutSpacesIsRefused));

    /** Frame types only the server sends, each with a well-formed sample a hostile client might send. */
    private static final Map<FrameType, String> SERVER_ONLY_FRAMES = new EnumMap<>(Map.of(
            FrameType.WELCOME, "{\"type\":\"welcome\",\"protocol\":1,\"user\":\"" + A + "\",\"head\":0,\"maxBatch\":1000,\"maxAheadMillis\":60000}",
            FrameType.CHANGES, "{\"type\":\"changes\",\"changes\":[{\"seq\":1,\"change\":" + set("preferences", "theme", "\"b-evil\"", stamp(A_REPLICA)) + "}],\"cursor\":1}",
            FrameType.CAUGHT_UP, "{\"type\":\"caught-up\",\"cursor\":0}",
            FrameType.ACK, "{\"type\":\"ack\",\"batch\":1}",
            FrameType.ERROR, "{\"type\":\"error\",\"code\":\"unavailable\",\"message\":\"x\"}",
            FrameType.SPACE_LEFT, "{\"type\":\"space-left\",\"space\":\"sp-1\",\"reason\":\"removed\"}"));

    /** Every route of the HTTP API ("METHOD path" as mounted), each with its isolation case. */
    private static final Map<String, Runnable> ROUTES = new LinkedHashMap<>();

    static {
        ROUTES.put("GET /health", () -> assertPublicWithoutUserData("/health"));
        ROUTES.put("GET /health/live", () -> assertPublicWithoutUserData("/health/live"));
        ROUTES.put("GET /health/ready", () -> assertPublicWithoutUserData("/health/ready"));
        ROUTES.put("GET /metrics", () -> assertPublicWithoutUserData("/metrics"));
        ROUTES.put("POST /api/dev/token", IsolationIT::devTokensAreOffWhenDisabled);
        ROUTES.put("POST /api/persistence/sync", IsolationIT::httpSyncLandsOnlyInB);
        ROUTES.put("GET /api/export", () -> assertBSeesNothingOfA("/api/export"));
        ROUTES.put("POST /api/import", IsolationIT::importOfAsExportLandsOnlyInB);
        ROUTES.put("DELETE /api/sections/:section", IsolationIT::clearingBsSectionsKeepsAs);
        ROUTES.put("GET /api/preferences", () -> assertBSeesNothingOfA("/api/preferences"));
        ROUTES.put("POST /api/preferences", () -> httpWriteLandsOnlyInB("/api/preferences", "{\"theme\":\"b-theme\",\"lang\":\"b-lang\"}"));
        ROUTES.put("GET /api/progress/onboarding", () -> assertBSeesNothingOfA("/api/progress/onboarding"));
        ROUTES.put("POST /api/progress/onboarding", () -> httpWriteLandsOnlyInB("/api/progress/onboarding", "{\"stepId\":\"b-step\",\"completed\":true}"));
        ROUTES.put("GET /api/progress/assessment", () -> assertBSeesNothingOfA("/api/progress/assessment"));
        ROUTES.put("GET /api/usage", IsolationIT::usageIsBsOwn);
        ROUTES.put("GET /api/history/:section/", IsolationIT::historyShowsNothingOfA);
        ROUTES.put("GET /api/history/", () -> assertEquals(400, server.get("/api/history/preferences", bToken).status(),
                "a history path without a key is refused, whoever asks"));
        ROUTES.put("POST /api/progress/assessment", () -> httpWriteLandsOnlyInB("/api/progress/assessment", "{\"answers\":{\"q1\":\"b\"},\"complete\":true,\"score\":0.1}"));
    }

    // ------------------------------------------------------------------ setup

    @BeforeAll
    static void startServerAndWriteA() {
        server = TestServer.embedded().start();
        aToken = server.token(A);
        bToken = server.token(B);
        try (RawSocket ws = RawSocket.connect(server.syncUri(), aToken)) {
            ws.hello(A_REPLICA, 0);
            ws.pushAcked(BATCHES.incrementAndGet(),
                    set("preferences", "theme", "\"" + SECRET + "-theme\"", stamp(A_REPLICA)),
                    set("cards", "card-intro/isExpanded", "\"" + SECRET + "-card\"", stamp(A_REPLICA)),
                    set("memory", "fact", "{\"text\":\"" + SECRET + "-memory\"}", stamp(A_REPLICA)),
                    append("chat", "conv-1", "{\"role\":\"user\",\"text\":\"" + SECRET + "-chat\"}", stamp(A_REPLICA)),
                    append("consent", "waiver-" + SECRET, "{\"signed\":\"" + SECRET + "\"}", stamp(A_REPLICA)));
        }
        assertOk(server.post("/api/preferences", aToken, "{\"lang\":\"" + SECRET + "-lang\",\"fontSize\":\"" + SECRET + "\"}"));
        assertOk(server.post("/api/progress/onboarding", aToken, "{\"stepId\":\"" + SECRET + "-step\",\"completed\":true}"));
        assertOk(server.post("/api/progress/onboarding", aToken, "{\"currentStep\":\"" + SECRET + "-current\"}"));
        // A's theme replaced, so the server keeps A's earlier theme in its history
        assertOk(server.post("/api/preferences", aToken, "{\"theme\":\"" + SECRET + "-theme-2\"}"));
        assertOk(server.post("/api/progress/assessment", aToken, "{\"answers\":{\"" + SECRET + "-q\":\"" + SECRET + "\"},\"complete\":true,\"score\":0.9}"));
        aHead = server.head(A);
        aState = server.canonical(A);
        assertTrue(aState.contains(SECRET), aState);
        aLive = RawSocket.connect(server.syncUri(), aToken);
        RawSocket.Handshake h = aLive.hello(A_REPLICA, aHead);
        assertEquals(aHead, h.cursor());
    }

    @AfterAll
    static void stop() {
        if (aLive != null) {
            aLive.close();
        }
        if (server != null) {
            server.close();
        }
    }

    /**
     * After each of B's actions: A's data is as it was, and A's live socket heard nothing. B's action
     * has completed (acked or answered) by now, so a change wrongly fanned out to A would already be
     * queued on A's socket: A's ping must be answered by a pong with nothing before it (one verticle,
     * one event loop, frames in order).
     */
    @AfterEach
    void aUnchanged() {
        assertFalse(aLive.isClosed(), "A's live socket was closed");
        aLive.send("{\"type\":\"ping\"}");
        JsonNode next = aLive.next(RawSocket.WAIT);
        assertEquals("pong", next.path("type").asText(), "A's live socket received something of B's: " + next);
        aLive.expectSilence(Duration.ofMillis(50));
        assertEquals(aHead, server.head(A), "B's action moved A's head");
        assertEquals(aState, server.canonical(A), "B's action changed A's state");
    }

    // ------------------------------------------------------------------ coverage of the tables

    @Test
    void everyFrameTypeHasACase() {
        Set<FrameType> covered = EnumSet.noneOf(FrameType.class);
        covered.addAll(CLIENT_FRAMES.keySet());
        covered.addAll(SERVER_ONLY_FRAMES.keySet());
        assertEquals(EnumSet.allOf(FrameType.class), covered, "a frame type has no isolation case: add it to CLIENT_FRAMES or SERVER_ONLY_FRAMES");
        assertTrue(java.util.Collections.disjoint(CLIENT_FRAMES.keySet(), SERVER_ONLY_FRAMES.keySet()));
        assertEquals(EnumSet.of(FrameType.HELLO, FrameType.PUSH, FrameType.PING, FrameType.PONG, FrameType.PRESENCE), CLIENT_FRAMES.keySet(),
                "PROTOCOL.md 3: clients send hello, push, ping, pong and presence");
    }

    @Test
    void everyRouteHasACase() {
        // Routes of shared spaces have their own matrix (owner, editor, viewer, removed, never a
        // member, member of another space): SpaceAccessIT, with the same every-route check.
        TreeSet<String> mounted = new TreeSet<>(mountedRoutes());
        mounted.removeIf(r -> r.contains(" /api/spaces"));
        assertEquals(mounted, new TreeSet<>(ROUTES.keySet()),
                "every route HttpApi mounts needs an isolation case in ROUTES (and ROUTES names no route that is gone)");
    }

    /** "METHOD path" of every route with a method that {@link HttpApi#mount} registers. */
    private static List<String> mountedRoutes() {
        Vertx vertx = server.vertx();
        Router router = Router.router(vertx);
        SectionRegistry sections = new SectionRegistry(Map.of());
        new HttpApi(vertx, null, null, sections, new HybridClock(WallClock.system(), "server", 60_000),
                new TokenAuth(vertx, TestServer.SECRET), true, new ServerMetrics(), 1024, 1000, 64L << 20, 0, 0, () -> true).mount(router);
        List<String> out = new ArrayList<>();
        for (Route route : router.getRoutes()) {
            Set<HttpMethod> methods = route.methods();
            if (methods == null || methods.isEmpty()) {
                continue; // body handler, authentication, failure handler: apply to every route
            }
            for (HttpMethod m : methods) {
                out.add(m.name() + " " + route.getPath());
            }
        }
        return out;
    }

    @TestFactory
    Stream<DynamicTest> clientFrames() {
        return CLIENT_FRAMES.entrySet().stream().map(e -> DynamicTest.dynamicTest(e.getKey().wire(), () -> {
            e.getValue().run();
            aUnchanged();
        }));
    }

    @TestFactory
    Stream<DynamicTest> serverOnlyFramesSentByAClient() {
        return SERVER_ONLY_FRAMES.entrySet().stream().map(e -> DynamicTest.dynamicTest(e.getKey().wire(), () -> {
            long bHead = server.head(B);
            try (RawSocket ws = RawSocket.connect(server.syncUri(), bToken)) {
                ws.hello("b-1", bHead);
                ws.send(e.getValue());
                JsonNode error = ws.expectError("malformed-frame");
                assertTrue(error.path("message").asText().contains(e.getKey().wire()), error.toString());
                ws.send("{\"type\":\"ping\"}");
                ws.expectType("pong", RawSocket.WAIT); // still open and served
            }
            assertEquals(bHead, server.head(B));
            aUnchanged();
        }));
    }

    @TestFactory
    Stream<DynamicTest> routes() {
        return ROUTES.entrySet().stream().map(e -> DynamicTest.dynamicTest(e.getKey(), () -> {
            e.getValue().run();
            aUnchanged();
        }));
    }

    // ------------------------------------------------------------------ frame cases

    private static void helloCatchUpShowsNothingOfA() {
        long bHead = server.head(B);
        // cursor 0, A's own head (meaningless for B) and a cursor far beyond anything; also A's replica id
        for (long cursor : new long[] {0, aHead, Long.MAX_VALUE / 2}) {
            for (String replica : new String[] {"b-1", A_REPLICA}) {
                try (RawSocket ws = RawSocket.connect(server.syncUri(), bToken)) {
                    RawSocket.Handshake h = ws.hello(replica, cursor);
                    assertEquals(B, h.welcome().path("user").asText(), h.welcome().toString());
                    assertEquals(bHead, h.welcome().path("head").asLong(), "B's welcome must carry B's head, not A's");
                    assertNoSecret(ws.received().toString());
                }
            }
        }
    }

    private static void pushLandsOnlyInB() {
        try (RawSocket ws = RawSocket.connect(server.syncUri(), bToken)) {
            ws.hello("b-1", server.head(B));
            long before = server.head(B);
            // B writes the same keys as A, stamped later, once with B's replica id and once with A's.
            ws.pushAcked(BATCHES.incrementAndGet(),
                    set("preferences", "theme", "\"b-theme\"", stamp("b-1")),
                    append("chat", "conv-1", "{\"text\":\"b\"}", stamp("b-1")));
            long later = System.currentTimeMillis() + 1000;
            ws.pushAcked(BATCHES.incrementAndGet(),
                    set("preferences", "lang", "\"b-lang\"", stampAt(later, A_REPLICA)),
                    set("cards", "card-intro/isExpanded", "false", stampAt(later, A_REPLICA)),
                    TestChanges.clear("chat", "conv-1", stampAt(later, A_REPLICA)),
                    TestChanges.delete("memory", "fact", stampAt(later, A_REPLICA)));
            assertTrue(server.head(B) > before, "B's pushes were not applied to B");
            String b = server.canonical(B);
            assertTrue(b.contains("b-theme") && b.contains("b-lang"), b);
        }
    }

    private static void pingIsAnsweredOnlyToB() {
        try (RawSocket ws = RawSocket.connect(server.syncUri(), bToken)) {
            ws.hello("b-1", server.head(B));
            ws.send("{\"type\":\"ping\"}");
            ws.expectType("pong", RawSocket.WAIT);
        }
    }

    private static void pongDoesNothing() {
        long bHead = server.head(B);
        try (RawSocket ws = RawSocket.connect(server.syncUri(), bToken)) {
            ws.hello("b-1", bHead);
            ws.send("{\"type\":\"pong\"}");
            ws.send("{\"type\":\"ping\"}");
            ws.expectType("pong", RawSocket.WAIT); // the answer to the ping: the pong itself got none
        }
        assertEquals(bHead, server.head(B));
    }

    /**
     * A presence in a session that syncs no spaces (this one speaks version 1) is refused; the
     * spaces' own matrix (owner, editor, viewer, removed, never a member, another space's owner)
     * is {@code SpaceIsolationMatrixIT}.
     */
    private static void presenceWithoutSpacesIsRefused() {
        long bHead = server.head(B);
        try (RawSocket ws = RawSocket.connect(server.syncUri(), bToken)) {
            ws.hello("b-1", bHead);
            ws.send("{\"type\":\"presence\",\"space\":\"sp-1\",\"state\":{\"at\":\"x\"}}");
            ws.expectError("malformed-frame");
            ws.send("{\"type\":\"ping\"}");
            ws.expectType("pong", RawSocket.WAIT);
        }
        assertEquals(bHead, server.head(B));
    }

    // ------------------------------------------------------------------ route cases

    private static void assertBSeesNothingOfA(String path) {
        TestServer.Response r = server.get(path, bToken);
        assertEquals(200, r.status(), r.toString());
        assertNoSecret(r.body());
    }

    private static void usageIsBsOwn() {
        TestServer.Response r = server.get("/api/usage", bToken);
        assertEquals(200, r.status(), r.toString());
        assertNoSecret(r.body());
        assertEquals((long) TestServer.await(server.store().usage(B)), r.json().path("usedBytes").asLong(), r.toString());
        assertTrue(TestServer.await(server.store().usage(A)) > 0);
    }

    private static void historyShowsNothingOfA() {
        assertTrue(server.get("/api/history/preferences/theme", aToken).body().contains(SECRET), "A has history of her own");
        for (String path : new String[] {"/api/history/preferences/theme", "/api/history/cards/card-intro/isExpanded",
                "/api/history/cards/card-intro%2FisExpanded", "/api/history/memory/fact"}) {
            assertBSeesNothingOfA(path);
        }
    }

    private static void assertPublicWithoutUserData(String path) {
        TestServer.Response r = server.get(path, null);
        assertEquals(200, r.status(), r.toString());
        assertNoSecret(r.body());
        assertFalse(r.body().contains(A), path + " names a user: " + r.body());
    }

    private static void httpWriteLandsOnlyInB(String path, String body) {
        long before = server.head(B);
        TestServer.Response r = server.post(path, bToken, body);
        assertEquals(200, r.status(), r.toString());
        assertNoSecret(r.body());
        assertTrue(server.head(B) > before || server.canonical(B).contains("b-"), "B's write did not land in B: " + r);
    }

    private static void httpSyncLandsOnlyInB() {
        String body = "{\"sections\":{\"preferences\":{\"kind\":\"map\",\"entries\":{\"theme\":{\"value\":\"b-synced\",\"stamp\":\""
                + stampAt(System.currentTimeMillis() + 2000, A_REPLICA) + "\"}}}}}";
        TestServer.Response r = server.post("/api/persistence/sync", bToken, body);
        assertEquals(200, r.status(), r.toString());
        assertNoSecret(r.body());
        assertTrue(server.canonical(B).contains("b-synced"), "B's sync did not land in B");
    }

    private static void importOfAsExportLandsOnlyInB() {
        // Another user imports a copy of A's export (say A handed the file over): that makes the
        // importer's copy and changes nothing of A's. (User C, not B: the copy would show up in B's
        // views, which the other cases check for A's data.)
        String c = A + ".c";
        String cToken = server.token(c);
        TestServer.Response export = server.get("/api/export", aToken);
        assertEquals(200, export.status(), export.toString());
        TestServer.Response r = server.post("/api/import", cToken, export.body());
        assertEquals(200, r.status(), r.toString());
        assertTrue(r.json().path("changesApplied").asInt() > 0, r.toString());
        assertTrue(server.canonical(c).contains(SECRET), "the import did not land in " + c);
        assertNoSecret(server.canonical(B));
        // ...and C clears it all again, which must not touch A either.
        for (String section : new SectionRegistry(Map.of()).all().keySet()) {
            // spaces and members are the server's record of memberships: no client clears them (PROTOCOL.md 8)
            assertEquals(SectionRegistry.serverWritten(section) ? 403 : 200, server.delete("/api/sections/" + section, cToken).status());
        }
        assertNoSecret(server.get("/api/preferences", cToken).body());
    }

    private static void clearingBsSectionsKeepsAs() {
        assertOk(server.post("/api/preferences", bToken, "{\"theme\":\"b-theme\"}"));
        for (String section : new TreeSet<>(new SectionRegistry(Map.of()).all().keySet())) {
            TestServer.Response r = server.delete("/api/sections/" + section, bToken);
            assertEquals(SectionRegistry.serverWritten(section) ? 403 : 200, r.status(), section + ": " + r);
        }
        assertEquals("{}", server.get("/api/preferences", bToken).json().toString());
    }

    private static void devTokensAreOffWhenDisabled() {
        // With dev tokens on (the test server) anyone may mint a token for any user: that is the
        // documented demo sign-in. Isolation then rests on CAIRN_DEV_TOKENS=false in production.
        TestServer.Response minted = server.post("/api/dev/token", null, "{\"user\":\"" + B + "\"}");
        assertEquals(200, minted.status(), minted.toString());
        assertNoSecret(minted.body());
        try (TestServer production = TestServer.embedded().devTokens(false).start()) {
            TestServer.Response r = production.post("/api/dev/token", null, "{\"user\":\"" + A + "\"}");
            assertEquals(404, r.status(), "with CAIRN_DEV_TOKENS=false nobody may mint tokens: " + r);
            assertFalse(r.body().contains("token\":"), r.body());
        }
    }

    // ------------------------------------------------------------------ helpers

    private static void assertNoSecret(String text) {
        assertFalse(text.contains(SECRET), "B got some of A's data: " + text);
    }

    private static void assertOk(TestServer.Response r) {
        assertEquals(200, r.status(), r.toString());
    }
}
