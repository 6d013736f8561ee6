package dev.cairn.engine.store;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Comparator;
import org.mapdb.DataInput2;
import org.mapdb.serializer.SerializerByteArray;

/**
 * MapDB's {@code byte[]} key serializer (same bytes on disk, same unsigned order) with a lookup
 * that searches a B-tree node's keys where they lie. MapDB's own search copies every key of every
 * node it passes into a new array (and a {@code ByteBuffer} view per key) before its binary
 * search: that was most of a snapshot lookup, and a catch-up page is thousands of lookups
 * (BENCHMARKS.md, "Issue 13, server hot paths").
 *
 * <p>Used only for reading: {@link Snapshot} rebuilds the opened map around it, so files never
 * name this class.
 */
final class SnapshotKeys extends SerializerByteArray {

    static final SnapshotKeys INSTANCE = new SnapshotKeys();
    /** Eight bytes of a key as one big-endian long: unsigned long order is the keys' byte order. */
    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

    private SnapshotKeys() {
    }

    /**
     * The index of {@code key} among the node's keys, or {@code -(insertion point) - 1}, exactly as
     * {@link Arrays#binarySearch(Object[], Object, Comparator)} over the decoded keys; leaves
     * {@code input} just past the keys, as decoding them would.
     */
    @Override
    public int valueArrayBinarySearch(byte[] key, DataInput2 input, int keysLen, Comparator comparator) throws IOException {
        ByteBuffer buffer = input.internalByteBuffer();
        byte[] array = buffer == null ? input.internalByteArray() : null;
        if (comparator != this || (buffer == null && array == null)) {
            return super.valueArrayBinarySearch(key, input, keysLen, comparator);
        }
        int n = input.unpackInt();
        int[] offsets = new int[n];
        int[] lengths = new int[n];
        // The lengths are MapDB's packed ints (DataInput2.unpackInt: 7 bits a byte, the last byte
        // marked by 0x80), read here straight from the node's bytes.
        int pos = input.getPos();
        for (int i = 0; i < n; i++) {
            int length = 0;
            byte b;
            do {
                b = buffer != null ? buffer.get(pos++) : array[pos++];
                length = (length << 7) | (b & 0x7F);
            } while ((b & 0x80) == 0);
            lengths[i] = length;
            offsets[i] = pos;
            pos += length;
        }
        input.setPos(pos);
        boolean longs = buffer != null && buffer.order() == ByteOrder.BIG_ENDIAN;
        int low = 0;
        int high = n - 1;
        while (low <= high) {
            int mid = (low + high) >>> 1;
            int c = buffer == null ? compare(array, offsets[mid], lengths[mid], key)
                    : longs ? compareLongs(buffer, offsets[mid], lengths[mid], key) : compare(buffer, offsets[mid], lengths[mid], key);
            if (c < 0) {
                low = mid + 1;
            } else if (c > 0) {
                high = mid - 1;
            } else {
                return mid;
            }
        }
        return -(low + 1);
    }

    /** The decoded keys of a node: searched without first copying them into an {@code Object[]}. */
    @Override
    public int valueArraySearch(Object keys, byte[] key, Comparator comparator) {
        return comparator == this ? Arrays.binarySearch((byte[][]) keys, key, this) : super.valueArraySearch(keys, key, comparator);
    }

    /**
     * {@link #compare} of the stored key {@code buffer[offset, offset + length)} with {@code key},
     * eight bytes at a time (a big-endian buffer): the keys of one user share a long prefix.
     */
    private static int compareLongs(ByteBuffer buffer, int offset, int length, byte[] key) {
        int n = Math.min(length, key.length);
        int i = 0;
        for (; i + Long.BYTES <= n; i += Long.BYTES) {
            long a = buffer.getLong(offset + i);
            long b = (long) LONGS.get(key, i);
            if (a != b) {
                return Long.compareUnsigned(a, b);
            }
        }
        for (; i < n; i++) {
            int a = buffer.get(offset + i) & 0xFF;
            int b = key[i] & 0xFF;
            if (a != b) {
                return a - b;
            }
        }
        return length - key.length;
    }

    /** As {@link #compareLongs}, a byte at a time (a little-endian buffer). */
    private static int compare(ByteBuffer buffer, int offset, int length, byte[] key) {
        int n = Math.min(length, key.length);
        for (int i = 0; i < n; i++) {
            int a = buffer.get(offset + i) & 0xFF;
            int b = key[i] & 0xFF;
            if (a != b) {
                return a - b;
            }
        }
        return length - key.length;
    }

    private static int compare(byte[] stored, int offset, int length, byte[] key) {
        return Arrays.compareUnsigned(stored, offset, offset + length, key, 0, key.length);
    }
}
