package dev.cairn.server.spaces;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.protocol.ErrorCode;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.section.SpaceSections;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Presence on a real server (PROTOCOL.md 8.6): it appears at the space's other members within a
 * second, is gone within a second of its socket closing and within 5 s of its last refresh when
 * the socket goes silent, a session that becomes live in the space first gets everyone present,
 * nobody gets their own replica's presence back, and the rate and size limits hold.
 */
class PresenceIT extends EmbeddedSpaces {

    private static final Duration WAIT = SpaceWire.WAIT;
    /** A session of {@code user} that is live in {@code space}. */
    private static SpaceWire live(String user, String replica, String space) {
        SpaceWire ws = SpaceWire.connect(server.syncUri(), server.token(user));
        ws.hello(replica, 0, Map.of());
        ws.until(f -> f instanceof Frame.CaughtUp c && space.equals(c.space()), WAIT);
        return ws;
    }

    private static Frame.Presence presenceOf(SpaceWire ws, String replica, Duration within) {
        return (Frame.Presence) ws.until(f -> f instanceof Frame.Presence p && replica.equals(p.replica()), within);
    }

    private static String space() {
        String s = members.create("alice");
        members.add(s, "bob", SpaceSections.EDITOR);
        return s;
    }

    @Test
    void appearsWithin1SecondAndIsGoneWithin1SecondOfAClose() {
        String s = space();
        try (SpaceWire alice = live("alice", "observer", s)) {
            SpaceWire bob = live("bob", "phone", s);
            long sent = System.nanoTime();
            bob.send(new Frame.Presence(s, "{\"at\":\"item-3\"}"));
            Frame.Presence seen = presenceOf(alice, "phone", WAIT);
            long appeared = System.nanoTime() - sent;
            assertEquals(new Frame.Presence(s, "bob", "phone", "{\"at\":\"item-3\"}"), seen);
            assertTrue(appeared < 1_000_000_000L, "presence appeared after " + appeared / 1_000_000 + " ms");

            long closed = System.nanoTime();
            bob.close();
            Frame.Presence gone = presenceOf(alice, "phone", WAIT);
            long took = System.nanoTime() - closed;
            assertNull(gone.state());
            assertTrue(took < 1_000_000_000L, "presence gone " + took / 1_000_000 + " ms after the close");
            for (Frame f : bob.received()) {
                assertTrue(!(f instanceof Frame.Presence p) || !"phone".equals(p.replica()), "a replica got its own presence back: " + f);
            }
        }
    }

    @Test
    void aSocketThatDiesIsGoneWithin1SecondAndOneThatGoesSilentWithin5Seconds() throws Exception {
        String s = space();
        try (SpaceWire alice = live("alice", "observer", s);
             SpaceWire silent = live("bob", "tablet", s);
             SpaceWire refreshing = live("bob", "laptop", s)) {
            SpaceWire dying = live("bob", "watch", s);
            dying.send(new Frame.Presence(s, "1"));
            presenceOf(alice, "watch", WAIT);
            long killed = System.nanoTime();
            dying.kill(); // the TCP connection drops without a close handshake
            assertNull(presenceOf(alice, "watch", WAIT).state());
            assertTrue(System.nanoTime() - killed < 1_000_000_000L, "a dropped connection's presence outlived it by over 1 s");

            // silent: set once and never refreshed, the socket still open
            long set = System.nanoTime();
            silent.send(new Frame.Presence(s, "2"));
            refreshing.send(new Frame.Presence(s, "3"));
            // the two sockets may be on different event loops: their presence arrives in either order
            java.util.Set<String> seen = new java.util.HashSet<>();
            while (seen.size() < 2) {
                seen.add(((Frame.Presence) alice.until(f -> f instanceof Frame.Presence, WAIT)).replica());
            }
            assertEquals(java.util.Set.of("tablet", "laptop"), seen);
            Frame.Presence gone = null;
            while (gone == null && System.nanoTime() - set < 8_000_000_000L) {
                refreshing.send(new Frame.Presence(s, "3")); // unchanged: refreshes, passed on to nobody
                Frame f = alice.poll(Duration.ofMillis(500));
                if (f instanceof Frame.Presence p) {
                    assertEquals("tablet", p.replica(), "only the silent replica goes (and an unchanged state is not passed on): " + alice.received());
                    gone = p;
                }
            }
            long after = System.nanoTime() - set;
            assertTrue(gone != null && gone.state() == null, "the silent replica's presence was never withdrawn");
            assertTrue(after > 4_000_000_000L && after < 5_000_000_000L + 300_000_000L,
                    "withdrawn " + after / 1_000_000 + " ms after its only refresh (expected 4.5 s to 5 s)");
        }
    }

