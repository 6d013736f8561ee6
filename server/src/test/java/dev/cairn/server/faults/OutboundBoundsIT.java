package dev.cairn.server.faults;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.server.RawSocket;
import dev.cairn.server.TestChanges;
import dev.cairn.server.TestServer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The server's bounds on what it holds for readers (RELIABILITY.md, slow consumers): catch-up
 * frames are cut to {@code CAIRN_MAX_PAGE_BYTES}; sockets that never read are closed and their
 * connection cut, which frees what was queued to them; above the node's outbound budget
 * ({@code CAIRN_MAX_OUTBOUND_BYTES}) they are closed sooner; and a reader that reads still
 * catches up in full afterwards.
 */
class OutboundBoundsIT {

    private static final int VALUE_CHARS = 1000;

    @Test
    @Timeout(value = 2, unit = TimeUnit.MINUTES)
    void catchUpFramesStayUnderThePageByteLimit() {
        int pageBytes = 16 * 1024;
        try (TestServer server = TestServer.embedded().limits(1 << 20, 1000, 10_000, 1000)
                .env("CAIRN_MAX_PAGE_BYTES", String.valueOf(pageBytes)).start()) {
            String token = server.token("pages");
            int changes = writeHistory(server, token, 300);
            try (RawSocket reader = RawSocket.connect(server.syncUri(), token)) {
                RawSocket.Handshake h = reader.hello("reader", 0);
                long last = 0;
                int seen = 0;
                for (JsonNode page : h.pages()) {
                    int chars = page.toString().length();
                    int inPage = page.path("changes").size();
                    // at most the limit, or a single change that alone is larger than it
                    assertTrue(chars <= pageBytes + 2 * VALUE_CHARS || inPage == 1, "a frame of " + chars + " characters");
                    for (JsonNode c : page.path("changes")) {
                        long seq = c.path("seq").asLong();
                        assertTrue(seq > last, "seqs must increase across frames: " + seq + " after " + last);
                        last = seq;
                        seen++;
                    }
                    assertTrue(page.path("cursor").asLong() >= last, "a frame's cursor covers its changes");
                }
                assertEquals(changes, seen, "every change arrives once");
                assertTrue(h.pages().size() >= changes * VALUE_CHARS / pageBytes, h.pages().size() + " frames for " + changes + " changes");
                assertEquals(server.head("pages"), h.cursor());
            }
        }
    }

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void socketsThatNeverReadAreCutAndFreeWhatWasQueuedToThem() throws Exception {
        long slowMillis = 4_000;
        try (TestServer server = TestServer.embedded().limits(1 << 20, 1000, 10_000, 1000)
                .env("CAIRN_SLOW_CONSUMER_MS", String.valueOf(slowMillis))
                .env("CAIRN_MAX_PENDING_WRITE_BYTES", String.valueOf(64 * 1024))
                .env("CAIRN_MAX_OUTBOUND_BYTES", String.valueOf(256 * 1024))
                .env("CAIRN_MAX_SOCKETS_PER_USER", "64").start()) {
            String token = server.token("stalled");
            // More than loopback's socket buffers (tcp_wmem max 4 MB) and the write queue, so a catch-up fills both.
            int changes = writeHistory(server, token, 6_000);
            List<StallingSocket> stalled = new ArrayList<>();
            long start = System.nanoTime();
            for (int i = 0; i < 8; i++) {
                stalled.add(StallingSocket.open(server.port(), token,
                        "{\"type\":\"hello\",\"protocol\":1,\"replica\":\"stalled-" + i + "\",\"cursor\":0}", 4096, m -> { }));
            }
            try {
                // Eight full queues of 64 KiB are over the node's 256 KiB: each is closed after a quarter of
                // the slow-consumer time and cut after the grace; every session ends and nothing stays queued.
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while ((metric(server, "cairn_sessions") > 0 || metric(server, "cairn_outbound_queued_chars") > 0)
                        && System.nanoTime() < deadline) {
                    Thread.sleep(100);
                }
                long tookMillis = (System.nanoTime() - start) / 1_000_000;
                assertEquals(0, metric(server, "cairn_sessions"), "sessions of sockets that never read must end");
                assertEquals(0, metric(server, "cairn_outbound_queued_chars"), "what was queued to them must be freed");
                // Over the budget the catch-ups take turns: each stalled socket is closed a quarter of the
                // slow-consumer time after its queue stopped moving and cut as long again after that.
                assertTrue(tookMillis < 8 * slowMillis / 2 + 10_000, "stalled sockets released after " + tookMillis + " ms");
                System.out.printf("OutboundBoundsIT: 8 stalled sockets released after %d ms (slow-consumer time %d ms)%n", tookMillis, slowMillis);
                assertEquals(8, slowConsumerErrors(server), "each stalled socket is told why it is closed");
            } finally {
                stalled.forEach(StallingSocket::close);
            }
            // a reader that reads gets everything
            try (RawSocket reader = RawSocket.connect(server.syncUri(), token)) {
                RawSocket.Handshake h = reader.hello("reader", 0);
                assertEquals(changes, h.changes().size());
                assertEquals(server.head("stalled"), h.cursor());
            }
            assertEquals(200, server.get("/health", null).status());
        }
    }

