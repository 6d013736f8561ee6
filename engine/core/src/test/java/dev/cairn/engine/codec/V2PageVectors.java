package dev.cairn.engine.codec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.FrameCodec;
import dev.cairn.engine.protocol.PageCodec;
import dev.cairn.engine.protocol.PageTooLargeException;
import dev.cairn.engine.protocol.ProtocolException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;

/** {@code spec/vectors/v2-pages.json} (PROTOCOL.md 7): pages' exact bytes, and the pages a decoder must refuse. */
final class V2PageVectors {

    private V2PageVectors() {
    }

    static Stream<DynamicNode> cases(JsonNode root) {
        long max = root.path("maxFrameBytes").asLong();
        List<DynamicNode> out = new ArrayList<>();
        for (JsonNode c : root.get("cases")) {
            String name = c.path("name").asText();
            if (c.has("refused")) {
                byte[] page = HexFormat.of().parseHex(c.get("refused").asText());
                String code = c.path("code").asText();
                out.add(DynamicTest.dynamicTest(name + " refused (" + code + ")", () -> refused(page, max, code, c.get("batch"))));
            } else {
                Frame frame = FrameCodec.decode(c.get("frame").toString());
                byte[] plain = HexFormat.of().parseHex(c.get("plain").asText());
                byte[] page = HexFormat.of().parseHex(c.get("page").asText());
                out.add(DynamicTest.dynamicTest(name, () -> {
                    assertArrayEquals(plain, PageCodec.encodePlain(frame), "the uncompressed page, byte for byte");
                    assertArrayEquals(page, PageCodec.encode(frame), "the page as sent (zlib raw deflate, level 1, when smaller)");
                    assertEquals(frame, PageCodec.decode(plain, max), "the uncompressed page decodes to the frame");
                    assertEquals(frame, PageCodec.decode(page, max), "the page as sent decodes to the frame");
                    assertEquals(c.get("frame").toString(), FrameCodec.encode(PageCodec.decode(page, max)), "values come back exactly as written");
                }));
            }
        }
        return out.stream();
    }

    private static void refused(byte[] page, long max, String code, JsonNode batch) {
        try {
            Frame f = PageCodec.decode(page, max);
            fail("accepted a page that must be refused with " + code + ": " + f);
        } catch (PageTooLargeException e) {
            assertEquals(code, "too-large", "refused as too large: " + e.getMessage());
        } catch (ProtocolException e) {
            assertEquals(code, e.code().wire(), e.getMessage());
            assertEquals(batch == null ? null : batch.asLong(), e.batch(), "the batch the error names");
            if (e.getMessage() == null || e.getMessage().isBlank()) {
                fail("refused without a message");
            }
        }
    }
}
