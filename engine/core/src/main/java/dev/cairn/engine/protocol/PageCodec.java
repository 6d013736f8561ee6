package dev.cairn.engine.protocol;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.codec.CanonicalScan;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.crdt.Change;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;

/**
 * The binary pages of protocol v2 (PROTOCOL.md 7): {@code changes}, {@code push} and {@code ack}
 * frames as one binary WebSocket message each. A page names each section, replica id, key prefix
 * and stream once (its string table), carries stamps as numbers delta-encoded within the page and
 * values as their canonical JSON bytes, and is compressed with raw deflate when that is smaller.
 * A space's pages (kinds 4 and 5, PROTOCOL.md 8.3) are its id followed by a kind 1 or 2 body.
 *
 * <p>Decoding is as strict as {@link FrameCodec}: a page that breaks the format is a
 * {@code malformed-frame} {@link ProtocolException}, a bad change inside it {@code invalid-change}
 * (or {@code clock-skew}) naming the change's index, and a page larger than the limit, on the wire
 * or inflated, a {@link PageTooLargeException}; nothing else escapes, and no length in a page
 * makes the decoder allocate more than the limit.
 */
public final class PageCodec {

    /** Page kinds, the first byte. */
    static final int CHANGES = 1;
    static final int PUSH = 2;
    static final int ACK = 3;
    /** A space's changes and push (PROTOCOL.md 8.3): the space id, then a kind 1 or 2 body. */
    static final int SPACE_CHANGES = 4;
    static final int SPACE_PUSH = 5;
    /** Encodings, the second byte. */
    static final int PLAIN = 0;
    static final int DEFLATE_RAW = 1;
    /** Ops, one byte per change. */
    private static final int OP_SET = 0;
    private static final int OP_DELETE = 1;
    private static final int OP_APPEND = 2;
    private static final int OP_CLEAR_STREAM = 3;
    private static final int OP_CLEAR_SECTION = 4;
    /** Stamps' millis: 48 bits; the top one set is a stamp too far ahead (PROTOCOL.md 1.1). */
    private static final long MILLIS_LIMIT = 1L << 48;

    private PageCodec() {
    }

    /** True for the frame types v2 carries in binary pages; the others stay JSON text. */
    public static boolean carries(Frame frame) {
        return frame instanceof Frame.Changes || frame instanceof Frame.Push || frame instanceof Frame.Ack;
    }

    /** The page, compressed when that is smaller. */
    public static byte[] encode(Frame frame) {
        return compress(encodePlain(frame));
    }

    /** The page uncompressed: its size is what counts against {@code maxFrameBytes} (PROTOCOL.md 7.4). */
    public static byte[] encodePlain(Frame frame) {
        if (frame instanceof Frame.Ack ack) {
            PageBytes out = new PageBytes(16);
            out.write(ACK);
            out.write(PLAIN);
            out.varint(ack.batch());
            return out.toByteArray();
        }
        StringTable table = new StringTable();
        PageBytes entries = new PageBytes(1024);
        int kind;
        long head;
        String space;
        List<Change> changes = new ArrayList<>();
        List<Long> seqs = null;
        if (frame instanceof Frame.Changes page) {
            space = page.space();
            kind = space == null ? CHANGES : SPACE_CHANGES;
            head = page.cursor();
            seqs = new ArrayList<>(page.changes().size());
            for (Frame.SeqChange c : page.changes()) {
                seqs.add(c.seq());
                changes.add(c.change());
            }
        } else if (frame instanceof Frame.Push push) {
            space = push.space();
            kind = space == null ? PUSH : SPACE_PUSH;
            head = push.batch();
        } else {
            throw new IllegalArgumentException("v2 pages carry changes, push and ack frames, not " + frame.type().wire());
        }
        if (frame instanceof Frame.Push push) {
            changes.addAll(push.changes());
        }
        long prevSeq = 0;
        long prevMillis = 0;
        for (int i = 0; i < changes.size(); i++) {
            Change c = changes.get(i);
            if (seqs != null) {
                long seq = seqs.get(i);
                entries.varint(seq - prevSeq);
                prevSeq = seq;
            }
            int op = op(c);
            entries.write(op);
            entries.varint(table.index(c.section()));
            if (op != OP_CLEAR_SECTION) {
                writeTarget(entries, table, c, op == OP_SET || op == OP_DELETE);
            }
            entries.varint(table.index(c.stamp().replica()));
            long millis = c.stamp().millis();
            entries.zigzag(millis - prevMillis);
            prevMillis = millis;
            entries.varint(c.stamp().counter());
            String value = c instanceof Change.Put p ? p.value() : c instanceof Change.Append a ? a.value() : null;
            if (value != null) {
                entries.string(value);
            }
        }
        PageBytes out = new PageBytes(entries.size() + table.bytes + 32);
        out.write(kind);
        out.write(PLAIN);
        if (space != null) {
            out.string(space);
        }
        out.varint(head);
        out.varint(changes.size());
        out.varint(table.strings.size());
        for (String s : table.strings.keySet()) {
            out.string(s);
        }
        out.write(entries.array(), 0, entries.size());
        return out.toByteArray();
    }

