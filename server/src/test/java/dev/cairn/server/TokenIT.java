package dev.cairn.server;

import static dev.cairn.server.TestTokens.hs256;
import static dev.cairn.server.TestTokens.now;
import static dev.cairn.server.TestTokens.signed;
import static dev.cairn.server.TestTokens.unsigned;
import static dev.cairn.server.TestTokens.withPayload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Bearer tokens (PROTOCOL.md 2 and 5): a missing, malformed, expired, not-yet-valid, badly signed,
 * unsigned or tampered token, or one without a usable {@code sub}, gets HTTP 401 on the socket
 * upgrade (before it completes: the handshake fails) and on the HTTP API, and writes nothing.
 */
class TokenIT {

    private static final String OTHER_SECRET = "another-secret-entirely-0123456789-abcdefghijkl";
    private static TestServer server;

    @BeforeAll
    static void startServer() {
        server = TestServer.embedded().start();
    }

    @AfterAll
    static void stopServer() {
        if (server != null) {
            server.close();
        }
    }

    /** Tokens that must be refused; built when the test runs (times are relative to now). */
    static Stream<Arguments> badTokens() {
        String secret = TestServer.SECRET;
        long now = now();
        String hs256Header = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
        String alice = "{\"sub\":\"alice\",\"iat\":" + now + ",\"exp\":" + (now + 3600) + "}";
        return Stream.of(
                bad("missing", () -> null),
                bad("empty", () -> ""),
                bad("garbage", () -> "garbage"),
                bad("three garbage parts", () -> "abc.def.ghi"),
                bad("header only", () -> TestTokens.b64(hs256Header)),
                bad("expired", () -> hs256("{\"sub\":\"alice\",\"iat\":" + (now - 7200) + ",\"exp\":" + (now - 600) + "}", secret)),
                bad("not yet valid (nbf in the future)", () -> hs256("{\"sub\":\"alice\",\"nbf\":" + (now + 600) + ",\"exp\":" + (now + 3600) + "}", secret)),
                bad("signed with another key", () -> hs256(alice, OTHER_SECRET)),
                bad("alg none, no signature", () -> unsigned("{\"alg\":\"none\",\"typ\":\"JWT\"}", alice)),
                bad("alg None (case), no signature", () -> unsigned("{\"alg\":\"None\",\"typ\":\"JWT\"}", alice)),
                bad("alg none with an HS256 signature", () -> signed("{\"alg\":\"none\",\"typ\":\"JWT\"}", alice, "HmacSHA256", secret)),
                bad("HS512 with the same secret", () -> signed("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", alice, "HmacSHA512", secret)),
                bad("HS384 with the same secret", () -> signed("{\"alg\":\"HS384\",\"typ\":\"JWT\"}", alice, "HmacSHA384", secret)),
                bad("RS256 header, HMAC signature with the secret", () -> signed("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", alice, "HmacSHA256", secret)),
                bad("no alg", () -> signed("{\"typ\":\"JWT\"}", alice, "HmacSHA256", secret)),
                bad("tampered payload (sub changed after signing)",
                        () -> withPayload(hs256(alice, secret), "{\"sub\":\"mallory\",\"iat\":" + now + ",\"exp\":" + (now + 3600) + "}")),
                bad("tampered payload (exp extended after signing)",
                        () -> withPayload(hs256("{\"sub\":\"alice\",\"exp\":" + (now - 600) + "}", secret), alice)),
                bad("signature stripped", () -> {
                    String t = hs256(alice, secret);
                    return t.substring(0, t.lastIndexOf('.') + 1);
                }),
                bad("no exp (would never expire)", () -> hs256("{\"sub\":\"alice\",\"iat\":" + now + "}", secret)),
                bad("no sub", () -> hs256("{\"iat\":" + now + ",\"exp\":" + (now + 3600) + "}", secret)),
                bad("empty sub", () -> hs256("{\"sub\":\"\",\"exp\":" + (now + 3600) + "}", secret)),
                bad("sub not a string", () -> hs256("{\"sub\":42,\"exp\":" + (now + 3600) + "}", secret)),
                bad("sub with a path", () -> hs256("{\"sub\":\"../alice\",\"exp\":" + (now + 3600) + "}", secret)),
                bad("sub with a NUL", () -> hs256("{\"sub\":\"alice\\u0000x\",\"exp\":" + (now + 3600) + "}", secret)),
                bad("sub too long", () -> hs256("{\"sub\":\"" + "a".repeat(129) + "\",\"exp\":" + (now + 3600) + "}", secret)),
                bad("payload not JSON", () -> signed(hs256Header, "not json", "HmacSHA256", secret)),
                // Correctly signed, a registered claim of the wrong type (RFC 7519 4.1: NumericDate, StringOrURI):
                // refused as any bad token, never a 500 or an unanswered upgrade.
                bad("exp a string", () -> hs256("{\"sub\":\"alice\",\"exp\":\"" + (now + 3600) + "\"}", secret)),
                bad("exp null", () -> hs256("{\"sub\":\"alice\",\"exp\":null}", secret)),
                bad("exp an object", () -> hs256("{\"sub\":\"alice\",\"exp\":{\"at\":1}}", secret)),
                bad("nbf a string", () -> hs256("{\"sub\":\"alice\",\"nbf\":\"soon\",\"exp\":" + (now + 3600) + "}", secret)),
                bad("nbf null", () -> hs256("{\"sub\":\"alice\",\"nbf\":null,\"exp\":" + (now + 3600) + "}", secret)),
                bad("iat a string", () -> hs256("{\"sub\":\"alice\",\"iat\":\"x\",\"exp\":" + (now + 3600) + "}", secret)),
                bad("iat an array", () -> hs256("{\"sub\":\"alice\",\"iat\":[1],\"exp\":" + (now + 3600) + "}", secret)),
                bad("sub 5 with a string exp", () -> hs256("{\"sub\":5,\"exp\":\"" + (now + 3600) + "\"}", secret)),
                bad("payload an array", () -> signed(hs256Header, "[1,2]", "HmacSHA256", secret)));
    }

