package dev.cairn.engine.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The frames of shared spaces (PROTOCOL.md 8): JSON forms, strict members, and page kinds 4 and 5. */
class SpaceFramesTest {

    private static final Stamp STAMP = Stamp.parse("0190a1b2c3d40001@phone-1");

    private static ErrorCode refusal(String text) {
        return assertThrows(ProtocolException.class, () -> FrameCodec.decode(text)).code();
    }

    @Test
    void helloWithSpacesRoundTripsAndNeedsVersion2Offered() {
        String text = "{\"type\":\"hello\",\"protocol\":1,\"replica\":\"phone-1\",\"cursor\":1200,\"versions\":[1,2],\"spaces\":{\"sp-7f3k\":88,\"a\":0}}";
        Frame.Hello hello = (Frame.Hello) FrameCodec.decode(text);
        assertEquals(Map.of("sp-7f3k", 88L, "a", 0L), hello.spaces());
        assertEquals("{\"type\":\"hello\",\"protocol\":1,\"replica\":\"phone-1\",\"cursor\":1200,\"versions\":[1,2],\"spaces\":{\"a\":0,\"sp-7f3k\":88}}",
                FrameCodec.encode(hello));
        assertEquals(hello, FrameCodec.decode(FrameCodec.encode(hello)));
        assertEquals(Map.of(), ((Frame.Hello) FrameCodec.decode(
                "{\"type\":\"hello\",\"protocol\":2,\"replica\":\"r\",\"cursor\":0,\"versions\":[2],\"spaces\":{}}")).spaces());
        assertNull(new Frame.Hello(1, "r", 0, List.of(1, 2)).spaces());

        // spaces without version 2 offered, a bad cursor or id, a non-object
        assertEquals(ErrorCode.MALFORMED_FRAME, refusal("{\"type\":\"hello\",\"protocol\":1,\"replica\":\"r\",\"cursor\":0,\"spaces\":{}}"));
        assertEquals(ErrorCode.MALFORMED_FRAME, refusal("{\"type\":\"hello\",\"protocol\":1,\"replica\":\"r\",\"cursor\":0,\"versions\":[1],\"spaces\":{}}"));
        for (String spaces : new String[] {"{\"s\":-1}", "{\"s\":1.5}", "{\"s\":\"1\"}", "{\"s\":null}", "{\"a b\":1}", "{\"\":1}",
                "[]", "5", "{\"s\":18446744073709551616}", "{\"" + "x".repeat(65) + "\":1}"}) {
            assertEquals(ErrorCode.MALFORMED_FRAME,
                    refusal("{\"type\":\"hello\",\"protocol\":2,\"replica\":\"r\",\"cursor\":0,\"versions\":[2],\"spaces\":" + spaces + "}"), spaces);
        }
    }

    @Test
    void welcomeSpacesRoundTrip() {
        Frame.Welcome w = new Frame.Welcome(2, "bob", 5, 1000, 60_000, 1 << 20, Map.of("cards", "map"),
                Map.of("sp-7f3k", new Frame.SpaceInfo("editor", 97)));
        String text = FrameCodec.encode(w);
        assertEquals("{\"type\":\"welcome\",\"protocol\":2,\"user\":\"bob\",\"head\":5,\"maxBatch\":1000,\"maxAheadMillis\":60000,"
                + "\"maxFrameBytes\":1048576,\"sections\":{\"cards\":\"map\"},\"spaces\":{\"sp-7f3k\":{\"role\":\"editor\",\"head\":97}}}", text);
        assertEquals(w, FrameCodec.decode(text));
        assertNull(new Frame.Welcome(2, "bob", 5, 1000, 60_000, 1 << 20, Map.of()).spaces());
    }

