package dev.cairn.engine.store;

import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Map;
import java.util.function.Consumer;
import java.util.zip.CRC32C;
import org.mapdb.BTreeMap;
import org.mapdb.DB;
import org.mapdb.DBMaker;
import org.mapdb.Serializer;
import org.mapdb.serializer.SerializerByteArray;

/**
 * One immutable snapshot of a {@link TieredLocalStore}: a MapDB B-tree of {@code byte[]} keys,
 * bulk-loaded once from sorted entries and never written again; values are records of their own
 * outside the B-tree nodes (older snapshots with values in the nodes still open). A value is stored as
 * {@code [1][bytes]}, a delete (which must hide older snapshots' values) as {@code [0]}.
 *
 * <p>Why this is crash-safe although MapDB is not: the file is written under a temporary name,
 * closed, forced and only then renamed into place, and nothing refers to it until the manifest
 * names it. A kill mid-write leaves a {@code .tmp} that the next open deletes; the journal
 * segments it was made from are deleted only after the manifest that names it is durable.
 *
 * <p>Opened lazily, read-only and memory-mapped. The first open checks the file's length and
 * CRC32C against the manifest, so a bit flip (which a crash cannot cause) is refused with a
 * {@link StoreException} before MapDB reads a byte of it.
 */
final class Snapshot {

    static final byte[] TOMBSTONE = new byte[0];
    private static final String MAP = "records";

    final Manifest.Entry meta;
    private final Path file;
    private DB db;
    private volatile BTreeMap<byte[], byte[]> map;
    private volatile boolean verified;

    Snapshot(Path dir, Manifest.Entry meta, boolean verified) {
        this.meta = meta;
        this.file = dir.resolve(meta.fileName());
        this.verified = verified;
    }

