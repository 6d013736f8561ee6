package dev.cairn.engine.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Bytes per change of a W3 catch-up (PROTOCOL.md 7; target: at most 20 bytes per change), v2
 * pages against v1 JSON frames, with the real encoders, and every page decoded back to itself.
 */
class PageSizeTest {

    @Test
    void w3CatchUpTakesAtMost20BytesPerChangeInV2Pages() {
        List<Frame.Changes> pages = W3Pages.pages(100_000, 20_000, 1000);
        long changes = 0;
        long v1 = 0;
        long v2 = 0;
        long v2Plain = 0;
        long mapV2 = 0;
        long chatV2 = 0;
        long t0 = System.nanoTime();
        for (Frame.Changes page : pages) {
            byte[] encoded = PageCodec.encode(page);
            v2 += encoded.length;
            v2Plain += PageCodec.encodePlain(page).length;
            if (page.changes().get(0).change() instanceof dev.cairn.engine.crdt.Change.Put) {
                mapV2 += encoded.length;
            } else {
                chatV2 += encoded.length;
            }
            changes += page.changes().size();
            assertEquals(page, PageCodec.decode(encoded, 1 << 20));
        }
        long nanos = System.nanoTime() - t0;
        for (Frame.Changes page : pages) {
            v1 += FrameCodec.encode(page).getBytes(StandardCharsets.UTF_8).length;
        }
        double perChange = (double) v2 / changes;
        System.out.printf("W3 catch-up, %d changes in %d pages: v1 JSON %,d bytes (%.1f/change); v2 plain %,d bytes (%.1f/change); "
                        + "v2 deflated %,d bytes (%.2f/change; map pages %.2f, chat pages %.2f); encode+decode %.0f ms%n",
                changes, pages.size(), v1, (double) v1 / changes, v2Plain, (double) v2Plain / changes, v2, perChange,
                mapV2 / 100_000.0, chatV2 / 20_000.0, nanos / 1e6);
        assertTrue(perChange <= 20, "W3 in v2 pages takes " + perChange + " bytes per change; the target is 20");
    }
}
