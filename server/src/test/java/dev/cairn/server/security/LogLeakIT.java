package dev.cairn.server.security;

import static dev.cairn.server.TestChanges.append;
import static dev.cairn.server.TestChanges.set;
import static dev.cairn.server.TestChanges.stamp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.AppenderBase;
import dev.cairn.engine.Cairn;
import dev.cairn.engine.sync.SyncClient;
import dev.cairn.server.RawSocket;
import dev.cairn.server.TestServer;
import dev.cairn.server.TestTokens;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Tokens and user data never reach the logs. Everything logged in this JVM (the server through
 * logback, the JVM client's System.Logger through the slf4j bridge, anything else through
 * java.util.logging) is captured at DEBUG and below, including
 * Vert.x and Netty (the JDK's own HTTP client, a test tool here, is left out), during a session that uses a distinctive token and distinctive values, over
 * a socket (the token as a header, as the browser's subprotocol and as the older {@code access_token}
 * parameter) and HTTP, and that fails in every
 * way a client can make it fail: bad and tampered tokens, bad frames, an oversized frame, bad
 * imports and bodies. Neither the token nor any of its parts, nor any value, may appear.
 */
class LogLeakIT {

    /** In every value written; must not be logged. */
    private static final String VALUE = "LEAKVALUE-5c2f9b";
    /** In the token's payload (a jti claim); must not be logged, decoded or encoded. */
    private static final String JTI = "LEAKJTI-81d3e0";
    private static final String USER = "leaky";

    @Test
    void noTokenOrValueIsLogged() throws Exception {
        List<String> lines = new CopyOnWriteArrayList<>();
        try (Capture ignored = Capture.everything(lines)) {
            String token = TestTokens.hs256("{\"sub\":\"" + USER + "\",\"jti\":\"" + JTI + "\",\"iat\":" + TestTokens.now()
                    + ",\"exp\":" + (TestTokens.now() + 3600) + "}", TestServer.SECRET);
            List<String> secrets = secretsOf(token);
            try (TestServer server = TestServer.embedded().limits(32 << 10, 10, 500, 100).start()) {
                exercise(server, token);
            }
            // the capture works: DEBUG lines of the server's and the engine's loggers are seen
            LoggerFactory.getLogger("dev.cairn.server.Canary").debug("canary-slf4j");
            System.getLogger("dev.cairn.engine.Canary").log(System.Logger.Level.DEBUG, "canary-jul");
            assertTrue(lines.stream().anyMatch(l -> l.contains("canary-slf4j")) && lines.stream().anyMatch(l -> l.contains("canary-jul")),
                    "the capture misses DEBUG lines");
            Map<String, List<String>> leaks = new LinkedHashMap<>();
            for (String line : lines) {
                for (String secret : secrets) {
                    if (line.contains(secret)) {
                        leaks.computeIfAbsent(secret, k -> new ArrayList<>()).add(line.length() > 400 ? line.substring(0, 400) + "..." : line);
                    }
                }
            }
            assertTrue(lines.size() > 10, "the capture should have seen the server's logs, got " + lines);
            assertTrue(lines.stream().anyMatch(l -> l.contains("session open") && l.contains(" user=" + USER)), "the session's own log lines are captured");
            assertEquals(Map.of(), leaks, "secrets in the logs (" + lines.size() + " lines captured)");
        }
    }

    /** The whole token, each of its parts except the common header, and the distinctive strings. */
    private static List<String> secretsOf(String token) {
        String[] parts = token.split("\\.");
        List<String> out = new ArrayList<>(List.of(token, parts[1], parts[2], JTI, VALUE));
        // a prefix of the signature, in case a message cuts it
        out.add(parts[2].substring(0, 16));
        return out;
    }

    private static void exercise(TestServer server, String token) throws Exception {
        String tampered = TestTokens.withPayload(token, "{\"sub\":\"" + USER + "\",\"jti\":\"" + JTI + "-x\",\"exp\":" + (TestTokens.now() + 3600) + "}");
        String expired = TestTokens.hs256("{\"sub\":\"" + USER + "\",\"jti\":\"" + JTI + "\",\"exp\":" + (TestTokens.now() - 600) + "}", TestServer.SECRET);
        String notJson = TestTokens.signed("{\"alg\":\"HS256\"}", "{" + JTI + " not json", "HmacSHA256", TestServer.SECRET);

        // a good session over the socket: pushes with values, catch-up of them
        try (RawSocket ws = RawSocket.connect(server.syncUri(), token)) {
            ws.hello("leak-1", 0);
            ws.pushAcked(1, set("preferences", "theme", "\"" + VALUE + "\"", stamp("leak-1")),
                    append("chat", "c1", "{\"text\":\"" + VALUE + "\"}", stamp("leak-1")));
            // bad frames carrying the value
            ws.send("{\"type\":\"push\",\"batch\":2,\"changes\":[" + set("no-such-section", "k", "\"" + VALUE + "\"", stamp("leak-1")) + "]}");
            ws.expectError("invalid-change");
            ws.send("{\"type\":\"push\",\"batch\":3,\"changes\":[" + set("ui", "k", "\"" + VALUE + "\"", "not-a-stamp") + "]}");
            ws.skipUntil("error"::equals, RawSocket.WAIT);
            ws.send("{\"type\":\"" + VALUE + "\"}");
            ws.expectError("malformed-frame");
            ws.send("not json " + VALUE);
            ws.expectError("malformed-frame");
            ws.send("{\"type\":\"push\",\"batch\":4,\"changes\":[" + set("ui", "far", "\"" + VALUE + "\"",
                    dev.cairn.server.TestChanges.stampAt(System.currentTimeMillis() + 3_600_000, "leak-1")) + "]}");
            ws.expectError("clock-skew");
        }
        try (RawSocket ws = RawSocket.connectQuery(server.syncUri(), token)) {
            RawSocket.Handshake h = ws.hello("leak-2", 0);
            assertTrue(h.changes().toString().contains(VALUE));
            // an oversized frame with the value in it
            ws.push(5, set("ui", "big", "\"" + VALUE + "x".repeat(40 << 10) + "\"", stamp("leak-2")));
            assertEquals(1009, ws.closeStatus(RawSocket.WAIT));
        }
        try (RawSocket ws = RawSocket.connectProtocol(server.syncUri(), token)) {
            ws.hello("leak-3", 0);
        }
        // refused upgrades, header, subprotocol and query
        for (String bad : List.of(tampered, expired, notJson, token + "x", token.substring(0, token.length() - 3))) {
            assertEquals(401, RawSocket.refusal(server.syncUri(), bad));
            assertEquals(401, RawSocket.refusalQuery(server.syncUri(), bad));
            assertEquals(401, RawSocket.refusalProtocols(server.syncUri(), "cairn", "cairn.bearer." + bad));
            assertEquals(401, server.get("/api/preferences", bad).status());
        }
        // HTTP with values, good and bad
        assertEquals(200, server.post("/api/preferences", token, "{\"font\":\"" + VALUE + "\"}").status());
        assertEquals(200, server.post("/api/progress/assessment", token, "{\"answers\":{\"q\":\"" + VALUE + "\"}}").status());
        String export = server.get("/api/export", token).body();
        assertTrue(export.contains(VALUE));
        assertEquals(200, server.post("/api/import", token, export).status());
        assertEquals(400, server.post("/api/import", token, export.replace("\"format\"", "\"formaat\"")).status());
        assertEquals(400, server.post("/api/import", token, export.substring(0, export.length() / 2)).status());
        assertEquals(400, server.post("/api/import", token, "{\"" + VALUE + "\":").status());
        assertEquals(400, server.post("/api/preferences", token, "[\"" + VALUE + "\"]").status());
        assertEquals(400, server.post("/api/persistence/sync", token, "{\"sections\":{\"ui\":{\"k\":{\"value\":\"" + VALUE + "\",\"stamp\":\"bad\"}}}}").status());
        assertEquals(413, server.post("/api/preferences", token, "{\"big\":\"" + VALUE + "x".repeat(40 << 10) + "\"}").status());
        assertEquals(200, server.delete("/api/sections/chat", token).status());

        // the JVM client, once with the good token and once with a refused one
        try (Cairn device = Cairn.builder().inMemory().replicaId("leak-jvm").open();
             SyncClient sync = SyncClient.builder(device, server.syncUri(), () -> token).build()) {
            sync.start();
            device.preferences().set("jvm", VALUE);
            sync.syncNow().get(20, TimeUnit.SECONDS);
        }
        try (Cairn device = Cairn.builder().inMemory().replicaId("leak-jvm2").open();
             SyncClient sync = SyncClient.builder(device, server.syncUri(), () -> tampered)
                     .backoff(Duration.ofMillis(20), Duration.ofMillis(100)).build()) {
            sync.start();
            TokenExpiryIT.until("the refused client to report its error", Duration.ofSeconds(10), () -> sync.status().lastError() != null);
        }
    }

    /**
     * Captures every log event of the JVM: a logback appender on the root with DEBUG everywhere
     * (Vert.x and Netty included), and a java.util.logging handler at ALL. Restores both on close.
     */
    private static final class Capture implements AutoCloseable {
        private final LoggerContext context;
        private final AppenderBase<ILoggingEvent> appender;
        private final Map<Logger, Level> levels = new LinkedHashMap<>();
        private final java.util.logging.Logger julRoot = java.util.logging.Logger.getLogger("");
        /** Cairn's loggers only: the JDK's own HTTP client traces every URL at FINE (a test tool's internals, off by default). */
        private final java.util.logging.Logger julCairn = java.util.logging.Logger.getLogger("dev.cairn");
        private final java.util.logging.Level julLevel;
        private final java.util.logging.Handler julHandler;

        private Capture(List<String> lines) {
            context = (LoggerContext) LoggerFactory.getILoggerFactory();
            appender = new AppenderBase<>() {
                @Override
                protected void append(ILoggingEvent e) {
                    StringBuilder line = new StringBuilder(e.getLevel() + " " + e.getLoggerName() + " " + e.getFormattedMessage());
                    if (e.getKeyValuePairs() != null) {
                        e.getKeyValuePairs().forEach(kv -> line.append(' ').append(kv.key).append('=').append(kv.value)); // fields are checked too
                    }
                    for (IThrowableProxy t = e.getThrowableProxy(); t != null; t = t.getCause()) {
                        line.append(" | ").append(t.getClassName()).append(": ").append(t.getMessage());
                    }
                    lines.add(line.toString());
                }
            };
            appender.setContext(context);
            appender.start();
            for (String name : List.of(org.slf4j.Logger.ROOT_LOGGER_NAME, "io.vertx", "io.netty", "dev.cairn")) {
                Logger logger = context.getLogger(name);
                levels.put(logger, logger.getLevel());
                logger.setLevel(Level.DEBUG);
            }
            // The JDK's own HTTP client (a test tool here) traces every URL at DEBUG; its System.Logger
            // reaches logback through the bridge, so it is held at INFO like its JUL twin below.
            Logger jdkHttp = context.getLogger("jdk.internal.httpclient");
            levels.put(jdkHttp, jdkHttp.getLevel());
            jdkHttp.setLevel(Level.INFO);
            context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).addAppender(appender);
            julLevel = julCairn.getLevel();
            julHandler = new java.util.logging.Handler() {
                @Override
                public void publish(java.util.logging.LogRecord r) {
                    String message = r.getMessage();
                    if (r.getParameters() != null && message != null) {
                        message = java.text.MessageFormat.format(message, r.getParameters());
                    }
                    StringBuilder line = new StringBuilder("JUL " + r.getLevel() + " " + r.getLoggerName() + " " + message);
                    for (Throwable t = r.getThrown(); t != null; t = t.getCause() == t ? null : t.getCause()) {
                        line.append(" | ").append(t);
                    }
                    lines.add(line.toString());
                }

                @Override
                public void flush() {
                }

                @Override
                public void close() {
                }
            };
            julHandler.setLevel(java.util.logging.Level.ALL);
            julRoot.addHandler(julHandler);
            julCairn.setLevel(java.util.logging.Level.ALL);
        }

        static Capture everything(List<String> lines) {
            return new Capture(lines);
        }

        @Override
        public void close() {
            context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).detachAppender(appender);
            appender.stop();
            levels.forEach(Logger::setLevel);
            julRoot.removeHandler(julHandler);
            julCairn.setLevel(julLevel);
        }
    }
}
