package dev.cairn.server.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.Cairn;
import dev.cairn.engine.protocol.CloseCodes;
import dev.cairn.engine.sync.SyncClient;
import dev.cairn.server.RawSocket;
import dev.cairn.server.TestServer;
import dev.cairn.server.TestTokens;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A socket lives no longer than its token (PROTOCOL.md 2): at the token's {@code exp} the server
 * closes it with {@link CloseCodes#TOKEN_EXPIRED} (4401), and the JVM client connects again with a
 * fresh token from its supplier and goes on syncing. Tokens here expire about 2 s after they are made.
 */
class TokenExpiryIT {

    private static final int LIFETIME_SECONDS = 2;
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

    private static String shortLived(String user) {
        long now = TestTokens.now();
        return TestTokens.hs256("{\"sub\":\"" + user + "\",\"iat\":" + now + ",\"exp\":" + (now + LIFETIME_SECONDS) + "}", TestServer.SECRET);
    }

    @Test
    void socketIsClosedWith4401WhenItsTokenExpires() {
        long opened = System.nanoTime();
        try (RawSocket ws = RawSocket.connect(server.syncUri(), shortLived("exp-raw"));
             RawSocket longLived = RawSocket.connect(server.syncUri(), server.token("exp-raw"))) {
            ws.hello("raw-1", 0);
            longLived.hello("raw-2", 0);
            Integer status = ws.closeStatus(Duration.ofSeconds(LIFETIME_SECONDS + 10));
            long afterMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - opened);
            assertEquals(CloseCodes.TOKEN_EXPIRED, status, "the socket should be closed with 4401 once its token expired; after " + afterMs + " ms");
            // exp has one-second resolution: the close comes no earlier than about a second in
            assertTrue(afterMs >= 900, "closed too early (" + afterMs + " ms) for a token valid " + LIFETIME_SECONDS + " s");
            // the same user's socket with a valid token is untouched
            longLived.send("{\"type\":\"ping\"}");
            assertEquals("pong", longLived.next(RawSocket.WAIT).path("type").asText());
            // and the expired token opens nothing any more
            assertEquals(401, RawSocket.refusal(server.syncUri(), expiredNow("exp-raw")));
        }
    }

    private static String expiredNow(String user) {
        long now = TestTokens.now();
        return TestTokens.hs256("{\"sub\":\"" + user + "\",\"exp\":" + (now - 60) + "}", TestServer.SECRET);
    }

    /**
     * A device writes all along while its tokens keep expiring (CI: one expiry; long, CAIRN_LONG=1:
     * 100 expiries, about 4 minutes): after each 4401 it connects again with a fresh token, and
     * in the end the other device and the server have every value: none lost.
     */
    @Test
    void clientReconnectsWithAFreshTokenAndKeepsSyncing() throws Exception {
        int expiries = LongRun.pick(1, 100);
        String user = "exp-user";
        AtomicInteger tokensAsked = new AtomicInteger();
        try (Cairn phone = Cairn.builder().inMemory().replicaId("exp-phone").open();
             Cairn laptop = Cairn.builder().inMemory().replicaId("exp-laptop").open()) {
            SyncClient phoneSync = SyncClient.builder(phone, server.syncUri(), () -> {
                tokensAsked.incrementAndGet();
                return shortLived(user);
            }).backoff(Duration.ofMillis(20), Duration.ofMillis(400)).build();
            SyncClient laptopSync = SyncClient.builder(laptop, server.syncUri(), () -> server.token(user))
                    .backoff(Duration.ofMillis(20), Duration.ofMillis(400)).build();
            // every time an error appears (the client clears it once welcomed again), so each expiry counts once
            java.util.List<String> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
            java.util.concurrent.atomic.AtomicReference<String> previous = new java.util.concurrent.atomic.AtomicReference<>();
            phoneSync.onStatus(st -> {
                String error = st.lastError();
                if (error != null && !error.equals(previous.get())) {
                    errors.add(error);
                }
                previous.set(error);
            });
            try (phoneSync; laptopSync) {
                phoneSync.start();
                laptopSync.start();
                int written = 0;
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos((long) expiries * (LIFETIME_SECONDS + 10) + 10);
                // write every 50 ms until the phone has been through `expiries` token expiries and is live again
                while (tokensAsked.get() < expiries + 1 || !phoneSync.status().isLive()) {
                    phone.preferences().set("v" + written, written);
                    written++;
                    Thread.sleep(50);
                    if (System.nanoTime() > deadline) {
                        throw new AssertionError("the phone did not get through " + expiries + " token expiries; tokens asked "
                                + tokensAsked.get() + ", status " + phoneSync.status());
                    }
                }
                phoneSync.syncNow().get(30, TimeUnit.SECONDS);
                long expiredCloses = errors.stream().filter(e -> e.contains("token expired") && e.contains("4401")).count();
                assertTrue(expiredCloses >= expiries, "the client should say why it reconnected, each time: " + errors);
                int all = written;
                until("the laptop to receive all " + all + " values", Duration.ofSeconds(30),
                        () -> laptop.preferences().get("v" + (all - 1), Integer.class, null) != null);
                laptopSync.syncNow().get(30, TimeUnit.SECONDS);
                for (int i = 0; i < written; i++) {
                    assertEquals(Integer.valueOf(i), laptop.preferences().get("v" + i, Integer.class, null), "value v" + i + " lost");
                }
                assertEquals(phone.canonicalState(), laptop.canonicalState(), "the two devices converged");
                System.out.println("TokenExpiryIT: " + expiries + " expiries, " + tokensAsked.get() + " tokens, " + written
                        + " values written, 0 lost");
            }
        }
    }

    static void until(String what, Duration deadline, java.util.function.BooleanSupplier condition) throws InterruptedException {
        long end = System.nanoTime() + deadline.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out after " + deadline.toMillis() + " ms waiting for " + what);
            }
            Thread.sleep(20);
        }
    }
}
