package dev.cairn.server.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.server.TestServer;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Security headers (README "Security"): the demo page gets a Content-Security-Policy that allows
 * only its own scripts, styles, service worker and socket, and no framing; every answer gets
 * nosniff, no-referrer, DENY framing and a Permissions-Policy; API answers (user data) are never
 * cached and load nothing. HSTS only over TLS (see TlsIT). That the page runs under this policy
 * is shown by the browser tests (DemoPageIT: no console errors).
 */
class SecurityHeadersIT {

    private static TestServer server;

    @BeforeAll
    static void start() {
        server = TestServer.embedded().start();
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
    }

    private static void assertCommon(String what, TestServer.Response r) {
        assertEquals("nosniff", r.header("X-Content-Type-Options"), what);
        assertEquals("no-referrer", r.header("Referrer-Policy"), what);
        assertEquals("DENY", r.header("X-Frame-Options"), what);
        assertNotNull(r.header("Permissions-Policy"), what);
        assertTrue(r.header("Permissions-Policy").contains("camera=()"), what);
        String csp = r.header("Content-Security-Policy");
        assertNotNull(csp, what + ": no CSP");
        assertTrue(csp.contains("frame-ancestors 'none'"), what + ": " + csp);
        assertNull(r.header("Strict-Transport-Security"), what + ": HSTS over plain http would be ignored at best");
    }

    @Test
    void demoPageAndItsFiles() {
        for (String path : List.of("/", "/index.html", "/app.js", "/styles.css", "/sw.js", "/cairn/sync.js")) {
            TestServer.Response r = server.get(path, null);
            assertEquals(200, r.status(), path);
            assertCommon(path, r);
            String csp = r.header("Content-Security-Policy");
            for (String directive : List.of("default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'",
                    "base-uri 'none'", "img-src 'self' data:", "worker-src 'self'")) {
                assertTrue(csp.contains(directive), path + ": missing " + directive + " in " + csp);
            }
            assertTrue(csp.contains("connect-src 'self' ws://127.0.0.1:" + server.port() + " wss://127.0.0.1:" + server.port()),
                    path + ": the socket must be allowed explicitly (not every browser counts ws: as 'self'): " + csp);
            assertTrue(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), path + ": " + csp);
        }
    }

    @Test
    void thePageHasNoInlineScriptOrStyle() {
        String html = server.get("/", null).body();
        assertTrue(!html.matches("(?s).*<script(?![^>]*\\bsrc=)[^>]*>.*"), "an inline <script> would be refused by the CSP");
        assertTrue(!html.contains("<style") && !html.matches("(?s).*\\sstyle=.*") && !html.matches("(?s).*\\son[a-z]+=.*"),
                "inline styles and event handler attributes would be refused by the CSP");
    }

    @Test
    void apiAnswersAreNotCachedAndLoadNothing() {
        String token = server.token("h-alice");
        List<TestServer.Response> answers = List.of(
                server.get("/api/preferences", token),
                server.post("/api/preferences", token, "{\"theme\":\"dark\"}"),
                server.get("/api/export", token),
                server.get("/api/preferences", null), // 401
                server.post("/api/preferences", token, "not json"), // 400
                server.get("/health", null),
                server.get("/metrics", null),
                server.post("/api/dev/token", null, "{\"user\":\"h-alice\"}"),
                server.get("/sync", null)); // 401 before any upgrade
        for (TestServer.Response r : answers) {
            String what = r.status() + " " + r.body().substring(0, Math.min(60, r.body().length()));
            assertCommon(what, r);
            assertEquals("no-store", r.header("Cache-Control"), what);
            assertEquals("default-src 'none'; frame-ancestors 'none'", r.header("Content-Security-Policy"), what);
        }
    }
}
