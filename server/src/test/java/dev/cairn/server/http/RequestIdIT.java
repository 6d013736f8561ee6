package dev.cairn.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.cairn.server.TestServer;
import java.net.URI;
import java.net.http.HttpRequest;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** Every answer carries a request id; log lines about a request carry it and the user as fields. */
class RequestIdIT {

    @Test
    void idsAreEchoedOrMadeAndLoggedWithTheUser() {
        Logger transfer = (Logger) LoggerFactory.getLogger(TransferApi.class);
        ListAppender<ILoggingEvent> seen = new ListAppender<>();
        seen.start();
        transfer.addAppender(seen);
        try (TestServer server = TestServer.embedded().start()) {
            String made = server.get("/health/live", null).header(RequestIds.HEADER);
            assertTrue(made != null && made.matches("[0-9a-f]{16}"), "a fresh id: " + made);
            assertNotEquals(made, server.get("/health/live", null).header(RequestIds.HEADER), "one per request");

            TestServer.Response echoed = TestServer.send(HttpRequest.newBuilder(URI.create(server.httpBase() + "/api/export"))
                    .header("Authorization", "Bearer " + server.token("rid-alice")).header(RequestIds.HEADER, "lb-42.7").build());
            assertEquals(200, echoed.status());
            assertEquals("lb-42.7", echoed.header(RequestIds.HEADER), "a proxy's id is kept");
            String odd = TestServer.send(HttpRequest.newBuilder(URI.create(server.httpBase() + "/health/live"))
                    .header(RequestIds.HEADER, "x".repeat(65)).build()).header(RequestIds.HEADER);
            assertTrue(odd.matches("[0-9a-f]{16}"), "an id that is not a plain short token is replaced: " + odd);

            long deadline = System.nanoTime() + 5_000_000_000L; // logged just after the answer is ended
            List<ILoggingEvent> exports;
            while ((exports = snapshot(seen).stream().filter(e -> e.getFormattedMessage().startsWith("export ")).toList()).isEmpty()
                    && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            ILoggingEvent export = exports.get(0);
            Map<String, Object> fields = export.getKeyValuePairs().stream().collect(Collectors.toMap(kv -> kv.key, kv -> kv.value));
            assertEquals(Map.of("user", "rid-alice", "request", "lb-42.7"), fields);
        } finally {
            transfer.detachAppender(seen);
        }
    }

    /** The events so far (the appender adds under its own lock). */
    private static List<ILoggingEvent> snapshot(ListAppender<ILoggingEvent> appender) {
        synchronized (appender) {
            return List.copyOf(appender.list);
        }
    }
}