    @Test
    void aSessionThatBecomesLiveFirstGetsEveryonePresent() {
        String s = space();
        try (SpaceWire bob = live("bob", "phone", s); SpaceWire bob2 = live("bob", "laptop", s)) {
            bob.send(new Frame.Presence(s, "{\"at\":1}"));
            bob2.send(new Frame.Presence(s, "{\"at\":2}"));
            presenceOf(bob2, "phone", WAIT);
            presenceOf(bob, "laptop", WAIT);
            try (SpaceWire alice = live("alice", "observer", s)) {
                Frame.Presence first = (Frame.Presence) alice.until(f -> f instanceof Frame.Presence, WAIT);
                Frame.Presence second = (Frame.Presence) alice.next(WAIT);
                assertEquals(new Frame.Presence(s, "bob", "laptop", "{\"at\":2}"), first);
                assertEquals(new Frame.Presence(s, "bob", "phone", "{\"at\":1}"), second);
            }
        }
    }

    @Test
    void rateAndSizeLimits() {
        String s = space();
        try (SpaceWire bob = live("bob", "phone", s)) {
            for (int i = 0; i < 11; i++) {
                bob.send(new Frame.Presence(s, Integer.toString(i)));
            }
            Frame.Error e = assertInstanceOf(Frame.Error.class, bob.until(f -> f instanceof Frame.Error, WAIT));
            assertEquals(ErrorCode.RATE_LIMITED, e.code());
            assertEquals(s, e.space());
            try {
                Thread.sleep(1100);
            } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
            }
            bob.send(new Frame.Presence(s, "\"" + "x".repeat(1023) + "\"")); // 1,025 bytes
            e = assertInstanceOf(Frame.Error.class, bob.until(f -> f instanceof Frame.Error, WAIT));
            assertEquals(ErrorCode.INVALID_CHANGE, e.code());
            bob.send(new Frame.Presence(s, "\"" + "x".repeat(1022) + "\"")); // 1,024 bytes: fits
            bob.send(new Frame.Ping());
            assertEquals(new Frame.Pong(), bob.until(f -> !(f instanceof Frame.Changes), WAIT));
        }
    }

    /** PROTOCOL.md 8.6: errors about a presence name its space, whatever is wrong with it. */
    @Test
    void everyErrorAboutAPresenceNamesItsSpace() {
        String s = space();
        try (SpaceWire bob = live("bob", "phone", s)) {
            Map<String, ErrorCode> bad = new java.util.LinkedHashMap<>();
            bad.put("{\"type\":\"presence\",\"space\":\"" + s + "\",\"state\":-0}", ErrorCode.INVALID_CHANGE);
            bad.put("{\"type\":\"presence\",\"space\":\"" + s + "\"}", ErrorCode.MALFORMED_FRAME);
            bad.put("{\"type\":\"presence\",\"space\":\"" + s + "\",\"state\":1,\"user\":\"bob\"}", ErrorCode.MALFORMED_FRAME);
            bad.put("{\"type\":\"presence\",\"space\":\"" + s + "\",\"state\":1,\"user\":\"bob\",\"replica\":\"x\"}", ErrorCode.MALFORMED_FRAME);
            bad.forEach((text, code) -> {
                bob.send(text);
                Frame.Error e = assertInstanceOf(Frame.Error.class, bob.until(f -> f instanceof Frame.Error, WAIT), text);
                assertEquals(code, e.code(), text + ": " + e);
                assertEquals(s, e.space(), text + ": " + e);
            });
        }
    }
}
