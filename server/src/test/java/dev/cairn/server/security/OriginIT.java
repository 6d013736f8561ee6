package dev.cairn.server.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.cairn.server.RawSocket;
import dev.cairn.server.TestServer;
import java.net.URI;
import java.net.http.HttpRequest;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The browser origin allow-list (README {@code CAIRN_ALLOWED_ORIGINS}, PROTOCOL.md 2 and 5): by
 * default only the server's own pages (Origin = the Host) and clients that send no Origin (the
 * JVM client) may open a socket or write; a page elsewhere gets 403 before the upgrade or the
 * write, whatever its token. Listed origins are allowed and get CORS answers.
 */
class OriginIT {

    private static TestServer sameOriginOnly;
    private static TestServer withList;
    private static TestServer anyOrigin;

    @BeforeAll
    static void start() {
        sameOriginOnly = TestServer.embedded().start();
        withList = TestServer.embedded().env("CAIRN_ALLOWED_ORIGINS", "https://app.example, http://localhost:5173").start();
        anyOrigin = TestServer.embedded().env("CAIRN_ALLOWED_ORIGINS", "*").start();
    }

    @AfterAll
    static void stop() {
        for (TestServer s : new TestServer[] {sameOriginOnly, withList, anyOrigin}) {
            if (s != null) {
                s.close();
            }
        }
    }

    private static String self(TestServer s) {
        return "http://127.0.0.1:" + s.port();
    }

    private static int upgrade(TestServer s, String origin, String token) {
        Map<String, String> headers = origin == null ? Map.of("Authorization", "Bearer " + token)
                : Map.of("Authorization", "Bearer " + token, "Origin", origin);
        try {
            RawSocket.open(s.syncUri(), headers).close();
            return 101;
        } catch (AssertionError accepted) {
            return RawSocket.refusal(s.syncUri(), headers);
        }
    }

