package dev.cairn.engine.protocol;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Reads a v2 page body (PROTOCOL.md 7.2) with every length checked against the bytes that are
 * left before anything is allocated: a hostile length is a {@code malformed-frame} error, never
 * an allocation.
 */
final class PageReader {

    /** Largest v2 integer: 2^53 - 1, which every client (JavaScript numbers too) holds exactly. */
    static final long MAX_INT = (1L << 53) - 1;

    private final byte[] bytes;
    private int pos;
    private final int end;
    /** The batch id once read, so errors about a push's changes name it. */
    Long batch;

    PageReader(byte[] bytes, int offset, int end) {
        this.bytes = bytes;
        this.pos = offset;
        this.end = end;
    }

    boolean atEnd() {
        return pos == end;
    }

    int remaining() {
        return end - pos;
    }

    int u8(String what) {
        if (pos >= end) {
            throw malformed("page ends inside " + what);
        }
        return bytes[pos++] & 0xff;
    }

    long varint(String what) {
        long value = 0;
        for (int shift = 0; shift < 56; shift += 7) {
            int b = u8(what);
            value |= (long) (b & 0x7f) << shift;
            if ((b & 0x80) == 0) {
                if (b == 0 && shift > 0) {
                    throw malformed(what + " is an over-long varint");
                }
                if (value > MAX_INT) {
                    throw malformed(what + " is larger than 2^53 - 1");
                }
                return value;
            }
        }
        throw malformed(what + " is larger than 2^53 - 1");
    }

    long zigzag(String what) {
        long z = varint(what);
        return (z & 1) == 0 ? z >>> 1 : -(z >>> 1) - 1;
    }

    /** A count or length: at most what is left in the page, so it can never ask for more memory than the page holds. */
    int length(String what) {
        long n = varint(what);
        if (n > remaining()) {
            throw malformed(what + " is " + n + ", more than the " + remaining() + " bytes left in the page");
        }
        return (int) n;
    }

    String utf8(String what) {
        int n = length(what + "'s length");
        int end = pos + n;
        boolean ascii = true;
        for (int i = pos; i < end; i++) {
            if (bytes[i] < 0) {
                ascii = false;
                break;
            }
        }
        if (ascii) { // the common case, without a decoder
            String s = new String(bytes, pos, n, StandardCharsets.ISO_8859_1);
            pos = end;
            return s;
        }
        try {
            if (decoder == null) {
                decoder = StandardCharsets.UTF_8.newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT);
            }
            String s = decoder.reset().decode(ByteBuffer.wrap(bytes, pos, n)).toString();
            pos = end;
            return s;
        } catch (CharacterCodingException e) {
            throw malformed(what + " is not valid UTF-8");
        }
    }

    private java.nio.charset.CharsetDecoder decoder;

    ProtocolException malformed(String message) {
        return new ProtocolException(ErrorCode.MALFORMED_FRAME, message, batch);
    }
}