    private static Arguments bad(String name, Supplier<String> token) {
        return Arguments.of(name, token);
    }

    @ParameterizedTest(name = "socket, header: {0}")
    @MethodSource("badTokens")
    void socketUpgradeRefusedWithHeader(String name, Supplier<String> token) {
        String t = token.get();
        Map<String, String> headers = t == null ? Map.of() : Map.of("Authorization", "Bearer " + t);
        assertEquals(401, RawSocket.refusal(server.syncUri(), headers), name);
    }

    @ParameterizedTest(name = "socket, access_token: {0}")
    @MethodSource("badTokens")
    void socketUpgradeRefusedWithQuery(String name, Supplier<String> token) {
        String t = token.get();
        int status = t == null ? RawSocket.refusal(server.syncUri(), Map.of()) : RawSocket.refusalQuery(server.syncUri(), t);
        assertEquals(401, status, name);
    }

    /** The bad tokens a subprotocol can carry (RFC 7230 token characters, not empty): the others cannot be offered at all. */
    static Stream<Arguments> badTokensAsSubprotocol() {
        return badTokens().filter(args -> {
            @SuppressWarnings("unchecked")
            String t = ((Supplier<String>) args.get()[1]).get();
            return t != null && t.matches("[A-Za-z0-9!#$%&'*+.^_`|~-]+");
        });
    }

    @ParameterizedTest(name = "socket, subprotocol: {0}")
    @MethodSource("badTokensAsSubprotocol")
    void socketUpgradeRefusedWithSubprotocol(String name, Supplier<String> token) {
        assertEquals(401, RawSocket.refusalProtocols(server.syncUri(), "cairn", "cairn.bearer." + token.get()), name);
    }

    @Test
    void aTokenInASubprotocolComesWithCairn() {
        // Without 'cairn' offered the server could pick no subprotocol, and a browser drops such a socket: said at once.
        assertEquals(400, RawSocket.refusalProtocols(server.syncUri(), "cairn.bearer." + server.token("alice")));
        assertEquals(401, RawSocket.refusalProtocols(server.syncUri(), "cairn"), "cairn alone carries no token");
    }