    private static int op(Change c) {
        if (c instanceof Change.Put p) {
            return p.isDelete() ? OP_DELETE : OP_SET;
        }
        if (c instanceof Change.Append) {
            return OP_APPEND;
        }
        return ((Change.Clear) c).isWholeSection() ? OP_CLEAR_SECTION : OP_CLEAR_STREAM;
    }

    /** A key as its prefix up to the last '/' (in the table) and the rest inline; a stream whole, in the table. */
    private static void writeTarget(PageBytes out, StringTable table, Change c, boolean isKey) {
        String target = c.target();
        int cut = isKey ? target.lastIndexOf('/') + 1 : target.length();
        if (cut == 0) {
            out.varint(0);
            out.string(target);
        } else {
            out.varint(table.index(target.substring(0, cut)) + 1L);
            out.string(target.substring(cut));
        }
    }

    /** Raw deflate of the body after the two header bytes, kept only when the page gets smaller. */
    static byte[] compress(byte[] plain) {
        int bodyLength = plain.length - 2;
        if (bodyLength < 64) {
            return plain; // too small to gain anything
        }
        // zlib's fastest level: a catch-up page of 1,000 changes deflates 4-5x faster than at the
        // default level and comes out under 3% larger (BENCHMARKS.md, session 12).
        Deflater deflater = new Deflater(Deflater.BEST_SPEED, true);
        try {
            deflater.setInput(plain, 2, bodyLength);
            deflater.finish();
            byte[] out = new byte[plain.length];
            int header = 2 + PageBytes.varintLength(bodyLength);
            int n = header;
            while (!deflater.finished() && n < out.length) {
                n += deflater.deflate(out, n, out.length - n);
            }
            if (!deflater.finished()) {
                return plain; // not smaller
            }
            out[0] = plain[0];
            out[1] = DEFLATE_RAW;
            PageBytes len = new PageBytes(8);
            len.varint(bodyLength);
            System.arraycopy(len.array(), 0, out, 2, len.size());
            return java.util.Arrays.copyOf(out, n);
        } finally {
            deflater.end();
        }
    }

    /**
     * Decodes one binary page.
     *
     * @param maxFrameBytes the receiver's limit: the page on the wire and inflated must each be within it
     */
    public static Frame decode(byte[] page, long maxFrameBytes) {
        if (page.length > maxFrameBytes) {
            throw new PageTooLargeException(page.length, maxFrameBytes, "the page");
        }
        if (page.length < 2) {
            throw new ProtocolException(ErrorCode.MALFORMED_FRAME, "a v2 page has at least 2 bytes (kind, encoding), got " + page.length);
        }
        int kind = page[0] & 0xff;
        if (kind < CHANGES || kind > SPACE_PUSH) {
            throw new ProtocolException(ErrorCode.MALFORMED_FRAME, "unknown v2 page kind " + kind);
        }
        PageReader body = switch (page[1] & 0xff) {
            case PLAIN -> new PageReader(page, 2, page.length);
            case DEFLATE_RAW -> inflate(page, maxFrameBytes);
            default -> throw new ProtocolException(ErrorCode.MALFORMED_FRAME, "unknown v2 page encoding " + (page[1] & 0xff));
        };
        Frame frame = switch (kind) {
            case ACK -> new Frame.Ack(body.varint("the ack's batch"));
            case PUSH -> readPush(body, null);
            case SPACE_PUSH -> readPush(body, readSpace(body));
            case SPACE_CHANGES -> readChanges(body, readSpace(body));
            default -> readChanges(body, null);
        };
        if (!body.atEnd()) {
            throw body.malformed(body.remaining() + " bytes after the end of the page");
        }
        return frame;
    }

