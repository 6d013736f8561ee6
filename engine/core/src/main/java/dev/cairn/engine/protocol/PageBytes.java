package dev.cairn.engine.protocol;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** A growable byte buffer with the v2 primitives (PROTOCOL.md 7.2): unsigned LEB128 varints, zigzag, length-prefixed UTF-8. */
final class PageBytes {

    private byte[] buf;
    private int size;

    PageBytes(int capacity) {
        buf = new byte[Math.max(16, capacity)];
    }

    int size() {
        return size;
    }

    void write(int b) {
        ensure(1);
        buf[size++] = (byte) b;
    }

    void write(byte[] bytes) {
        write(bytes, 0, bytes.length);
    }

    void write(byte[] bytes, int off, int len) {
        ensure(len);
        System.arraycopy(bytes, off, buf, size, len);
        size += len;
    }

    /** An unsigned varint; v2 integers are 0 to 2^53 - 1 so that JavaScript holds them exactly. */
    void varint(long value) {
        if (value < 0 || value > PageReader.MAX_INT) {
            throw new IllegalArgumentException("v2 integer out of range: " + value);
        }
        ensure(8);
        while (value >= 0x80) {
            buf[size++] = (byte) (value | 0x80);
            value >>>= 7;
        }
        buf[size++] = (byte) value;
    }

    /** A signed number as a zigzag varint (0, -1, 1, -2, ... as 0, 1, 2, 3, ...). */
    void zigzag(long value) {
        varint(value >= 0 ? value * 2 : -value * 2 - 1);
    }

    /** Length-prefixed UTF-8. */
    void string(String s) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        varint(bytes.length);
        write(bytes);
    }

    byte[] toByteArray() {
        return Arrays.copyOf(buf, size);
    }

    byte[] array() {
        return buf;
    }

    static int varintLength(long value) {
        int n = 1;
        while (value >= 0x80) {
            value >>>= 7;
            n++;
        }
        return n;
    }

    private void ensure(int more) {
        if (size + more > buf.length) {
            buf = Arrays.copyOf(buf, Math.max(buf.length * 2, size + more));
        }
    }
}
