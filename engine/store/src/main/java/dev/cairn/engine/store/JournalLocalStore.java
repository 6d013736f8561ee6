package dev.cairn.engine.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.function.BiConsumer;
import java.util.function.BiPredicate;

/**
 * The engine's durable {@link LocalStore}: an append-only journal of checksummed commits, replayed
 * into a sorted in-memory map on open, and compacted by rewriting it to a new file that replaces
 * the old one with an atomic rename.
 *
 * <p>Why not MapDB: MapDB 3.1.0 overwrites its main file in place at commit and never replays its
 * write-ahead log on open, so a {@code kill -9} during a commit can leave a store that no longer
 * opens (the crash test saw 9 broken stores in 454 kills). Here a commit is one append: a kill
 * leaves at most a torn last record, which fails its checksum and is cut off on open; every
 * commit that returned is intact.
 *
 * <p>Layout: the 8-byte magic {@code CAIRNJ1\n}, then records {@code [int length][int crc32c]
 * [payload]}, payload = {@code [int count]} then per write {@code [byte op][int keyLen][key]
 * [int valueLen][value]} (op 1 = put, 0 = delete, no value). A commit is forced to disk
 * ({@code fdatasync}) before it returns unless {@code sync} is off.
 *
 * <p>Damage that a crash cannot cause is refused, not repaired: a file with a foreign header, or
 * a record that fails its checksum while a valid record follows it (a crash only ever tears the
 * last record, so this is disk or file corruption). Either way {@link #open} throws a
 * {@link StoreException} naming the file and leaves the file untouched; cutting the journal at
 * the bad record would silently drop every later commit, all of which had been acknowledged.
 *
 * <p>Thread-safety: commits and scans are serialized; {@link #get} is lock-free. The whole data
 * set lives in the heap (the engine holds its state in memory anyway).
 */
public final class JournalLocalStore implements LocalStore {

    private static final System.Logger LOG = System.getLogger(JournalLocalStore.class.getName());
    private static final byte[] MAGIC = JournalFile.MAGIC;
    /** {@code [int length][int crc32c]} before every payload. */
    private static final int RECORD_HEADER = JournalFile.RECORD_HEADER;
    /** Framing of one put in a payload: op byte, key length, value length. */
    private static final int PUT_OVERHEAD = 9;
    /** Compact when the file is this much larger than a compacted file would be (and at least minCompactBytes). */
    private static final int COMPACT_FACTOR = 3;
    static final long MIN_COMPACT_BYTES = 8L << 20;
    static final int MAX_RECORD_BYTES = 256 << 20;
    static final int SNAPSHOT_CHUNK_BYTES = 4 << 20;

    private final Path file;
    private final boolean sync;
    private final int maxRecordBytes;
    private final int snapshotChunkBytes;
    private final long minCompactBytes;
    private final ConcurrentSkipListMap<byte[], byte[]> records = new ConcurrentSkipListMap<>(Arrays::compareUnsigned);
    private FileChannel channel;
    /** What the live records take in a compacted journal's payloads (framing included). */
    private long liveBytes;
    private volatile long fileBytes;
    /** After a failed automatic compaction, the next one waits until the file reaches this size. */
    private long compactNoSoonerThan;
    private int tornTailsCut;
    private volatile boolean closed;

    private JournalLocalStore(Path file, boolean sync, int maxRecordBytes, int snapshotChunkBytes, long minCompactBytes) {
        this.file = file;
        this.sync = sync;
        this.maxRecordBytes = maxRecordBytes;
        this.snapshotChunkBytes = snapshotChunkBytes;
        this.minCompactBytes = minCompactBytes;
    }

    /** Opens (or creates) the journal, replaying it and cutting off a torn last record. */
    public static JournalLocalStore open(Path file) {
        return open(file, true);
    }

    /** As {@link #open(Path)}; {@code sync = false} skips fdatasync (survives a process kill, not a power cut). */
    public static JournalLocalStore open(Path file, boolean sync) {
        return open(file, sync, MAX_RECORD_BYTES, SNAPSHOT_CHUNK_BYTES, MIN_COMPACT_BYTES);
    }

