package dev.cairn.server.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.FrameCodec;
import dev.cairn.engine.protocol.PageCodec;
import dev.cairn.server.RawSocket;
import dev.cairn.server.TestServer;
import java.io.ByteArrayOutputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.Deflater;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Protocol v2 on the wire of a real server on a random port (PROTOCOL.md 7): negotiation in
 * hello, pages both ways, a v1 socket unchanged beside a v2 one, and the limits and refusals of
 * version 1 applied to pages exactly.
 */
class ProtocolV2IT {

    private static final int MAX_FRAME_BYTES = 64 << 10;
    private static final int MAX_BATCH = 10;
    private static final Duration WAIT = RawSocket.WAIT;
    private static final AtomicLong USERS = new AtomicLong();

    private static TestServer server;

    @BeforeAll
    static void start() {
        server = TestServer.embedded().limits(MAX_FRAME_BYTES, MAX_BATCH, 200, 100).start();
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
    }

    private static String newUser() {
        return "v2-user-" + USERS.incrementAndGet();
    }

    /** hello offering 1 and 2; returns the welcome after reading the catch-up pages until caught-up. */
    private static List<Frame.Changes> helloV2(RawSocket ws, String replica, long cursor) {
        ws.send("{\"type\":\"hello\",\"protocol\":1,\"versions\":[1,2],\"replica\":\"" + replica + "\",\"cursor\":" + cursor + "}");
        JsonNode welcome = ws.expectType("welcome", WAIT);
        assertEquals(2, welcome.path("protocol").asInt(), "the server picks the highest version both speak: " + welcome);
        ws.expectType("caught-up", WAIT); // the only text frame of a catch-up: its pages are binary
        List<Frame.Changes> pages = new ArrayList<>();
        byte[] page;
        while ((page = ws.nextPage(Duration.ofMillis(300))) != null) {
            pages.add((Frame.Changes) PageCodec.decode(page, MAX_FRAME_BYTES));
        }
        return pages;
    }

    private static Change set(String key, String valueJson, long counter) {
        return new Change.Put("state", key, valueJson, new Stamp(Stamp.pack(System.currentTimeMillis(), (int) counter), "r-v2"));
    }

    /** The next ack page, skipping changes pages (the socket's own changes may come back first, PROTOCOL.md 3.2). */
    private static Frame ackPage(RawSocket ws) {
        while (true) {
            byte[] page = ws.nextPage(WAIT);
            assertNotNull(page, "no ack page; text received: " + ws.received());
            Frame f = PageCodec.decode(page, MAX_FRAME_BYTES);
            if (!(f instanceof Frame.Changes)) {
                return f;
            }
        }
    }

    @Test
    void aV1HelloGetsAV1SessionUnchanged() {
        String user = newUser();
        try (RawSocket ws = RawSocket.connect(server.syncUri(), server.token(user))) {
            RawSocket.Handshake h = ws.hello("r-v1", 0);
            assertEquals(1, h.welcome().path("protocol").asInt(), "a hello without versions speaks version 1");
            ws.pushAcked(1, "{\"op\":\"set\",\"section\":\"state\",\"key\":\"a\",\"value\":1e2,\"stamp\":\"" + set("a", "1", 0).stamp() + "\"}");
            ws.sendBinary(PageCodec.encode(new Frame.Push(2, List.of(set("b", "1", 1)))));
            JsonNode error = ws.expectError("malformed-frame");
            assertTrue(error.path("message").asText().contains("binary"), error.toString());
            assertEquals(1, server.head(user), "the binary push was not applied");
            assertFalse(ws.isClosed());
        }
    }

    @Test
    void pagesBothWaysAndAV1SocketSeesTheSameValues() {
        String user = newUser();
        try (RawSocket v2 = RawSocket.connect(server.syncUri(), server.token(user));
             RawSocket v1 = RawSocket.connect(server.syncUri(), server.token(user))) {
            assertTrue(helloV2(v2, "r-v2", 0).isEmpty(), "a new user has nothing to catch up");
            v1.hello("r-v1", 0);
            List<Change> changes = List.of(set("notes/a", "{\"n\":1.0E21,\"t\":\"caf\u00e9\"}", 0), set("notes/b", "1e2", 1),
                    new Change.Append("chat", "conv-1", "{\"role\":\"user\",\"text\":\"hi\"}", set("x", "1", 2).stamp()));
            v2.sendBinary(PageCodec.encode(new Frame.Push(7, changes)));
            assertEquals(new Frame.Ack(7), ackPage(v2), "the ack of a page is a page");

            // The v1 socket gets the same changes live as JSON, values in their canonical spelling.
            JsonNode live = v1.skipUntil("changes"::equals, WAIT);
            assertEquals("{\"n\":1.0E21,\"t\":\"caf\u00e9\"}", live.path("changes").get(0).path("change").path("value").toString());
            assertEquals("100.0", live.path("changes").get(1).path("change").path("value").toString());

            // A second v2 socket catches up in pages that decode to exactly what the v1 socket got.
            try (RawSocket late = RawSocket.connect(server.syncUri(), server.token(user))) {
                List<Frame.Changes> pages = helloV2(late, "r-late", 0);
                List<Frame.SeqChange> got = new ArrayList<>();
                pages.forEach(p -> got.addAll(p.changes()));
                assertEquals(3, got.size(), "catch-up pages: " + pages);
                Frame.Changes asV1 = (Frame.Changes) FrameCodec.decode(live.toString());
                assertEquals(asV1.changes(), got, "v1 JSON and v2 pages carry the same changes");
            }
        }
    }

