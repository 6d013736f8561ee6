package dev.cairn.server.logging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.LoggingEvent;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import org.slf4j.event.KeyValuePair;

/** The server's logback.xml: both formats, and System.Logger reaching logback (README "Logs"). */
class LoggingConfigTest {

    @Test
    void systemLoggerReachesLogback() {
        LoggerContext logs = (LoggerContext) LoggerFactory.getILoggerFactory();
        Logger target = logs.getLogger("dev.cairn.test.platform");
        ListAppender<ILoggingEvent> seen = new ListAppender<>();
        seen.setContext(logs);
        seen.start();
        target.addAppender(seen);
        target.setLevel(Level.INFO);
        try {
            System.getLogger("dev.cairn.test.platform").log(System.Logger.Level.INFO, "through the bridge");
            System.getLogger("dev.cairn.test.platform").log(System.Logger.Level.DEBUG, "below the level");
        } finally {
            target.detachAppender(seen);
        }
        assertEquals(List.of("through the bridge"), seen.list.stream().map(ILoggingEvent::getFormattedMessage).toList());
    }

    @Test
    void jsonFormatCarriesNodeAndFields() throws Exception {
        LoggerContext context = configured("json");
        context.putProperty("node", "node-7");
        Logger logger = context.getLogger("dev.cairn.server.session.SyncSession");
        LoggingEvent event = new LoggingEvent(Logger.FQCN, logger, Level.INFO, "session open cursor={}", null, new Object[] {12});
        event.addKeyValuePair(new KeyValuePair("user", "alice"));
        String line = new String(encoder(context).encode(event), StandardCharsets.UTF_8);

        JsonNode json = new ObjectMapper().readTree(line);
        assertEquals("INFO", json.get("level").asText());
        assertEquals("session open cursor=12", json.get("formattedMessage").asText());
        assertEquals("node-7", json.at("/context/properties/node").asText());
        assertEquals("alice", json.at("/kvpList/0/user").asText(), line);
        assertTrue(line.endsWith("\n") && line.indexOf('\n') == line.length() - 1, "one line per event: " + line);
    }

    @Test
    void textFormatIsOneLineWithFieldsAfterTheMessage() throws Exception {
        LoggerContext context = configured("text");
        Logger logger = context.getLogger("dev.cairn.server.session.SyncSession");
        LoggingEvent plain = new LoggingEvent(Logger.FQCN, logger, Level.WARN, "store unavailable", null, null);
        LoggingEvent fielded = new LoggingEvent(Logger.FQCN, logger, Level.INFO, "session open", null, null);
        fielded.addKeyValuePair(new KeyValuePair("user", "alice"));

        String a = new String(encoder(context).encode(plain), StandardCharsets.UTF_8);
        String b = new String(encoder(context).encode(fielded), StandardCharsets.UTF_8);
        assertTrue(a.endsWith(" level=WARN logger=SyncSession store unavailable\n"), a);
        assertTrue(b.endsWith(" level=INFO logger=SyncSession session open user=alice\n"), b);
    }

    private static LoggerContext configured(String format) throws Exception {
        LoggerContext context = new LoggerContext();
        context.putProperty("CAIRN_LOG_FORMAT", format);
        JoranConfigurator configurator = new JoranConfigurator();
        configurator.setContext(context);
        URL config = LoggingConfigTest.class.getResource("/logback.xml");
        assertNotNull(config, "the server's logback.xml on the class path");
        configurator.doConfigure(config);
        return context;
    }

    private static ch.qos.logback.core.encoder.Encoder<ILoggingEvent> encoder(LoggerContext context) {
        var a = (OutputStreamAppender<ILoggingEvent>) context.getLogger(Logger.ROOT_LOGGER_NAME).getAppender("out");
        assertNotNull(a, "the root logger writes to the appender of the chosen format");
        return a.getEncoder();
    }

    @Test
    void aStartPrintsNoLogbackStatus() throws Exception {
        for (String format : new String[] {"text", "json"}) {
            LoggerContext context = configured(format);
            var worst = context.getStatusManager().getCopyOfStatusList().stream().mapToInt(ch.qos.logback.core.status.Status::getLevel).max();
            assertTrue(worst.orElse(0) < ch.qos.logback.core.status.Status.WARN,
                    format + ": a warning makes logback print its whole status at every start: " + context.getStatusManager().getCopyOfStatusList());
        }
    }
}