    @Test
    @Timeout(value = 2, unit = TimeUnit.MINUTES)
    void aStalledSocketThatReadsWithinTheGraceIsToldWhyItIsClosed() throws Exception {
        // The reason (the slow-consumer error, then close 1008) is queued behind what the socket has not
        // read; a socket that reads again before the grace ends reads it there. One that never reads
        // cannot be told anything: its connection is cut (the test above).
        long slowMillis = 2_000;
        try (TestServer server = TestServer.embedded().limits(1 << 20, 1000, 10_000, 1000)
                .env("CAIRN_SLOW_CONSUMER_MS", String.valueOf(slowMillis))
                .env("CAIRN_MAX_PENDING_WRITE_BYTES", String.valueOf(64 * 1024)).start()) {
            String token = server.token("late");
            writeHistory(server, token, 6_000);
            List<String> errors = new ArrayList<>();
            try (StallingSocket late = StallingSocket.open(server.port(), token,
                    "{\"type\":\"hello\",\"protocol\":1,\"replica\":\"late\",\"cursor\":0}", 4096, m -> {
                        if (m.contains("\"type\":\"error\"")) {
                            errors.add(m);
                        }
                    })) {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (slowConsumerErrors(server) < 1 && System.nanoTime() < deadline) {
                    Thread.sleep(50);
                }
                assertEquals(1, slowConsumerErrors(server), "the server must judge the stalled socket slow");
                // now read everything, fast, within the grace (the shorter of 5 s and the slow-consumer time)
                long readUntil = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(slowMillis);
                while (late.closeStatus() < 0 && System.nanoTime() < readUntil && late.read(1 << 20) >= 0) {
                    Thread.onSpinWait();
                }
                assertEquals(1, errors.size(), "one error frame: " + errors);
                assertTrue(errors.get(0).contains("\"code\":\"slow-consumer\""), errors.get(0));
                assertEquals(1008, late.closeStatus(), "the close frame follows the error");
            }
            assertEquals(200, server.get("/health", null).status());
        }
    }

    /** Pushes {@code count} sets with 1,000-character values in batches of 100; returns count. */
    private static int writeHistory(TestServer server, String token, int count) {
        String value = TestChanges.q("x".repeat(VALUE_CHARS));
        try (RawSocket writer = RawSocket.connect(server.syncUri(), token)) {
            writer.hello("writer", 0);
            long batch = 1;
            for (int i = 0; i < count; i += 100) {
                String[] changes = new String[Math.min(100, count - i)];
                for (int j = 0; j < changes.length; j++) {
                    changes[j] = TestChanges.set("ui", "k" + (i + j), value, TestChanges.stamp("writer"));
                }
                writer.pushAcked(batch++, changes);
            }
        }
        return count;
    }

    private static double slowConsumerErrors(TestServer server) {
        for (String line : server.get("/metrics", null).body().split("\n")) {
            if (line.startsWith("cairn_errors_sent_total{") && line.contains("code=\"slow-consumer\"")) {
                return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return 0;
    }

    /** A gauge or counter from /metrics (the first sample whose name and labels start with {@code name}). */
    private static double metric(TestServer server, String name) {
        for (String line : server.get("/metrics", null).body().split("\n")) {
            if (line.startsWith(name + " ") || line.startsWith(name + "{")) {
                return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        throw new AssertionError("no metric " + name + " in /metrics");
    }
}
