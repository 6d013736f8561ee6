package dev.cairn.engine.store;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import org.mapdb.BTreeMap;
import org.mapdb.DB;
import org.mapdb.DBMaker;
import org.mapdb.Serializer;

/**
 * {@link LocalStore} in one MapDB file: a B-tree of {@code byte[]} keys (MapDB's prefix maps do
 * not work with String keys) with MapDB's write-ahead log, so a commit either survives a
 * {@code kill -9} whole or not at all. Memory-mapped where the platform supports it.
 *
 * <p>The caller must keep one instance per file; the engine guards that with a lock file.
 */
public final class MapDbLocalStore implements LocalStore {

    private final Path file;
    private final DB db;
    private final BTreeMap<byte[], byte[]> records;

    private MapDbLocalStore(Path file, DB db, BTreeMap<byte[], byte[]> records) {
        this.file = file;
        this.db = db;
        this.records = records;
    }

    /** Opens (or creates) the store file. */
    public static MapDbLocalStore open(Path file) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
        } catch (IOException e) {
            throw new StoreException("cannot create directory for " + file + ": " + e.getMessage(), e);
        }
        DB db;
        try {
            db = DBMaker.fileDB(file.toFile())
                    .transactionEnable()
                    .fileMmapEnableIfSupported()
                    .fileMmapPreclearDisable()
                    // The engine guards the data directory with its own lock; MapDB's leaks its handle when it refuses a foreign file.
                    .fileLockDisable()
                    .cleanerHackEnable()
                    .make();
        } catch (RuntimeException e) {
            throw new StoreException("cannot open local store " + file + ": " + e.getMessage(), e);
        }
        try {
            BTreeMap<byte[], byte[]> records = db.treeMap("records", Serializer.BYTE_ARRAY, Serializer.BYTE_ARRAY).createOrOpen();
            db.commit();
            return new MapDbLocalStore(file, db, records);
        } catch (RuntimeException e) {
            db.close();
            throw new StoreException("local store " + file + " is not a Cairn store or is damaged: " + e.getMessage(), e);
        }
    }

    @Override
    public void scan(byte[] prefix, BiConsumer<byte[], byte[]> visitor) {
        checkOpen();
        byte[] upper = Keys.upperBound(prefix);
        Map<byte[], byte[]> range = prefix.length == 0 ? records
                : upper == null ? records.tailMap(prefix, true) : records.subMap(prefix, true, upper, false);
        for (Map.Entry<byte[], byte[]> e : range.entrySet()) {
            visitor.accept(e.getKey(), e.getValue());
        }
    }

    @Override
    public byte[] get(byte[] key) {
        checkOpen();
        return records.get(key);
    }

    @Override
    public synchronized void commit(List<StoreWrite> writes) {
        checkOpen();
        if (writes.isEmpty()) {
            return;
        }
        try {
            for (StoreWrite w : writes) {
                if (w.isDelete()) {
                    records.remove(w.key());
                } else {
                    records.put(w.key(), w.value());
                }
            }
            db.commit();
        } catch (RuntimeException e) {
            try {
                db.rollback();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw new StoreException("commit to " + file + " failed and was rolled back: " + e.getMessage(), e);
        }
    }

    @Override
    public long sizeBytes() {
        Path dir = file.toAbsolutePath().getParent();
        String name = file.getFileName().toString();
        long total = 0;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, name + "*")) {
            for (Path p : files) {
                total += Files.size(p);
            }
        } catch (IOException e) {
            throw new StoreException("cannot measure " + file + ": " + e.getMessage(), e);
        }
        return total;
    }

    @Override
    public long count() {
        checkOpen();
        return records.sizeLong();
    }

    @Override
    public synchronized void close() {
        if (!db.isClosed()) {
            db.close();
        }
    }

    /** MapDB fails on a closed DB with NullPointerException or IllegalAccessError; say what happened instead. */
    private void checkOpen() {
        if (db.isClosed()) {
            throw new StoreException("local store " + file + " is closed");
        }
    }

    public Path file() {
        return file;
    }
}
