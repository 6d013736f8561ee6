package dev.cairn.server.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.server.RawSocket;
import dev.cairn.server.TestServer;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** A socket that never says hello is closed with 1008 after 10 s (PROTOCOL.md 2), measured on the monotonic clock. */
class HelloDeadlineIT {

    @Test
    void aSocketWithoutHelloIsClosedAfterTenSeconds() {
        try (TestServer server = TestServer.embedded().start(); RawSocket silent = RawSocket.connect(server.syncUri(), server.token("alice"))) {
            long start = System.nanoTime();
            Integer status = silent.closeStatus(Duration.ofSeconds(15));
            long tookMillis = (System.nanoTime() - start) / 1_000_000;
            assertEquals(1008, status, "closed for the missing hello");
            assertTrue(tookMillis >= 9_000 && tookMillis <= 13_000, "closed after " + tookMillis + " ms; the deadline is 10 s, checked once a second");
        }
    }
}