    /**
     * Best effort, for an error about a page that is not decoded (rate-limited): the batch of a
     * push page, reading (and inflating) no more than its first bytes; null if there is none.
     */
    public static Long batchOf(byte[] page) {
        int kind = page.length < 3 ? 0 : page[0] & 0xff;
        if (kind != PUSH && kind != SPACE_PUSH) {
            return null;
        }
        try {
            if (page[1] == PLAIN) {
                PageReader plain = new PageReader(page, 2, page.length);
                if (kind == SPACE_PUSH) {
                    plain.utf8("space id");
                }
                return plain.varint("batch");
            }
            if (page[1] != DEFLATE_RAW) {
                return null;
            }
            PageReader header = new PageReader(page, 2, page.length);
            header.varint("the inflated length");
            int start = page.length - header.remaining();
            Inflater inflater = new Inflater(true);
            try {
                inflater.setInput(page, start, page.length - start);
                // a space id (at most 64 bytes and its length) comes before a space push's batch
                byte[] head = new byte[kind == SPACE_PUSH ? 1 + 64 + 8 : 8];
                int n = inflater.inflate(head);
                PageReader r = new PageReader(head, 0, n);
                if (kind == SPACE_PUSH) {
                    r.utf8("space id");
                }
                return r.varint("batch");
            } finally {
                inflater.end();
            }
        } catch (ProtocolException | DataFormatException e) {
            return null;
        }
    }

    /** Inflates into exactly the declared length, refused before allocating if that is over the limit. */
    private static PageReader inflate(byte[] page, long maxFrameBytes) {
        PageReader header = new PageReader(page, 2, page.length);
        long declared = header.varint("the inflated length");
        if (declared + 2 > maxFrameBytes) {
            throw new PageTooLargeException(declared + 2, maxFrameBytes, "the inflated page");
        }
        int start = page.length - header.remaining();
        byte[] out = new byte[(int) declared];
        Inflater inflater = new Inflater(true);
        try {
            inflater.setInput(page, start, page.length - start);
            int n = 0;
            while (n < out.length && !inflater.finished()) {
                int got = inflater.inflate(out, n, out.length - n);
                if (got == 0 && (inflater.needsInput() || inflater.needsDictionary())) {
                    throw new ProtocolException(ErrorCode.MALFORMED_FRAME, "the deflated page ends before its declared length " + declared);
                }
                n += got;
            }
            if (n < out.length) {
                throw new ProtocolException(ErrorCode.MALFORMED_FRAME, "the deflated page inflates to " + n + " bytes, not its declared " + declared);
            }
            if (!inflater.finished() && inflater.inflate(new byte[1]) > 0) {
                throw new ProtocolException(ErrorCode.MALFORMED_FRAME, "the deflated page inflates to more than its declared length " + declared);
            }
            if (!inflater.finished() || inflater.getRemaining() > 0) {
                throw new ProtocolException(ErrorCode.MALFORMED_FRAME, "the deflated page does not end where its deflate stream ends");
            }
        } catch (DataFormatException e) {
            throw new ProtocolException(ErrorCode.MALFORMED_FRAME, "the page is not valid raw deflate");
        } finally {
            inflater.end();
        }
        return new PageReader(out, 0, out.length);
    }

    /** A space page's space id (PROTOCOL.md 8.3): one that is not valid is {@code malformed-frame}. */
    private static String readSpace(PageReader in) {
        String space = in.utf8("the space id");
        if (!Frame.isValidSpaceId(space)) {
            throw in.malformed("the space id is not 1-64 characters of A-Z a-z 0-9 - _");
        }
        return space;
    }

    private static Frame readPush(PageReader in, String space) {
        long batch = in.varint("the push's batch");
        in.batch = batch;
        return new Frame.Push(batch, readEntries(in, false).changes, space);
    }

    private static Frame readChanges(PageReader in, String space) {
        long cursor = in.varint("the page's cursor");
        Entries e = readEntries(in, true);
        List<Frame.SeqChange> out = new ArrayList<>(e.changes.size());
        for (int i = 0; i < e.changes.size(); i++) {
            out.add(new Frame.SeqChange(e.seqs[i], e.changes.get(i)));
        }
        return new Frame.Changes(out, cursor, space);
    }

    private record Entries(List<Change> changes, long[] seqs) {
    }

