package dev.cairn.engine.fuzz;

import dev.cairn.engine.protocol.ErrorCode;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.FrameCodec;
import dev.cairn.engine.protocol.ProtocolException;
import net.jqwik.api.Example;

/**
 * Fuzzes {@link FrameCodec#decode}: only a {@link ProtocolException} with {@code malformed-frame}
 * or {@code invalid-change} and a message may escape, no input takes over a second, and a frame it
 * accepts encodes and decodes back to itself.
 */
class FrameCodecFuzzTest {

    @Example // jqwik, not JUnit: its generators only run on a jqwik thread
    void decoderRefusesHostileFramesWithTheDeclaredError() {
        Mutator mutator = new Mutator(ValidInputs.samples(ValidInputs.FRAME_TEXT, 64, 1), 64 << 10, 1 << 20);
        new FuzzLoop<>("FrameCodecFuzzTest", new Corpus("frame-codec"), FuzzLoop.Format.TEXT,
                FuzzLoop.mutationsOf(ValidInputs.FRAME_TEXT, mutator), FrameCodecFuzzTest::decode, 2500).run();
    }

    static boolean decode(String text) {
        Frame frame;
        try {
            frame = FrameCodec.decode(text);
        } catch (ProtocolException e) {
            Declared.message(e);
            // clock-skew: a stamp with its top bit set is well formed, only too far ahead (PROTOCOL.md 1.1)
            if (e.code() != ErrorCode.MALFORMED_FRAME && e.code() != ErrorCode.INVALID_CHANGE && e.code() != ErrorCode.CLOCK_SKEW) {
                throw new AssertionError("decode refused with code " + e.code() + ", not malformed-frame, invalid-change or clock-skew");
            }
            return false;
        }
        Frame again = FrameCodec.decode(FrameCodec.encode(frame));
        if (!again.equals(frame)) {
            throw new AssertionError("round trip changed an accepted frame: " + frame + " became " + again);
        }
        return true;
    }
}
