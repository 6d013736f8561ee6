package dev.cairn.engine.fuzz;

import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.protocol.ErrorCode;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.PageCodec;
import dev.cairn.engine.protocol.PageTooLargeException;
import dev.cairn.engine.protocol.ProtocolException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.zip.Deflater;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;

/**
 * Fuzzes {@link PageCodec#decode}, the v2 binary pages (PROTOCOL.md 7): only a
 * {@link ProtocolException} ({@code malformed-frame}, {@code invalid-change} or {@code clock-skew})
 * with a message, or a {@link PageTooLargeException}, may escape; no input takes over a second;
 * a page it accepts encodes and decodes back to itself. Inputs: valid pages, and mutations of
 * them and of the corpus at the byte level, some made inside the page and compressed again (so
 * they reach the decoder through the inflater), some with a length field set to 2^31 or with a
 * deflate bomb (the limit here is 64 KiB, so inflating is bounded by it).
 */
public class PageCodecFuzzTest {

    private static final long MAX_FRAME_BYTES = 64 << 10;

    private static final Arbitrary<Frame> PAGES = Arbitraries.oneOf(
            Combinators.combine(Arbitraries.longs().between(0, (1L << 53) - 1), ValidInputs.CHANGES.list().ofMaxSize(12)).as(Frame.Push::new),
            Combinators.combine(Arbitraries.longs().between(1, 1000).list().ofMaxSize(12), ValidInputs.CHANGES.list().ofMinSize(12).ofMaxSize(12),
                    Arbitraries.longs().between(0, 1 << 20)).as(PageCodecFuzzTest::changesPage),
            Arbitraries.longs().between(0, (1L << 53) - 1).map(Frame.Ack::new));

    /** A changes page: seqs from increasing deltas, as a server sends them. */
    private static Frame changesPage(List<Long> deltas, List<Change> changes, long cursor) {
        List<Frame.SeqChange> out = new ArrayList<>();
        long seq = 0;
        for (int i = 0; i < deltas.size(); i++) {
            seq += deltas.get(i);
            out.add(new Frame.SeqChange(seq, changes.get(i)));
        }
        return new Frame.Changes(out, cursor);
    }

    @Example // jqwik, not JUnit: its generators only run on a jqwik thread
    void decoderRefusesHostilePagesWithTheDeclaredError() {
        new FuzzLoop<>("PageCodecFuzzTest", new Corpus("page-codec"), FuzzLoop.Format.BYTES,
                PageCodecFuzzTest::input, PageCodecFuzzTest::decode, 2500).run();
    }

    /** A valid page, a mutation of one or of a corpus entry, or a deflate bomb (also the server's socket fuzzer's inputs). */
    public static byte[] input(Random r, List<byte[]> corpus) {
        int k = r.nextInt(10);
        Frame frame = ValidInputs.draw(PAGES, r);
        if (k == 0) {
            return PageCodec.encode(frame);
        }
        if (k <= 3 && !corpus.isEmpty()) {
            return mutate(corpus.get(r.nextInt(corpus.size())), r);
        }
        if (k <= 5) {
            return mutate(PageCodec.encode(frame), r);
        }
        if (k <= 8) {
            // Mutated inside, then deflated again: the damage reaches the body through the inflater.
            byte[] plain = mutate(PageCodec.encodePlain(frame), r);
            return plain.length < 2 ? plain : deflated(plain, plain.length - 2 + r.nextInt(3) - 1);
        }
        // A deflate bomb: a small stream of zeros far longer than the declared length or the limit.
        byte[] bomb = new byte[1 + r.nextInt(2 << 20)];
        byte[] header = {(byte) (1 + r.nextInt(3)), 0};
        byte[] page = concat(header, bomb);
        return deflated(page, r.nextBoolean() ? page.length - 2 : r.nextInt(1 << 17));
    }

    /** The page's body as raw deflate, declaring {@code declared} inflated bytes. */
    private static byte[] deflated(byte[] plain, int declared) {
        Deflater d = new Deflater(Deflater.BEST_COMPRESSION, true);
        d.setInput(plain, 2, plain.length - 2);
        d.finish();
        byte[] out = new byte[plain.length / 4 + 1024];
        int n = 0;
        while (!d.finished()) {
            if (n == out.length) {
                out = Arrays.copyOf(out, out.length * 2);
            }
            n += d.deflate(out, n, out.length - n);
        }
        d.end();
        byte[] header = {plain[0], 1};
        return concat(concat(header, varint(Math.max(0, declared))), Arrays.copyOf(out, n));
    }

    private static byte[] mutate(byte[] page, Random r) {
        byte[] out = page.clone();
        int times = 1 + r.nextInt(4);
        for (int t = 0; t < times && out.length > 0; t++) {
            int at = r.nextInt(out.length);
            switch (r.nextInt(6)) {
                case 0 -> out[at] = (byte) r.nextInt(256);
                case 1 -> out[at] ^= (byte) (1 << r.nextInt(8));
                case 2 -> out = Arrays.copyOf(out, at); // truncate
                case 3 -> out = concat(concat(Arrays.copyOf(out, at), varint(r.nextBoolean() ? 1L << 31 : (1L << 53) - 1)),
                        Arrays.copyOfRange(out, at, out.length)); // a huge length or count
                case 4 -> out = concat(Arrays.copyOf(out, at), Arrays.copyOfRange(out, Math.min(out.length, at + 1 + r.nextInt(8)), out.length));
                default -> out = concat(out, Arrays.copyOfRange(out, at, out.length)); // repeat a tail
            }
        }
        return out;
    }

    private static byte[] varint(long v) {
        byte[] b = new byte[10];
        int n = 0;
        while (v >= 0x80) {
            b[n++] = (byte) (v | 0x80);
            v >>>= 7;
        }
        b[n++] = (byte) v;
        return Arrays.copyOf(b, n);
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    static boolean decode(byte[] page) {
        Frame frame;
        try {
            frame = PageCodec.decode(page, MAX_FRAME_BYTES);
        } catch (PageTooLargeException e) {
            Declared.message(e);
            return false;
        } catch (ProtocolException e) {
            Declared.message(e);
            if (e.code() != ErrorCode.MALFORMED_FRAME && e.code() != ErrorCode.INVALID_CHANGE && e.code() != ErrorCode.CLOCK_SKEW) {
                throw new AssertionError("decode refused with code " + e.code() + ", not malformed-frame, invalid-change or clock-skew");
            }
            return false;
        }
        Frame again = PageCodec.decode(PageCodec.encode(frame), MAX_FRAME_BYTES);
        if (!again.equals(frame)) {
            throw new AssertionError("round trip changed an accepted page: " + frame + " became " + again);
        }
        return true;
    }
}