    private static Entries readEntries(PageReader in, boolean sequenced) {
        int count = in.length("the change count"); // every change takes at least one byte
        int n = in.length("the string count");
        String[] strings = new String[n];
        for (int i = 0; i < n; i++) {
            strings[i] = in.utf8("string " + i);
        }
        List<Change> changes = new ArrayList<>(Math.min(count, 1024));
        long[] seqs = sequenced ? new long[count] : null;
        long seq = 0;
        long millis = 0;
        for (int i = 0; i < count; i++) {
            String at = "change " + i;
            if (sequenced) {
                long delta = in.varint(at + "'s seq");
                if (delta == 0 || seq + delta > PageReader.MAX_INT) {
                    throw in.malformed(at + ": seqs must increase within a page, up to 2^53 - 1");
                }
                seq += delta;
                seqs[i] = seq;
            }
            int op = in.u8(at + "'s op");
            if (op > OP_CLEAR_SECTION) {
                throw in.malformed(at + ": unknown op " + op);
            }
            String section = string(in, strings, at + "'s section");
            String target = op == OP_CLEAR_SECTION ? Change.Clear.WHOLE_SECTION : target(in, strings, at);
            String replica = string(in, strings, at + "'s replica");
            millis += in.zigzag(at + "'s millis");
            if (millis < 0 || millis >= MILLIS_LIMIT) {
                throw in.malformed(at + ": the stamp's millis is out of the 48-bit range");
            }
            long counter = in.varint(at + "'s counter");
            if (counter > Stamp.COUNTER_MASK) {
                throw in.malformed(at + ": the stamp's counter is out of the 16-bit range");
            }
            String value = op == OP_SET || op == OP_APPEND ? in.utf8(at + "'s value") : null;
            changes.add(change(in, i, op, section, target, replica, millis, (int) counter, value));
        }
        return new Entries(changes, seqs);
    }

    private static String target(PageReader in, String[] strings, String at) {
        long prefix = in.varint(at + "'s prefix");
        if (prefix > strings.length) {
            throw in.malformed(at + "'s prefix names string " + (prefix - 1) + " of " + strings.length);
        }
        String rest = in.utf8(at + "'s key or stream");
        return prefix == 0 ? rest : strings[(int) prefix - 1] + rest;
    }

    private static String string(PageReader in, String[] strings, String what) {
        long i = in.varint(what);
        if (i >= strings.length) {
            throw in.malformed(what + " names string " + i + " of " + strings.length);
        }
        return strings[(int) i];
    }

    /** Builds and checks one change exactly as a v1 change is checked; its errors name its index. */
    private static Change change(PageReader in, int index, int op, String section, String target, String replica,
                                 long millis, int counter, String value) {
        if (millis > Stamp.MAX_MILLIS) {
            throw new ProtocolException(ErrorCode.CLOCK_SKEW, "change " + index + ": its stamp is too far ahead: its time is beyond year 6429, later than any clock allows", in.batch);
        }
        try {
            Stamp stamp = new Stamp(Stamp.pack(millis, counter), replica);
            return switch (op) {
                case OP_SET -> new Change.Put(section, target, canonical(value), stamp);
                case OP_DELETE -> new Change.Put(section, target, null, stamp);
                case OP_APPEND -> new Change.Append(section, target, canonical(value), stamp);
                case OP_CLEAR_STREAM -> {
                    if (target.isEmpty()) {
                        throw new IllegalArgumentException("a stream clear needs a stream");
                    }
                    yield new Change.Clear(section, target, stamp);
                }
                default -> Change.Clear.wholeSection(section, stamp);
            };
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new ProtocolException(ErrorCode.INVALID_CHANGE, "change " + index + ": " + e.getMessage(), in.batch);
        }
    }

    /**
     * A value's canonical spelling (the number rule, PROTOCOL.md 1.2). Values in the common
     * shapes that are canonical as they are skip the parser ({@link CanonicalScan}).
     */
    private static String canonical(String value) {
        return CanonicalScan.isCanonical(value) ? value : Json.canonicalValue(value);
    }

    /** The page's strings in first-use order, each once. */
    private static final class StringTable {
        final Map<String, Integer> strings = new LinkedHashMap<>();
        int bytes;

        int index(String s) {
            Integer i = strings.get(s);
            if (i == null) {
                i = strings.size();
                strings.put(s, i);
                bytes += s.length() * 3 + 4;
            }
            return i;
        }
    }
}
