package dev.cairn.server;

import static dev.cairn.server.TestChanges.goodSet;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.cairn.server.store.TestDatabase;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.Test;

/**
 * The harness itself: {@link TestServer} on both stores keeps its data and port across
 * {@link TestServer#stop()} / {@link TestServer#restart()}, closes live sockets when stopped, and
 * {@link RawSocket} sees what the server sends. The PostgreSQL case fails (never skips) with
 * {@link TestDatabase#NOT_REACHABLE} when PostgreSQL is down.
 */
class TestServerIT {

    @Test
    void embeddedServerRestartsOnTheSamePortWithItsData() {
        try (TestServer server = TestServer.embedded().start()) {
            exerciseRestart(server, "journal");
        }
    }

    @Test
    void postgresServerRestartsOnTheSamePortWithItsData() {
        Vertx admin = Vertx.vertx();
        try (TestDatabase db = TestDatabase.create(admin); TestServer server = TestServer.postgres(db.url()).start()) {
            exerciseRestart(server, "postgres");
        } finally {
            TestServer.await(admin.close());
        }
    }

    private static void exerciseRestart(TestServer server, String storeKind) {
        assertEquals(storeKind, server.store().kind());
        TestServer.Response health = server.get("/health", null);
        assertEquals(200, health.status(), health.toString());
        assertEquals("{\"status\":\"up\",\"checks\":{\"store\":\"up\",\"fanout\":\"up\",\"eventLoop\":\"up\"}}", health.body(), "/health names no store (PROTOCOL.md 5)");

        int port = server.port();
        String token = server.token("carol");
        RawSocket live = RawSocket.connect(server.syncUri(), token);
        live.hello("c-1", 0);
        live.pushAcked(1, goodSet("k1", "c-1"), goodSet("k2", "c-1"));
        assertEquals(2, server.head("carol"));
        String state = server.canonical("carol");

        server.stop();
        assertNotNull(live.closeStatus(RawSocket.WAIT), "stopping the server must close its sockets");
        assertThrows(IllegalStateException.class, server::store);

        server.restart();
        assertEquals(port, server.port(), "restart() must reuse the port");
        assertEquals(2, server.head("carol"));
        assertEquals(state, server.canonical("carol"));
        // The secret is the same, so a token minted before the restart still works.
        try (RawSocket again = RawSocket.connect(server.syncUri(), token)) {
            RawSocket.Handshake h = again.hello("c-1", 0);
            assertEquals(2, h.changes().size(), "catch-up after a restart: " + h.pages());
            assertEquals(2, h.cursor());
        }
        assertEquals(200, server.get("/api/preferences", TestTokens.valid("carol", server.secret())).status());
        live.close();
    }
}