    @ParameterizedTest(name = "HTTP: {0}")
    @MethodSource("badTokens")
    void httpRefused(String name, Supplier<String> token) {
        String t = token.get();
        long aliceHead = server.head("alice");
        TestServer.Response get = t == null ? server.get("/api/preferences", null)
                : TestServer.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(server.httpBase() + "/api/preferences"))
                        .header("Authorization", "Bearer " + t).GET().build());
        assertUnauthorized(name, get);
        TestServer.Response post = TestServer.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(server.httpBase() + "/api/preferences"))
                .header("Authorization", t == null ? "Bearer" : "Bearer " + t).header("Content-Type", "application/json")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"theme\":\"pwned\"}")).build());
        assertUnauthorized(name + " (POST)", post);
        assertEquals(aliceHead, server.head("alice"), name + ": a refused request wrote something for alice");
        assertEquals(0, server.head("mallory"), name + ": a refused request wrote something for mallory");
    }

    private static void assertUnauthorized(String name, TestServer.Response r) {
        assertEquals(401, r.status(), name + ": " + r);
        JsonNode body = r.json();
        assertEquals("unauthorized", body.path("error").asText(), name + ": " + r);
        assertTrue(body.path("message").isTextual(), name + ": " + r);
        assertEquals("Bearer", r.header("WWW-Authenticate"), name + ": " + r);
    }

    /** Routes that need no token; every other mounted route must refuse every bad token. */
    private static final Set<String> PUBLIC_ROUTES = Set.of("GET /health", "GET /health/live", "GET /health/ready", "GET /metrics", "POST /api/dev/token");

    /**
     * The only path parameters a route may have. None names whose data it is (the token alone
     * decides); a space's routes name the space and a member ({@code :user}), and whom each caller
     * may act on there is SpaceAccessIT's matrix.
     */
    private static final Map<String, String> PATH_VALUES = Map.of("section", "preferences", "id", "sp-x", "user", "bob");

    @Test
    void noRouteNamesAUser() {
        for (HttpRoutes.Mounted r : HttpRoutes.mounted(server.vertx())) {
            // concrete() fails on a parameter not in PATH_VALUES. A route with a user parameter
            // (/api/users/:user/...) would need cases with another user's token: add them here.
            r.concrete(PATH_VALUES);
        }
    }

    /**
     * Every bad token on every mounted route that is not public (so a new route is covered the
     * day it is added): 401, the API's error shape, and nothing written.
     */
    @TestFactory
    Stream<DynamicTest> everyRouteRefusesEveryBadToken() {
        List<HttpRoutes.Mounted> routes = HttpRoutes.mounted(server.vertx()).stream()
                .filter(r -> !PUBLIC_ROUTES.contains(r.key())).toList();
        assertTrue(routes.size() >= 10, "expected the API's routes, got " + routes);
        return routes.stream().map(route -> DynamicTest.dynamicTest(route.key(), () -> {
            long aliceHead = server.head("alice");
            badTokens().forEach(args -> {
                String name = (String) args.get()[0];
                @SuppressWarnings("unchecked")
                String t = ((Supplier<String>) args.get()[1]).get();
                java.net.http.HttpRequest.Builder b = java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create(server.httpBase() + route.concrete(PATH_VALUES)));
                if (t != null) {
                    b.header("Authorization", "Bearer " + t);
                }
                String body = route.method().equals("GET") || route.method().equals("DELETE") ? null : "{\"theme\":\"pwned\"}";
                if (body != null) {
                    b.header("Content-Type", "application/json");
                }
                b.method(route.method(), body == null ? java.net.http.HttpRequest.BodyPublishers.noBody()
                        : java.net.http.HttpRequest.BodyPublishers.ofString(body));
                assertUnauthorized(route.key() + ", " + name, TestServer.send(b.build()));
            });
            assertEquals(aliceHead, server.head("alice"), route.key() + ": a refused request wrote something for alice");
            assertEquals(0, server.head("mallory"), route.key() + ": a refused request wrote something for mallory");
        }));
    }

    @Test
    void theMessageNamesWhichTimeClaimFails() {
        long now = now();
        String secret = TestServer.SECRET;
        Map<String, String> cases = Map.of(
                "expired", hs256("{\"sub\":\"alice\",\"exp\":" + (now - 600) + "}", secret),
                "not yet valid", hs256("{\"sub\":\"alice\",\"nbf\":" + (now + 600) + ",\"exp\":" + (now + 3600) + "}", secret),
                "issued in the future", hs256("{\"sub\":\"alice\",\"iat\":" + (now + 600) + ",\"exp\":" + (now + 3600) + "}", secret));
        cases.forEach((reason, token) -> {
            TestServer.Response r = server.get("/api/preferences", token);
            assertUnauthorized(reason, r);
            assertEquals("invalid token: " + reason, r.json().path("message").asText(), reason);
        });
    }

    @Test
    void publicRoutesAreStillMounted() {
        Set<String> keys = new java.util.HashSet<>();
        HttpRoutes.mounted(server.vertx()).forEach(r -> keys.add(r.key()));
        assertTrue(keys.containsAll(PUBLIC_ROUTES), "PUBLIC_ROUTES names a route that is gone: " + PUBLIC_ROUTES + " vs " + keys);
    }

    @Test
    void otherSchemesAreRefused() {
        String valid = server.token("alice");
        for (String header : new String[] {"Basic " + valid, "Token " + valid, valid, "Bearer  "}) {
            assertEquals(401, RawSocket.refusal(server.syncUri(), Map.of("Authorization", header)), header);
            TestServer.Response r = TestServer.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(server.httpBase() + "/api/preferences"))
                    .header("Authorization", header).GET().build());
            assertUnauthorized(header, r);
        }
        // The token belongs in the Authorization header for HTTP; the query parameter is for browser sockets only.
        assertEquals(401, server.get("/api/preferences?access_token=" + valid, null).status());
    }

    @Test
    void validTokensWork() {
        for (String token : new String[] {server.token("alice"), TestTokens.valid("alice", TestServer.SECRET)}) {
            try (RawSocket ws = RawSocket.connect(server.syncUri(), token)) {
                assertEquals("alice", ws.hello("phone-1", 0).welcome().path("user").asText());
            }
            try (RawSocket ws = RawSocket.connectQuery(server.syncUri(), token)) {
                assertEquals("alice", ws.hello("browser-1", 0).welcome().path("user").asText());
            }
            try (RawSocket ws = RawSocket.connectProtocol(server.syncUri(), token)) {
                assertEquals("cairn", ws.subprotocol(), "the server picks cairn, never echoes the token");
                assertEquals("alice", ws.hello("browser-2", 0).welcome().path("user").asText());
            }
            TestServer.Response r = server.get("/api/preferences", token);
            assertEquals(200, r.status(), r.toString());
            assertTrue(r.json().isObject(), r.toString());
        }
        // exp within the server's leeway (5 s) still counts as valid
        long now = now();
        assertEquals(200, server.get("/api/preferences", hs256("{\"sub\":\"alice\",\"exp\":" + (now - 1) + "}", TestServer.SECRET)).status());
    }

    @Test
    void devTokenEndpointMintsOnlyWellFormedUsers() {
        TestServer.Response ok = server.post("/api/dev/token", null, "{\"user\":\"bob\"}");
        assertEquals(200, ok.status(), ok.toString());
        String token = ok.json().path("token").asText();
        try (RawSocket ws = RawSocket.connect(server.syncUri(), token)) {
            assertEquals("bob", ws.hello("b-1", 0).welcome().path("user").asText());
        }
        for (String body : new String[] {"{\"user\":\"../bob\"}", "{\"user\":\"\"}", "{}", "{\"user\":42}", "not json"}) {
            TestServer.Response r = server.post("/api/dev/token", null, body);
            assertEquals(400, r.status(), body + " -> " + r);
            assertTrue(r.json().path("error").isTextual(), r.toString());
        }
    }
}