    @Test
    void spaceChangesPushCaughtUpErrorSpaceLeftRoundTrip() {
        Change set = new Change.Put("cards", "a/b", "true", STAMP);
        List<Frame> frames = List.of(
                new Frame.Changes(List.of(new Frame.SeqChange(3, set)), 4, "sp-1"),
                new Frame.Push(17, List.of(set), "sp-1"),
                new Frame.CaughtUp(97, "sp-7f3k"),
                new Frame.Error(ErrorCode.NOT_A_MEMBER, "not a member", 17L, "sp-7f3k"),
                new Frame.Error(ErrorCode.FORBIDDEN, "viewer", 18L, "sp-7f3k"),
                new Frame.SpaceLeft("sp-7f3k", "removed"),
                new Frame.Presence("sp-7f3k", "bob", "laptop", "{\"cursor\":\"item-3\"}"),
                new Frame.Presence("sp-7f3k", "bob", "laptop", null));
        for (Frame f : frames) {
            assertEquals(f, FrameCodec.decode(FrameCodec.encode(f)), f.toString());
        }
        assertEquals("{\"type\":\"caught-up\",\"space\":\"sp-7f3k\",\"cursor\":97}", FrameCodec.encode(frames.get(2)));
        assertEquals("{\"type\":\"error\",\"code\":\"not-a-member\",\"message\":\"not a member\",\"batch\":17,\"space\":\"sp-7f3k\"}",
                FrameCodec.encode(frames.get(3)));
        assertEquals("{\"type\":\"space-left\",\"space\":\"sp-7f3k\",\"reason\":\"removed\"}", FrameCodec.encode(frames.get(5)));
        assertEquals("{\"type\":\"presence\",\"space\":\"sp-7f3k\",\"user\":\"bob\",\"replica\":\"laptop\",\"state\":null}",
                FrameCodec.encode(frames.get(7)));
        // the old forms are the user's own
        assertNull(new Frame.Changes(List.of(), 1).space());
        assertNull(new Frame.Push(1, List.of()).space());
        assertNull(new Frame.CaughtUp(1).space());
        assertNull(new Frame.Error(ErrorCode.UNAVAILABLE, "x", null).space());
    }

    @Test
    void spaceLeftNeedsAKnownReasonAndPresenceAState() {
        assertEquals(ErrorCode.MALFORMED_FRAME, refusal("{\"type\":\"space-left\",\"space\":\"s\",\"reason\":\"bored\"}"));
        assertEquals(ErrorCode.MALFORMED_FRAME, refusal("{\"type\":\"space-left\",\"space\":\"s\"}"));
        assertEquals(ErrorCode.MALFORMED_FRAME, refusal("{\"type\":\"presence\",\"space\":\"s\"}"));
        assertEquals(ErrorCode.MALFORMED_FRAME, refusal("{\"type\":\"presence\",\"state\":1}"));
        assertEquals(ErrorCode.MALFORMED_FRAME, refusal("{\"type\":\"presence\",\"space\":\"s t\",\"state\":1}"));
        assertEquals(ErrorCode.MALFORMED_FRAME, refusal("{\"type\":\"presence\",\"space\":\"s\",\"state\":1,\"user\":\"bob\"}"));
        assertEquals(ErrorCode.MALFORMED_FRAME, refusal("{\"type\":\"presence\",\"space\":\"s\",\"state\":1,\"extra\":0}"));
    }

    @Test
    void aPresenceStateIsCanonicalAndFollowsTheValueRules() {
        Frame.Presence p = (Frame.Presence) FrameCodec.decode("{\"type\":\"presence\",\"space\":\"s\",\"state\":{ \"a\" : 1e2 }}");
        assertEquals(new Frame.Presence("s", "{\"a\":100.0}"), p);
        assertNull(((Frame.Presence) FrameCodec.decode("{\"type\":\"presence\",\"space\":\"s\",\"state\":null}")).state());
        assertEquals(ErrorCode.INVALID_CHANGE, refusal("{\"type\":\"presence\",\"space\":\"s\",\"state\":-0}"));
        assertEquals(ErrorCode.INVALID_CHANGE, refusal("{\"type\":\"presence\",\"space\":\"s\",\"state\":"
                + "[".repeat(33) + "]".repeat(33) + "}"));
    }