    @Test
    void aJsonPushInAV2SessionIsMalformed() {
        String user = newUser();
        try (RawSocket ws = RawSocket.connect(server.syncUri(), server.token(user))) {
            helloV2(ws, "r-v2", 0);
            ws.push(3, "{\"op\":\"set\",\"section\":\"state\",\"key\":\"a\",\"value\":1,\"stamp\":\"" + set("a", "1", 0).stamp() + "\"}");
            JsonNode error = ws.expectError("malformed-frame");
            assertEquals(3, error.path("batch").asLong(), error.toString());
            assertEquals(0, server.head(user));
        }
    }

    @Test
    void refusalsOfPagesAreThoseOfV1() {
        String user = newUser();
        try (RawSocket ws = RawSocket.connect(server.syncUri(), server.token(user))) {
            helloV2(ws, "r-v2", 0);
            List<Change> eleven = new ArrayList<>();
            for (int i = 0; i < MAX_BATCH + 1; i++) {
                eleven.add(set("k" + i, "1", i));
            }
            ws.sendBinary(PageCodec.encode(new Frame.Push(11, eleven)));
            assertEquals(11, ws.expectError("batch-too-large").path("batch").asLong());

            // change 2 breaks the number rule: the whole batch is refused, naming it and the batch
            byte[] bad = PageCodec.encodePlain(new Frame.Push(12, List.of(set("a", "1", 0), set("b", "2", 1), set("c", "77777", 2))));
            String text = new String(bad, java.nio.charset.StandardCharsets.ISO_8859_1).replace("77777", "1e999");
            ws.sendBinary(text.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
            JsonNode invalid = ws.expectError("invalid-change");
            assertEquals(12, invalid.path("batch").asLong());
            assertTrue(invalid.path("message").asText().startsWith("change 2:"), invalid.toString());

            ws.sendBinary(new byte[] {2, 0, 13, 5}); // ends inside its table
            assertEquals(13, ws.expectError("malformed-frame").path("batch").asLong());
            assertEquals(0, server.head(user), "nothing refused was applied");

            ws.sendBinary(PageCodec.encode(new Frame.Push(14, List.of(set("ok", "true", 9)))));
            assertEquals(new Frame.Ack(14), ackPage(ws), "the socket stays open after refusals");
            assertEquals(1, server.head(user));
        }
    }

    @Test
    void aPageThatInflatesBeyondMaxFrameBytesClosesWith1009() {
        String user = newUser();
        try (RawSocket ws = RawSocket.connect(server.syncUri(), server.token(user))) {
            helloV2(ws, "r-v2", 0);
            // A push of one 100 KB value: a few hundred bytes deflated, over the 64 KiB limit inflated.
            String big = "\"" + "x".repeat(100_000) + "\"";
            byte[] page = PageCodec.encode(new Frame.Push(20, List.of(set("big", big, 0))));
            assertTrue(page.length < 1024 && page[1] == 1, "deflated to " + page.length + " bytes");
            ws.sendBinary(page);
            assertEquals(1009, ws.closeStatus(WAIT), "closed as any frame over the limit");
            assertEquals(0, server.head(user));
        }
        try (RawSocket ws = RawSocket.connect(server.syncUri(), server.token(user))) {
            helloV2(ws, "r-v2", 0);
            ws.sendBinary(bomb(MAX_FRAME_BYTES * 4L));
            assertEquals(1009, ws.closeStatus(WAIT), "a declared inflated length over the limit");
        }
    }

    /** A push page header declaring {@code declared} inflated bytes, followed by a small deflate stream of zeros. */
    private static byte[] bomb(long declared) {
        Deflater d = new Deflater(9, true);
        d.setInput(new byte[1 << 20]);
        d.finish();
        byte[] buf = new byte[1 << 16];
        int n = 0;
        while (!d.finished()) {
            n += d.deflate(buf, n, buf.length - n);
        }
        d.end();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(2);
        out.write(1);
        long v = declared;
        while (v >= 0x80) {
            out.write((int) (v | 0x80) & 0xff);
            v >>>= 7;
        }
        out.write((int) v);
        out.write(buf, 0, n);
        return out.toByteArray();
    }

    @Test
    void noCommonVersionIsProtocolVersion() {
        try (RawSocket ws = RawSocket.connect(server.syncUri(), server.token(newUser()))) {
            ws.send("{\"type\":\"hello\",\"protocol\":3,\"versions\":[3,4],\"replica\":\"r\",\"cursor\":0}");
            JsonNode error = ws.expectError("protocol-version");
            assertEquals("[1,2]", error.path("supported").toString());
            assertEquals(1002, ws.closeStatus(WAIT));
        }
    }
}