    private static TestServer.Response send(TestServer s, String method, String path, String origin, String token, String body) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(s.httpBase() + path))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (origin != null) {
            b.header("Origin", origin);
        }
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        return TestServer.send(b.build());
    }

    @Test
    void socketsFromTheServersOwnPagesOrWithoutOriginAreAllowed() {
        String token = sameOriginOnly.token("o-alice");
        assertEquals(101, upgrade(sameOriginOnly, null, token), "no Origin (the JVM client)");
        assertEquals(101, upgrade(sameOriginOnly, self(sameOriginOnly), token), "the server's own page");
        assertEquals(101, upgrade(sameOriginOnly, "HTTP://127.0.0.1:" + sameOriginOnly.port(), token), "scheme and host are case-insensitive");
    }

    @Test
    void socketsFromForeignOriginsGet403BeforeTheUpgrade() {
        String token = sameOriginOnly.token("o-alice");
        for (String origin : new String[] {"http://evil.example", "https://evil.example", "http://127.0.0.1:" + (sameOriginOnly.port() + 1),
                "http://localhost:" + sameOriginOnly.port(), "null",
                "http://127.0.0.1:" + sameOriginOnly.port() + ".evil.example", "file://", "garbage"}) {
            assertEquals(403, upgrade(sameOriginOnly, origin, token), origin);
        }
        // the origin is checked before the token: a foreign page learns nothing about tokens
        assertEquals(403, upgrade(sameOriginOnly, "http://evil.example", "not-a-token"));
    }

    @Test
    void writesFromForeignOriginsGet403AndChangeNothing() {
        String token = sameOriginOnly.token("o-bob");
        assertEquals(200, send(sameOriginOnly, "POST", "/api/preferences", self(sameOriginOnly), token, "{\"theme\":\"mine\"}").status());
        long head = sameOriginOnly.head("o-bob");
        String evil = "http://evil.example";
        for (String[] req : new String[][] {
                {"POST", "/api/preferences", "{\"theme\":\"pwned\"}"},
                {"POST", "/api/progress/onboarding", "{\"stepId\":\"pwned\"}"},
                {"POST", "/api/import", "{}"},
                {"POST", "/api/persistence/sync", "{\"sections\":{}}"},
                {"DELETE", "/api/sections/preferences", null},
                {"POST", "/api/dev/token", "{\"user\":\"o-bob\"}"}}) {
            TestServer.Response r = send(sameOriginOnly, req[0], req[1], evil, token, req[2]);
            assertEquals(403, r.status(), req[0] + " " + req[1] + ": " + r);
            assertEquals("forbidden-origin", r.json().path("error").asText(), r.toString());
        }
        assertEquals(head, sameOriginOnly.head("o-bob"), "a refused write changed something");
        // a foreign read is answered (the token decides), but without CORS headers the page cannot read it
        TestServer.Response read = send(sameOriginOnly, "GET", "/api/preferences", evil, token, null);
        assertEquals(200, read.status(), read.toString());
        assertNull(read.header("Access-Control-Allow-Origin"), read.headers().toString());
    }

    @Test
    void listedOriginsAreAllowedAndGetCors() {
        String token = withList.token("o-carol");
        assertEquals(101, upgrade(withList, "https://app.example", token));
        assertEquals(101, upgrade(withList, "http://localhost:5173", token));
        assertEquals(101, upgrade(withList, self(withList), token), "the server's own pages stay allowed");
        assertEquals(101, upgrade(withList, null, token));
        for (String origin : new String[] {"https://evil.example", "http://app.example", "https://app.example.evil", "https://app.example:8443",
                "http://localhost:5174"}) {
            assertEquals(403, upgrade(withList, origin, token), origin);
        }
        TestServer.Response write = send(withList, "POST", "/api/preferences", "https://app.example", token, "{\"theme\":\"listed\"}");
        assertEquals(200, write.status(), write.toString());
        assertEquals("https://app.example", write.header("Access-Control-Allow-Origin"));
        assertEquals("origin", write.header("Vary").toLowerCase(java.util.Locale.ROOT));
        assertEquals(Set.of("x-cairn-export-entries", "retry-after", "x-request-id"), list(write.header("Access-Control-Expose-Headers")),
                "the export's entry count, a refusal's Retry-After and the request id are readable cross-origin");
        TestServer.Response export = send(withList, "GET", "/api/export", "https://app.example", token, null);
        assertEquals(200, export.status(), export.toString());
        assertEquals("https://app.example", export.header("Access-Control-Allow-Origin"));
        assertEquals(Set.of("x-cairn-export-entries", "retry-after", "x-request-id"), list(export.header("Access-Control-Expose-Headers")));

        TestServer.Response preflight = TestServer.send(HttpRequest.newBuilder(URI.create(withList.httpBase() + "/api/preferences"))
                .method("OPTIONS", HttpRequest.BodyPublishers.noBody()).header("Origin", "https://app.example")
                .header("Access-Control-Request-Method", "POST").header("Access-Control-Request-Headers", "authorization, content-type").build());
        assertEquals(204, preflight.status(), preflight.toString());
        assertEquals("https://app.example", preflight.header("Access-Control-Allow-Origin"));
        assertEquals(Set.of("authorization", "content-type", "x-request-id"), list(preflight.header("Access-Control-Allow-Headers")));
        assertEquals(Set.of("get", "post", "delete"), list(preflight.header("Access-Control-Allow-Methods")));
        assertEquals("600", preflight.header("Access-Control-Max-Age"));
        assertEquals("Origin", preflight.header("Vary"), "the preflight's answer depends on the Origin too");
        // a refused token still carries CORS headers, so the listed page can read why
        TestServer.Response refused = send(withList, "GET", "/api/preferences", "https://app.example", "not-a-token", null);
        assertEquals(401, refused.status(), refused.toString());
        assertEquals("https://app.example", refused.header("Access-Control-Allow-Origin"));

        TestServer.Response evilPreflight = TestServer.send(HttpRequest.newBuilder(URI.create(withList.httpBase() + "/api/preferences"))
                .method("OPTIONS", HttpRequest.BodyPublishers.noBody()).header("Origin", "https://evil.example")
                .header("Access-Control-Request-Method", "POST").build());
        assertNull(evilPreflight.header("Access-Control-Allow-Origin"), evilPreflight.toString());
        TestServer.Response evilWrite = send(withList, "POST", "/api/preferences", "https://evil.example", token, "{\"theme\":\"pwned\"}");
        assertEquals(403, evilWrite.status(), evilWrite.toString());
    }

    @Test
    void anyOriginGetsAWildcardAndAGarbledOneA403() {
        String token = anyOrigin.token("o-dave");
        assertEquals(101, upgrade(anyOrigin, "https://anywhere.example", token));
        TestServer.Response write = send(anyOrigin, "POST", "/api/preferences", "https://anywhere.example", token, "{\"theme\":\"any\"}");
        assertEquals(200, write.status(), write.toString());
        assertEquals("*", write.header("Access-Control-Allow-Origin"), "no credentials are involved (the token is a header), so '*' is enough");
        assertEquals(Set.of("x-cairn-export-entries", "retry-after", "x-request-id"), list(write.header("Access-Control-Expose-Headers")));
        // vertx-web's CorsHandler refuses an Origin that is no origin at all: still PROTOCOL.md's shape
        TestServer.Response garbled = send(anyOrigin, "POST", "/api/preferences", "garbage", token, "{\"theme\":\"x\"}");
        assertEquals(403, garbled.status(), garbled.toString());
        assertEquals("forbidden-origin", garbled.json().path("error").asText(), garbled.toString());
        assertEquals("any", anyOrigin.get("/api/preferences", token).json().path("theme").asText(), "the refused write changed nothing");
    }

    /** A comma-separated header value as a set of lower-case items (CORS lists may be written with or without spaces). */
    private static Set<String> list(String header) {
        assertNotNull(header);
        Set<String> out = new java.util.HashSet<>();
        for (String item : header.split(",")) {
            out.add(item.trim().toLowerCase(java.util.Locale.ROOT));
        }
        return out;
    }

    @Test
    void aBadListIsAClearConfigurationError() {
        for (String bad : new String[] {"app.example", "https://app.example/", "https://app.example/path", "ftp://x", "https://a:b:c",
                "https://app.example:", "https://[::1"}) {
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> dev.cairn.server.ServerConfig.fromEnv(Map.of("CAIRN_ALLOWED_ORIGINS", bad)), bad);
            org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("CAIRN_ALLOWED_ORIGINS"), e.getMessage());
        }
    }
}