    /**
     * Writes the sorted {@code entries} (value {@link #TOMBSTONE} = a delete) to a new snapshot
     * file: a {@code .tmp} bulk-loaded by MapDB, closed, forced, checksummed, renamed into place,
     * the directory forced. Returns its manifest entry.
     */
    static Manifest.Entry write(Path dir, long id, Iterator<Map.Entry<byte[], byte[]>> entries,
                                boolean sync, Consumer<String> phases) throws IOException {
        String name = Manifest.snapshotName(id);
        Path tmp = dir.resolve(name + ".tmp");
        Files.deleteIfExists(tmp);
        long records = 0;
        long payload = 0;
        DB out = DBMaker.fileDB(tmp.toFile()).fileChannelEnable().allocateStartSize(64 << 10).allocateIncrement(64 << 10)
                .concurrencyDisable().fileLockDisable().make();
        try {
            // Values outside the nodes: a get (a miss too) reads one small leaf of keys, not a leaf of up to 24
            // values; with 10 KB values MapDB copied a ~240 KB linked record per lookup (BENCHMARKS.md, W7).
            var sink = out.treeMap(MAP, Serializer.BYTE_ARRAY, Serializer.BYTE_ARRAY).valuesOutsideNodesEnable().createFromSink();
            while (entries.hasNext()) {
                Map.Entry<byte[], byte[]> e = entries.next();
                sink.put(e.getKey(), encode(e.getValue()));
                payload += e.getKey().length + e.getValue().length;
                if (++records == 1) {
                    phases.accept("snapshot-write");
                }
            }
            sink.create();
        } finally {
            out.close();
        }
        long bytes;
        int crc;
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            if (sync) {
                ch.force(true);
            }
            bytes = ch.size();
            crc = checksum(ch);
        }
        phases.accept("snapshot-written");
        Files.move(tmp, dir.resolve(name), StandardCopyOption.ATOMIC_MOVE);
        if (sync) {
            Manifest.forceDirectory(dir);
        }
        phases.accept("snapshot-renamed");
        return new Manifest.Entry(id, 0, bytes, crc, records, payload);
    }

    private static byte[] encode(byte[] value) {
        if (value == TOMBSTONE) {
            return new byte[] {0};
        }
        byte[] v = new byte[value.length + 1];
        v[0] = 1;
        System.arraycopy(value, 0, v, 1, value.length);
        return v;
    }

    private static byte[] decode(byte[] stored) {
        return stored[0] == 0 ? TOMBSTONE : Arrays.copyOfRange(stored, 1, stored.length);
    }

    static int checksum(FileChannel ch) throws IOException {
        CRC32C crc = new CRC32C();
        long size = ch.size();
        for (long pos = 0; pos < size; pos += Integer.MAX_VALUE / 2) {
            MappedByteBuffer chunk = ch.map(FileChannel.MapMode.READ_ONLY, pos, Math.min(Integer.MAX_VALUE / 2, size - pos));
            crc.update(chunk);
        }
        return (int) crc.getValue();
    }

    /** Checks length and checksum against the manifest (no MapDB involved); throws if they differ. */
    void verify() {
        if (verified) {
            return;
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size != meta.bytes()) {
                throw damaged("it has " + size + " bytes, the manifest says " + meta.bytes());
            }
            int crc = checksum(ch);
            if (crc != meta.crc()) {
                throw damaged(String.format("its CRC32C is %08x, the manifest says %08x", crc, meta.crc()));
            }
        } catch (IOException e) {
            throw new StoreException("cannot read snapshot " + file + ": " + e.getMessage(), e);
        }
        verified = true;
    }

    private StoreException damaged(String why) {
        return new StoreException("snapshot " + file + " is damaged: " + why + ". A crash cannot cause this (a snapshot is"
                + " complete and forced before the manifest names it): disk or file corruption. Refusing to read it; nothing"
                + " was changed: restore the data directory from a backup");
    }

    private BTreeMap<byte[], byte[]> map() {
        BTreeMap<byte[], byte[]> m = map;
        return m != null ? m : openMap();
    }

    private synchronized BTreeMap<byte[], byte[]> openMap() {
        if (map == null) {
            verify();
            try {
                db = DBMaker.fileDB(file.toFile()).readOnly().fileMmapEnableIfSupported().fileLockDisable().make();
                map = withFastLookups(db.treeMap(MAP, Serializer.BYTE_ARRAY, Serializer.BYTE_ARRAY).open());
            } catch (RuntimeException e) {
                if (db != null) {
                    db.close();
                }
                throw new StoreException("cannot open snapshot " + file + ": " + e.getMessage(), e);
            }
        }
        return map;
    }

    /**
     * The same read-only tree, searched by {@link SnapshotKeys}. MapDB takes a map's key serializer
     * from the file's catalog, so it is swapped here rather than named when the file is written.
     */
    private static BTreeMap<byte[], byte[]> withFastLookups(BTreeMap<byte[], byte[]> m) {
        if (m.getKeySerializer().getClass() != SerializerByteArray.class) {
            return m;
        }
        return new BTreeMap<>(SnapshotKeys.INSTANCE, m.getValueSerializer(), m.getRootRecidRecid(), m.getStore(),
                m.getValueInline(), m.getMaxNodeSize(), SnapshotKeys.INSTANCE, m.isThreadSafe(), m.getCounterRecid(),
                m.getHasValues(), null);
    }

    /** The value, {@link #TOMBSTONE} for a delete, or null when this snapshot does not know the key. */
    byte[] get(byte[] key) {
        byte[] stored = map().get(key);
        return stored == null ? null : decode(stored);
    }

    /** Entries with {@code from <= key < to} ({@code to} null = no bound), in order; values decoded. */
    Iterator<Map.Entry<byte[], byte[]>> range(byte[] from, byte[] to) {
        BTreeMap<byte[], byte[]> m = map();
        Iterator<Map.Entry<byte[], byte[]>> it = (to == null ? m.tailMap(from, true) : m.subMap(from, true, to, false)).entrySet().iterator();
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                return it.hasNext();
            }

            @Override
            public Map.Entry<byte[], byte[]> next() {
                Map.Entry<byte[], byte[]> e = it.next();
                return Map.entry(e.getKey(), decode(e.getValue()));
            }
        };
    }

    Path file() {
        return file;
    }

    synchronized void close() {
        if (db != null && !db.isClosed()) {
            db.close();
        }
        db = null;
        map = null;
    }
}