    /** As {@link #open(Path, boolean)} with other size limits (tests use small ones). */
    static JournalLocalStore open(Path file, boolean sync, int maxRecordBytes, int snapshotChunkBytes, long minCompactBytes) {
        if (maxRecordBytes < 64 || snapshotChunkBytes < 1 || snapshotChunkBytes > maxRecordBytes / 2 || minCompactBytes < 0) {
            throw new IllegalArgumentException("bad journal limits: maxRecordBytes " + maxRecordBytes + ", snapshotChunkBytes "
                    + snapshotChunkBytes + ", minCompactBytes " + minCompactBytes);
        }
        JournalLocalStore store = new JournalLocalStore(file.toAbsolutePath(), sync, maxRecordBytes, snapshotChunkBytes, minCompactBytes);
        try {
            store.load();
        } catch (IOException e) {
            store.closeQuietly();
            throw new StoreException("cannot open local store " + file + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            store.closeQuietly();
            throw e;
        }
        return store;
    }

    private void load() throws IOException {
        Files.createDirectories(file.getParent());
        boolean existed = Files.exists(file);
        channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        long size = channel.size();
        ByteBuffer magic = ByteBuffer.allocate((int) Math.min(size, MAGIC.length));
        readFully(magic, 0);
        if (!Arrays.equals(magic.array(), Arrays.copyOf(MAGIC, magic.capacity()))) {
            throw new StoreException("local store " + file + " is not a Cairn journal (wrong header); refusing to touch it");
        }
        // Only now that the journal is ours: a compaction that did not finish left its new file; the old one is whole.
        Files.deleteIfExists(tmpFile());
        if (size < MAGIC.length) {
            // A new store, or one killed while its header was written: nothing was ever committed.
            channel.write(ByteBuffer.wrap(MAGIC), 0);
            force();
            if (!existed) {
                forceDirectory();
            }
            fileBytes = MAGIC.length;
            return;
        }
        long pos = MAGIC.length;
        ByteBuffer head = ByteBuffer.allocate(RECORD_HEADER);
        while (pos < size) {
            if (size - pos < RECORD_HEADER) {
                break; // torn header of the last record
            }
            head.clear();
            readFully(head, pos);
            int length = head.getInt(0);
            int crc = head.getInt(4);
            if (length < 4 || length > maxRecordBytes || pos + RECORD_HEADER + length > size) {
                break;
            }
            ByteBuffer payload = ByteBuffer.allocate(length);
            readFully(payload, pos + RECORD_HEADER);
            if (JournalFile.crc(payload.array()) != crc) {
                break;
            }
            try {
                applyPayload(payload.array());
            } catch (RuntimeException e) {
                // The checksum matched, so this is not a torn write: the record was written malformed.
                throw new StoreException("local store " + file + " is damaged: the record at byte " + pos
                        + " passes its checksum but cannot be decoded (" + e + "); refusing to open it", e);
            }
            pos += RECORD_HEADER + length;
        }
        if (pos < size) {
            long valid = findValidRecord(pos + 1, size);
            if (valid >= 0) {
                // A kill only ever tears the last record. A bad record with a good one after it is damage,
                // and cutting here would drop every commit after it, each of which had been acknowledged.
                throw new StoreException("local store " + file + " is damaged: the record at byte " + pos
                        + " fails its checksum, but a valid record follows at byte " + valid + " (of " + size + ")."
                        + " A crash cannot cause this (disk or file corruption?). Refusing to open it, so that no"
                        + " committed data is cut off; the file is left untouched: restore it from a backup or move it aside");
            }
            // A kill during the last append left a partial record: it was never acknowledged.
            channel.truncate(pos);
            force();
            tornTailsCut++;
        }
        fileBytes = pos;
    }

    /**
     * The offset of the first record at or after {@code from} whose checksum holds, or -1. Used only
     * when replay met a bad record, to tell a torn tail (nothing valid after it) from damage.
     */
    private long findValidRecord(long from, long size) throws IOException {
        ByteBuffer window = ByteBuffer.allocate(64 << 10);
        long windowStart = -1;
        for (long p = from; p + RECORD_HEADER + 4 <= size; p++) {
            if (windowStart < 0 || p + RECORD_HEADER + 4 > windowStart + window.limit()) {
                window.clear();
                window.limit((int) Math.min(window.capacity(), size - p));
                readFully(window, p);
                windowStart = p;
            }
            int at = (int) (p - windowStart);
            int length = window.getInt(at);
            int count = window.getInt(at + RECORD_HEADER);
            // cheap filters first: a plausible length, and a write count that fits it (a write takes >= 5 bytes)
            if (length < 4 || length > maxRecordBytes || p + RECORD_HEADER + length > size || count < 1 || count > (length - 4) / 5) {
                continue;
            }
            ByteBuffer payload = ByteBuffer.allocate(length);
            readFully(payload, p + RECORD_HEADER);
            if (JournalFile.crc(payload.array()) == window.getInt(at + 4)) {
                return p;
            }
        }
        return -1;
    }

    @Override
    public synchronized void scan(byte[] prefix, BiConsumer<byte[], byte[]> visitor) {
        checkOpen();
        Keys.scan(records, prefix, visitor);
    }

    /**
     * Visits the records with {@code from <= key < to} in key order while the visitor returns true
     * (a range scan for callers with their own key layout, e.g. the server's embedded store).
     */
    public synchronized void scan(byte[] from, byte[] to, BiPredicate<byte[], byte[]> visitor) {
        checkOpen();
        for (Map.Entry<byte[], byte[]> e : records.subMap(from, true, to, false).entrySet()) {
            if (!visitor.test(e.getKey(), e.getValue())) {
                return;
            }
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
        List<StoreWrite> copy = List.copyOf(writes); // refuses a null write before anything is written
        if (copy.isEmpty()) {
            return;
        }
        byte[] payload = encode(copy); // refuses a commit too large to be replayed, before anything is written
        ByteBuffer record = JournalFile.record(payload);
        long start = fileBytes;
        JournalFile.writeRecord(file, channel, reopened -> channel = reopened, sync, start, record);
        fileBytes = start + RECORD_HEADER + payload.length;
        applyPayload(payload);
        if (fileBytes > minCompactBytes && fileBytes > COMPACT_FACTOR * (MAGIC.length + liveBytes) && fileBytes >= compactNoSoonerThan) {
            try {
                compact();
            } catch (StoreException e) {
                // The commit is durable and applied: it must not be reported as failed (the caller would
                // retry or re-number what it wrote). Compaction is retried once the file has grown by half.
                compactNoSoonerThan = fileBytes + fileBytes / 2;
                LOG.log(System.Logger.Level.WARNING, "cairn: automatic compaction failed; the journal keeps growing: " + e.getMessage(), e);
            }
        }
    }

    /** Rewrites the live records to a new file and swaps it in atomically. */
    public synchronized void compact() {
        checkOpen();
        Path tmp = tmpFile();
        long written;
        try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            out.write(ByteBuffer.wrap(MAGIC));
            written = MAGIC.length;
            List<StoreWrite> chunk = new ArrayList<>();
            long chunkBytes = 4;
            for (Map.Entry<byte[], byte[]> e : records.entrySet()) {
                long entryBytes = PUT_OVERHEAD + e.getKey().length + e.getValue().length;
                // Flush before the chunk would pass its target, so no record outgrows the replay limit.
                if (!chunk.isEmpty() && chunkBytes + entryBytes > snapshotChunkBytes) {
                    written += writeRecord(out, encode(chunk));
                    chunk.clear();
                    chunkBytes = 4;
                }
                chunk.add(StoreWrite.put(e.getKey(), e.getValue()));
                chunkBytes += entryBytes;
            }
            if (!chunk.isEmpty()) {
                written += writeRecord(out, encode(chunk));
            }
            out.force(true);
        } catch (IOException e) {
            deleteTmp(tmp, e);
            throw new StoreException("compacting " + file + " failed (the journal is unchanged): " + e.getMessage(), e);
        }
        try {
            channel.close();
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            deleteTmp(tmp, e);
            reopenAfterCompaction(e);
            throw new StoreException("compacting " + file + " failed (the journal is unchanged): " + e.getMessage(), e);
        }
        // From here on the compacted file is the journal, whatever happens next.
        fileBytes = written;
        forceDirectory();
        IOException reopen = reopenAfterCompaction(null);
        if (reopen != null) {
            throw new StoreException("compacted " + file + " but cannot reopen it: " + reopen.getMessage(), reopen);
        }
    }

    private IOException reopenAfterCompaction(IOException failure) {
        boolean interrupted = Thread.interrupted();
        try {
            channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
            return null;
        } catch (IOException e) {
            if (failure != null) {
                failure.addSuppressed(e);
            }
            return e; // the channel stays closed: commits fail (and retry the reopen) until this works
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static void deleteTmp(Path tmp, IOException failure) {
        try {
            Files.deleteIfExists(tmp);
        } catch (IOException suppressed) {
            failure.addSuppressed(suppressed); // deleted at the next open
        }
    }

    @Override
    public long sizeBytes() {
        return fileBytes;
    }

    @Override
    public long count() {
        checkOpen();
        return records.size();
    }

    /** How many torn records were cut off when the store was opened (0 after a clean close). */
    public int tornTailsCut() {
        return tornTailsCut;
    }

    /** The journal file this store reads and appends to. */
    public Path file() {
        return file;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        closeQuietly();
    }

    // ---- helpers

    private void applyPayload(byte[] payload) {
        ByteBuffer buf = ByteBuffer.wrap(payload);
        int count = buf.getInt();
        for (int i = 0; i < count; i++) {
            byte op = buf.get();
            byte[] key = new byte[buf.getInt()];
            buf.get(key);
            byte[] old;
            if (op == 1) {
                byte[] value = new byte[buf.getInt()];
                buf.get(value);
                old = records.put(key, value);
                liveBytes += PUT_OVERHEAD + key.length + value.length;
            } else if (op == 0) {
                old = records.remove(key);
            } else {
                throw new IllegalArgumentException("unknown op " + op);
            }
            if (old != null) {
                liveBytes -= PUT_OVERHEAD + key.length + old.length;
            }
        }
        if (buf.hasRemaining()) {
            throw new IllegalArgumentException(buf.remaining() + " bytes after the last write");
        }
    }

    private byte[] encode(List<StoreWrite> writes) {
        return JournalFile.encode(writes, maxRecordBytes, file);
    }

    private static long writeRecord(FileChannel out, byte[] payload) throws IOException {
        ByteBuffer record = JournalFile.record(payload);
        while (record.hasRemaining()) {
            out.write(record);
        }
        return (long) RECORD_HEADER + payload.length;
    }

    private void readFully(ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = channel.read(buf, pos + buf.position());
            if (n < 0) {
                throw new IOException("unexpected end of file");
            }
        }
    }

    private void force() throws IOException {
        if (sync) {
            channel.force(false);
        }
    }

    private void forceDirectory() {
        // fsync the directory so the rename survives a power cut; not every platform allows it.
        try (FileChannel dir = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
            dir.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // best effort
        }
    }

    private Path tmpFile() {
        return file.resolveSibling(file.getFileName() + ".compact");
    }

    private void checkOpen() {
        if (closed) {
            throw new StoreException("local store " + file + " is closed");
        }
    }

    private void closeQuietly() {
        try {
            if (channel != null) {
                channel.close();
            }
        } catch (IOException ignored) {
            // nothing left to save: every commit was forced when it returned
        }
    }
}
