package dev.cairn.server.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** 1009 storms: the third 1009 close of one user's sockets within 10 minutes warns, then at most once a minute. */
class OversizeWarningsTest {

    private final ListAppender<ILoggingEvent> log = new ListAppender<>();
    private final Logger logger = (Logger) OversizeWarnings.LOG;

    @BeforeEach
    void capture() {
        log.start();
        logger.addAppender(log);
    }

    @AfterEach
    void release() {
        logger.detachAppender(log);
    }

    @Test
    void theThirdCloseWithinTenMinutesWarnsNamingTheUserAndTheFrameSize() {
        OversizeWarnings w = new OversizeWarnings();
        long t = 1_000_000;
        assertFalse(w.closed("alice", 2_000_000, 1_048_576, t));
        assertFalse(w.closed("bob", 2_000_000, 1_048_576, t + 1)); // another user does not count for alice
        assertFalse(w.closed("alice", 2_000_000, 1_048_576, t + 5 * 60_000));
        assertTrue(w.closed("alice", 2_000_001, 1_048_576, t + 9 * 60_000));
        assertEquals(1, log.list.size());
        ILoggingEvent e = log.list.get(0);
        assertEquals(Level.WARN, e.getLevel());
        assertTrue(e.getFormattedMessage().contains("alice") && e.getFormattedMessage().contains("2000001 bytes")
                && e.getFormattedMessage().contains("1009"), e.getFormattedMessage());
    }

    @Test
    void furtherClosesWarnAtMostOnceAMinutePerUser() {
        OversizeWarnings w = new OversizeWarnings();
        long t = 5_000_000;
        w.closed("alice", -1, 1024, t);
        w.closed("alice", -1, 1024, t + 1);
        assertTrue(w.closed("alice", -1, 1024, t + 2));
        for (int i = 3; i < 50; i++) {
            assertFalse(w.closed("alice", -1, 1024, t + i * 1000L), "within the minute: " + i);
        }
        assertTrue(w.closed("alice", -1, 1024, t + 2 + 60_000), "a minute after the last warning");
        assertEquals(2, log.list.size());
        assertTrue(log.list.get(0).getFormattedMessage().contains("over the limit"), log.list.get(0).getFormattedMessage());
    }

    @Test
    void closesOlderThanTenMinutesDoNotCount() {
        OversizeWarnings w = new OversizeWarnings();
        long t = 9_000_000;
        w.closed("carol", 5000, 1024, t);
        w.closed("carol", 5000, 1024, t + 60_000);
        assertFalse(w.closed("carol", 5000, 1024, t + 11 * 60_000), "the first close is outside the window");
        assertTrue(log.list.isEmpty());
    }
}
