package dev.cairn.engine.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Comparator;
import org.mapdb.DataInput2;
import org.mapdb.serializer.SerializerByteArray;

/**
 * MapDB's {@code byte[]} key serializer (same bytes on disk, same unsigned order) with a lookup
 * that searches a B-tree node's keys where they lie. MapDB's own search copies every key of every
 * node it passes into a new array (and a {@code ByteBuffer} view per key) before its binary
 * search: that was most of a snapshot lookup, and a catch-up page is a thousand lookups
 * (BENCHMARKS.md, "Issue 13, server hot paths").
 *
 * <p>Used only for reading: {@link Snapshot} rebuilds the opened map around it, so files never
 * name this class.
 */
final class SnapshotKeys extends SerializerByteArray {

    static final SnapshotKeys INSTANCE = new SnapshotKeys();

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
        for (int i = 0; i < n; i++) {
            lengths[i] = input.unpackInt();
            offsets[i] = input.getPos();
            input.setPos(offsets[i] + lengths[i]);
        }
        int low = 0;
        int high = n - 1;
        while (low <= high) {
            int mid = (low + high) >>> 1;
            int c = buffer != null ? compare(buffer, offsets[mid], lengths[mid], key) : compare(array, offsets[mid], lengths[mid], key);
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

    /** {@link #compare} of the stored key {@code buffer[offset, offset + length)} with {@code key}. */
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
