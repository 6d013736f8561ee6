package dev.cairn.engine.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mapdb.DataInput2;
import org.mapdb.DataOutput2;
import org.mapdb.Serializer;
import org.mapdb.serializer.GroupSerializer;

/**
 * {@link SnapshotKeys} answers every node search exactly as MapDB's own {@code byte[]} serializer
 * (same index or insertion point, input left at the same position), on heap and direct buffers,
 * big- and little-endian; and a snapshot read through it finds what was written.
 */
class SnapshotKeysTest {

    @TempDir
    Path dir;

    @SuppressWarnings("unchecked")
    private static final GroupSerializer<byte[]> MAPDB = (GroupSerializer<byte[]>) Serializer.BYTE_ARRAY;

    @Test
    void searchesANodeExactlyAsMapDbDoes() throws Exception {
        Random random = new Random(13);
        for (int round = 0; round < 2_000; round++) {
            TreeSet<byte[]> set = new TreeSet<>(Arrays::compareUnsigned);
            int n = random.nextInt(40);
            while (set.size() < n) {
                set.add(randomKey(random));
            }
            byte[][] keys = set.toArray(new byte[0][]);
            DataOutput2 out = new DataOutput2();
            out.write(new byte[] {7, 7, 7}); // the node header before the keys
            MAPDB.valueArraySerialize(out, keys);
            out.write(new byte[] {9, 9}); // what follows the keys (children or values)
            byte[] node = out.copyBytes();
            List<byte[]> probes = new ArrayList<>(set);
            for (int i = 0; i < 10; i++) {
                probes.add(randomKey(random));
            }
            for (byte[] probe : probes) {
                ByteBuffer direct = ByteBuffer.allocateDirect(node.length).put(node);
                ByteBuffer littleEndian = direct.duplicate().order(java.nio.ByteOrder.LITTLE_ENDIAN);
                DataInput2[] expectedIn = {new DataInput2.ByteArray(node, 3), new DataInput2.ByteBuffer(direct, 3), new DataInput2.ByteBuffer(littleEndian, 3)};
                DataInput2[] actualIn = {new DataInput2.ByteArray(node, 3), new DataInput2.ByteBuffer(direct, 3), new DataInput2.ByteBuffer(littleEndian, 3)};
                for (int k = 0; k < expectedIn.length; k++) {
                    int expected = MAPDB.valueArrayBinarySearch(probe, expectedIn[k], n, MAPDB);
                    int actual = SnapshotKeys.INSTANCE.valueArrayBinarySearch(probe, actualIn[k], n, SnapshotKeys.INSTANCE);
                    assertEquals(expected, actual, "search of " + Arrays.toString(probe) + " in " + Arrays.deepToString(keys));
                    assertEquals(expectedIn[k].getPos(), actualIn[k].getPos(), "position after the keys");
                    assertEquals(expected, SnapshotKeys.INSTANCE.valueArraySearch(keys, probe, SnapshotKeys.INSTANCE));
                }
            }
        }
    }

    /**
     * Keys over a small alphabet with high bytes, so prefixes, equal keys and unsigned order all
     * occur; mostly short, some past 8 bytes (compared a long at a time) and some past 127 (a
     * length of two packed bytes).
     */
    private static byte[] randomKey(Random random) {
        int kind = random.nextInt(10);
        byte[] key = new byte[kind < 6 ? random.nextInt(6) : kind < 9 ? 8 + random.nextInt(20) : 120 + random.nextInt(20)];
        for (int i = 0; i < key.length; i++) {
            key[i] = (byte) (random.nextBoolean() ? random.nextInt(3) : 0xFE + random.nextInt(2));
        }
        return key;
    }

    @Test
    void aSnapshotFindsEveryKeyItHoldsAndNoOther() throws Exception {
        TreeSet<byte[]> keys = new TreeSet<>(Arrays::compareUnsigned);
        Random random = new Random(5);
        while (keys.size() < 5_000) {
            byte[] k = new byte[4 + random.nextInt(20)];
            random.nextBytes(k);
            keys.add(k);
        }
        List<java.util.Map.Entry<byte[], byte[]>> entries = new ArrayList<>();
        for (byte[] k : keys) {
            entries.add(java.util.Map.entry(k, k.length % 5 == 0 ? Snapshot.TOMBSTONE : Arrays.copyOf(k, 3)));
        }
        Manifest.Entry meta = Snapshot.write(dir, 1, entries.iterator(), false, phase -> { });
        Snapshot snapshot = new Snapshot(dir, meta, false);
        try {
            for (java.util.Map.Entry<byte[], byte[]> e : entries) {
                byte[] found = snapshot.get(e.getKey());
                if (e.getValue() == Snapshot.TOMBSTONE) {
                    assertEquals(Snapshot.TOMBSTONE, found);
                } else {
                    assertArrayEquals(e.getValue(), found);
                }
                byte[] absent = Arrays.copyOf(e.getKey(), e.getKey().length + 1);
                assertEquals(keys.contains(absent), snapshot.get(absent) != null);
            }
        } finally {
            snapshot.close();
        }
    }
}