    @Test
    void aPushMayNameASpaceButAClientFrameNoOtherMember() {
        Frame.Push push = (Frame.Push) FrameCodec.decode("{\"type\":\"push\",\"space\":\"sp-1\",\"batch\":1,\"changes\":[]}");
        assertEquals("sp-1", push.space());
        assertEquals(ErrorCode.MALFORMED_FRAME, refusal("{\"type\":\"push\",\"space\":\"\",\"batch\":1,\"changes\":[]}"));
        assertEquals(ErrorCode.MALFORMED_FRAME, refusal("{\"type\":\"push\",\"space\":7,\"batch\":1,\"changes\":[]}"));
        assertEquals(ErrorCode.MALFORMED_FRAME, refusal("{\"type\":\"ping\",\"space\":\"s\"}"));
        assertEquals(ErrorCode.MALFORMED_FRAME, refusal("{\"type\":\"hello\",\"protocol\":2,\"replica\":\"r\",\"cursor\":0,\"space\":\"s\"}"));
    }

    @Test
    void spacePagesAreKinds4And5WithTheSpaceIdFirst() {
        Change set = new Change.Put("cards", "a/b", "true", STAMP);
        Frame.Push push = new Frame.Push(17, List.of(set), "sp-1");
        byte[] plain = PageCodec.encodePlain(push);
        assertEquals(PageCodec.SPACE_PUSH, plain[0]);
        assertEquals(4, plain[2]); // the space id's length, then its bytes
        assertEquals("sp-1", new String(plain, 3, 4, java.nio.charset.StandardCharsets.US_ASCII));
        assertEquals(push, PageCodec.decode(plain, 1 << 20));
        assertEquals(17L, PageCodec.batchOf(plain));

        Frame.Changes changes = new Frame.Changes(List.of(new Frame.SeqChange(9, set)), 12, "sp-1");
        byte[] page = PageCodec.encodePlain(changes);
        assertEquals(PageCodec.SPACE_CHANGES, page[0]);
        assertEquals(changes, PageCodec.decode(page, 1 << 20));
        assertNull(PageCodec.batchOf(page));

        // the body of a space page after its id is the body of the kind it extends
        byte[] own = PageCodec.encodePlain(new Frame.Push(17, List.of(set)));
        assertEquals(own.length + 5, plain.length);
        assertEquals(java.util.Arrays.toString(java.util.Arrays.copyOfRange(own, 2, own.length)),
                java.util.Arrays.toString(java.util.Arrays.copyOfRange(plain, 7, plain.length)));
    }

    @Test
    void aDeflatedSpacePushStillNamesItsBatch() {
        java.util.List<Change> many = new java.util.ArrayList<>();
        for (int i = 0; i < 40; i++) {
            many.add(new Change.Put("cards", "card-" + i + "/isExpanded", "true", STAMP));
        }
        String id = "s".repeat(64);
        byte[] page = PageCodec.encode(new Frame.Push(123456789L, many, id));
        assertEquals(1, page[1], "deflated");
        assertEquals(123456789L, PageCodec.batchOf(page));
        assertEquals(id, ((Frame.Push) PageCodec.decode(page, 1 << 20)).space());
    }

    @Test
    void aSpacePageWithAnInvalidSpaceIdIsMalformed() {
        byte[] page = {5, 0, 3, 'a', ' ', 'b', 1, 0, 0};
        ProtocolException e = assertThrows(ProtocolException.class, () -> PageCodec.decode(page, 1 << 20));
        assertEquals(ErrorCode.MALFORMED_FRAME, e.code());
        assertNull(e.batch());
        byte[] empty = {4, 0, 0, 1, 0, 0};
        assertEquals(ErrorCode.MALFORMED_FRAME, assertThrows(ProtocolException.class, () -> PageCodec.decode(empty, 1 << 20)).code());
    }
}
