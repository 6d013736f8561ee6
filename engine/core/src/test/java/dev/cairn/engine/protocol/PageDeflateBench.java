package dev.cairn.engine.protocol;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.Deflater;

/**
 * Time and size of deflating one catch-up page of 1,000 changes at zlib's default level (6) and at
 * its fastest (1, what {@link PageCodec} uses): a page of the browser bench's map entries and one of
 * its 80-character chat messages. Not a test: run by hand (BENCHMARKS.md, session 12) after
 * {@code mvn -q -o test-compile -pl engine/core}:
 * <pre>java -cp engine/core/target/classes:engine/core/target/test-classes dev.cairn.engine.protocol.PageDeflateBench</pre>
 */
public final class PageDeflateBench {

    private PageDeflateBench() {
    }

    public static void main(String[] args) {
        long hlc = 1_700_000_000_000L << 16;
        List<Frame.SeqChange> map = new ArrayList<>();
        List<Frame.SeqChange> chat = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            Stamp stamp = new Stamp(hlc + i, "bench-seed-replica");
            map.add(new Frame.SeqChange(i + 1, new Change.Put("state", "k" + i, "\"value-" + i + "\"", stamp)));
            String text = ("message " + i + " lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt")
                    .substring(0, 80);
            chat.add(new Frame.SeqChange(i + 1, new Change.Append("chat", "conv-1",
                    "{\"role\":\"" + (i % 2 == 0 ? "user" : "assistant") + "\",\"text\":\"" + text + "\"}", stamp)));
        }
        for (var page : List.of(List.of("map", map), List.of("chat", chat))) {
            @SuppressWarnings("unchecked")
            byte[] plain = PageCodec.encodePlain(new Frame.Changes((List<Frame.SeqChange>) page.get(1), 1000, null));
            for (int level : new int[] {Deflater.DEFAULT_COMPRESSION, Deflater.BEST_SPEED, Deflater.DEFAULT_COMPRESSION, Deflater.BEST_SPEED}) {
                int size = 0;
                long start = System.nanoTime();
                for (int r = 0; r < 3000; r++) {
                    size = deflate(plain, level);
                }
                System.out.printf("%s page, %,d bytes plain, level %s: %.0f us per page, %,d bytes%n", page.get(0), plain.length,
                        level == Deflater.BEST_SPEED ? "1" : "6 (default)", (System.nanoTime() - start) / 3000 / 1e3, size);
            }
        }
    }

    private static int deflate(byte[] plain, int level) {
        Deflater d = new Deflater(level, true);
        try {
            d.setInput(plain, 2, plain.length - 2);
            d.finish();
            byte[] out = new byte[plain.length];
            int n = 0;
            while (!d.finished() && n < out.length) {
                n += d.deflate(out, n, out.length - n);
            }
            return n;
        } finally {
            d.end();
        }
    }
}
