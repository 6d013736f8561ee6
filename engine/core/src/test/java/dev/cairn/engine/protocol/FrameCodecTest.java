package dev.cairn.engine.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** welcome.sections and the rule for members a frame type does not define (PROTOCOL.md 3, 3.1). */
class FrameCodecTest {

    private static final String WELCOME = "{\"type\":\"welcome\",\"protocol\":1,\"user\":\"alice\",\"head\":5,\"maxBatch\":1000,"
            + "\"maxAheadMillis\":60000,\"maxFrameBytes\":1048576";

    @Test
    void welcomeSectionsRoundTripSorted() {
        Frame.Welcome w = new Frame.Welcome(1, "alice", 5, 1000, 60_000, 1 << 20, Map.of("chat", "log", "cards", "map"));
        String text = FrameCodec.encode(w);
        assertEquals(WELCOME + ",\"sections\":{\"cards\":\"map\",\"chat\":\"log\"}}", text);
        assertEquals(w, FrameCodec.decode(text));
    }

    @Test
    void aWelcomeWithoutSectionsStillDecodesAndEncodesWithout() {
        Frame.Welcome w = (Frame.Welcome) FrameCodec.decode(WELCOME + "}");
        assertNull(w.sections());
        assertEquals(WELCOME + "}", FrameCodec.encode(w));
        assertEquals(w, new Frame.Welcome(1, "alice", 5, 1000, 60_000, 1 << 20));
    }

    @Test
    void serverFramesIgnoreMembersTheyDoNotDefine() {
        Frame.Welcome w = (Frame.Welcome) FrameCodec.decode(WELCOME + ",\"future\":{\"x\":[1,{}]},\"sections\":{\"a\":\"map\"}}");
        assertEquals(Map.of("a", "map"), w.sections());
        assertEquals(new Frame.Ack(3), FrameCodec.decode("{\"type\":\"ack\",\"batch\":3,\"note\":\"x\"}"));
    }

    @Test
    void clientFramesRefuseMembersTheyDoNotDefineEvenOnesOtherTypesDefine() {
        for (String bad : new String[] {
            "{\"type\":\"hello\",\"protocol\":1,\"replica\":\"r\",\"cursor\":0,\"user\":\"mallory\"}",
            "{\"type\":\"hello\",\"protocol\":1,\"replica\":\"r\",\"cursor\":0,\"extra\":true}",
            "{\"type\":\"push\",\"batch\":1,\"changes\":[],\"cursor\":3}",
            "{\"type\":\"ping\",\"batch\":1}",
        }) {
            ProtocolException e = assertThrows(ProtocolException.class, () -> FrameCodec.decode(bad), bad);
            assertEquals(ErrorCode.MALFORMED_FRAME, e.code(), bad);
            assertTrue(e.getMessage().contains("unknown field"), e.getMessage());
        }
    }

    @Test
    void malformedSectionsAreRefused() {
        assertThrows(ProtocolException.class, () -> FrameCodec.decode(WELCOME + ",\"sections\":[\"cards\"]}"));
        assertThrows(ProtocolException.class, () -> FrameCodec.decode(WELCOME + ",\"sections\":{\"cards\":1}}"));
    }

    @Test
    void aStampWithTheTopBitSetIsClockSkewNotInvalid() {
        ProtocolException e = assertThrows(ProtocolException.class, () -> FrameCodec.decode(
                "{\"type\":\"push\",\"batch\":1,\"changes\":[{\"op\":\"set\",\"section\":\"ui\",\"key\":\"k\",\"value\":1,\"stamp\":\"8000000000000000@r\"}]}"));
        assertEquals(ErrorCode.CLOCK_SKEW, e.code());
    }

    @Test
    void aPushBatchIdIsFrom0To2Pow53Minus1() {
        assertEquals(0L, ((Frame.Push) FrameCodec.decode("{\"type\":\"push\",\"batch\":0,\"changes\":[]}")).batch());
        assertEquals(9007199254740991L, ((Frame.Push) FrameCodec.decode("{\"type\":\"push\",\"batch\":9007199254740991,\"changes\":[]}")).batch());
        for (String batch : new String[] {"-1", "9007199254740992", "9223372036854775807"}) {
            ProtocolException e = assertThrows(ProtocolException.class,
                    () -> FrameCodec.decode("{\"type\":\"push\",\"batch\":" + batch + ",\"changes\":[]}"), batch);
            assertEquals(ErrorCode.MALFORMED_FRAME, e.code());
        }
    }
}
