package dev.cairn.engine.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

/** hello's {@code versions} and the version a server picks (PROTOCOL.md 7.1). */
class NegotiationTest {

    @Test
    void aHelloWithoutVersionsOffersOnlyItsProtocol() {
        Frame.Hello v1 = (Frame.Hello) FrameCodec.decode("{\"type\":\"hello\",\"protocol\":1,\"replica\":\"a\",\"cursor\":0}");
        assertNull(v1.versions());
        assertEquals(1, v1.negotiate(Frame.SUPPORTED_VERSIONS));
        assertEquals(-1, v1.negotiate(List.of(2)), "a server without v1 speaks nothing this client offers");
    }

    @Test
    void theServerPicksTheHighestVersionBothSpeak() {
        Frame.Hello hello = (Frame.Hello) FrameCodec.decode("{\"type\":\"hello\",\"protocol\":1,\"replica\":\"a\",\"cursor\":5,\"versions\":[1,2,7]}");
        assertEquals(List.of(1, 2, 7), hello.versions());
        assertEquals(2, hello.negotiate(Frame.SUPPORTED_VERSIONS));
        assertEquals(1, hello.negotiate(List.of(1)));
        assertEquals(hello, FrameCodec.decode(FrameCodec.encode(hello)), "versions survive a round trip");
    }

    @Test
    void badVersionsAreMalformed() {
        for (String versions : List.of("[]", "[2]", "\"1,2\"", "[1,\"2\"]", "[1,2.5]", "[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]")) {
            ProtocolException e = assertThrows(ProtocolException.class, () -> FrameCodec.decode(
                    "{\"type\":\"hello\",\"protocol\":1,\"replica\":\"a\",\"cursor\":0,\"versions\":" + versions + "}"), versions);
            assertEquals(ErrorCode.MALFORMED_FRAME, e.code(), versions);
        }
    }

    @Test
    void batchOfReadsOnlyAPushPagesHead() {
        Frame.Push push = new Frame.Push(123_456_789L, List.of());
        assertEquals(123_456_789L, PageCodec.batchOf(PageCodec.encode(push)));
        assertNull(PageCodec.batchOf(PageCodec.encode(new Frame.Ack(4))), "an ack is not a push");
        assertNull(PageCodec.batchOf(new byte[] {2, 1, (byte) 0xff}), "broken before its batch");
    }
}
