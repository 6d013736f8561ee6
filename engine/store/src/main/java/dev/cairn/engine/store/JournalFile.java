package dev.cairn.engine.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import java.util.zip.CRC32C;

/**
 * One journal segment of a {@link TieredLocalStore}: the same file format and write path as
 * {@link JournalLocalStore} (magic {@code CAIRNJ1\n}, then {@code [int length][int crc32c][payload]}
 * records; each commit one record, forced with fdatasync before {@link #append} returns), without
 * the in-memory map and compaction, which the tiered store does with snapshots instead.
 *
 * <p>Replay cuts a torn last record (a kill only ever tears the last one) and refuses, leaving the
 * file untouched, a bad record followed by a valid one or a foreign header: damage a crash cannot cause.
 */
final class JournalFile implements AutoCloseable {

    static final byte[] MAGIC = {'C', 'A', 'I', 'R', 'N', 'J', '1', '\n'};
    /** A record's length and CRC32C, before its payload. */
    static final int RECORD_HEADER = 8;

    private final Path file;
    private final boolean sync;
    private final int maxRecordBytes;
    private FileChannel channel;
    private long size;
    private boolean tornTailCut;

    private JournalFile(Path file, boolean sync, int maxRecordBytes) {
        this.file = file;
        this.sync = sync;
        this.maxRecordBytes = maxRecordBytes;
    }

    /** Creates a new, empty segment (header forced); the caller forces the directory. */
    static JournalFile create(Path file, boolean sync, int maxRecordBytes) throws IOException {
        JournalFile j = new JournalFile(file, sync, maxRecordBytes);
        j.channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE);
        j.channel.write(ByteBuffer.wrap(MAGIC), 0);
        j.force();
        j.size = MAGIC.length;
        return j;
    }

    /**
     * Opens an existing segment and hands every intact commit to {@code replay} in order. A file
     * shorter than the header (a kill while it was created) is treated as empty.
     */
    static JournalFile open(Path file, boolean sync, int maxRecordBytes, boolean last, Consumer<List<StoreWrite>> replay) throws IOException {
        JournalFile j = new JournalFile(file, sync, maxRecordBytes);
        j.channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            j.load(last, replay);
        } catch (IOException | RuntimeException e) {
            j.channel.close();
            throw e;
        }
        return j;
    }

    /** {@code last}: only the newest segment can have been written when the process died. */
    private void load(boolean last, Consumer<List<StoreWrite>> replay) throws IOException {
        long fileSize = channel.size();
        ByteBuffer magic = ByteBuffer.allocate((int) Math.min(fileSize, MAGIC.length));
        readFully(magic, 0);
        if (!Arrays.equals(magic.array(), Arrays.copyOf(MAGIC, magic.capacity()))) {
            throw new StoreException("journal " + file + " is not a Cairn journal (wrong header); refusing to touch it");
        }
        if (fileSize < MAGIC.length) {
            channel.write(ByteBuffer.wrap(MAGIC), 0);
            force();
            size = MAGIC.length;
            return;
        }
        long pos = MAGIC.length;
        ByteBuffer head = ByteBuffer.allocate(RECORD_HEADER);
        while (pos + RECORD_HEADER <= fileSize) {
            head.clear();
            readFully(head, pos);
            int length = head.getInt(0);
            if (length < 4 || length > maxRecordBytes || pos + RECORD_HEADER + length > fileSize) {
                break;
            }
            ByteBuffer payload = ByteBuffer.allocate(length);
            readFully(payload, pos + RECORD_HEADER);
            if (crc(payload.array()) != head.getInt(4)) {
                break;
            }
            List<StoreWrite> writes;
            try {
                writes = decode(payload.array());
            } catch (RuntimeException e) {
                throw new StoreException("journal " + file + " is damaged: the record at byte " + pos
                        + " passes its checksum but cannot be decoded (" + e + "); refusing to open it", e);
            }
            replay.accept(writes);
            pos += RECORD_HEADER + length;
        }
        if (pos < fileSize) {
            long valid = findValidRecord(pos + 1, fileSize);
            if (valid < 0 && !last) {
                throw new StoreException("journal " + file + " is damaged: its last record (at byte " + pos + " of " + fileSize
                        + ") is torn, but a newer segment follows it, so no commit was being written to it when the process"
                        + " stopped. Refusing to open the store; nothing was changed: restore it from a backup");
            }
            if (valid >= 0) {
                throw new StoreException("journal " + file + " is damaged: the record at byte " + pos
                        + " fails its checksum, but a valid record follows at byte " + valid + " (of " + fileSize + ")."
                        + " A crash cannot cause this (disk or file corruption?). Refusing to open it; the file is left"
                        + " untouched: restore the data directory from a backup or move it aside");
            }
            channel.truncate(pos); // a torn last append: it was never acknowledged
            force();
            tornTailCut = true;
        }
        size = pos;
    }

    private long findValidRecord(long from, long fileSize) throws IOException {
        for (long p = from; p + RECORD_HEADER + 4 <= fileSize; p++) {
            ByteBuffer head = ByteBuffer.allocate(RECORD_HEADER + 4);
            readFully(head, p);
            int length = head.getInt(0);
            int count = head.getInt(RECORD_HEADER);
            if (length < 4 || length > maxRecordBytes || p + RECORD_HEADER + length > fileSize || count < 1 || count > (length - 4) / 5) {
                continue;
            }
            ByteBuffer payload = ByteBuffer.allocate(length);
            readFully(payload, p + RECORD_HEADER);
            if (crc(payload.array()) == head.getInt(4)) {
                return p;
            }
        }
        return -1;
    }

    /** Appends one commit and forces it; on failure cuts the file back so nothing of it remains. */
    void append(List<StoreWrite> writes) {
        byte[] payload = encode(writes, maxRecordBytes, file);
        ByteBuffer record = record(payload);
        long start = size;
        writeRecord(file, channel, reopened -> channel = reopened, sync, start, record);
        size = start + RECORD_HEADER + payload.length;
    }

    /**
     * The write path of a journal commit, here and in {@link JournalLocalStore}: writes {@code record}
     * at {@code start} and forces it (fdatasync, unless {@code sync} is off). On failure it cuts the
     * file back to {@code start}, so nothing of the commit remains, and throws a
     * {@link StoreException} saying whether that worked. An interrupt closes a FileChannel
     * (ClosedByInterruptException), so the rollback reopens a closed channel, with the interrupt set
     * aside, and hands the new one to {@code reopened}.
     */
    static void writeRecord(Path file, FileChannel channel, Consumer<FileChannel> reopened, boolean sync, long start, ByteBuffer record) {
        try {
            while (record.hasRemaining()) {
                channel.write(record, start + record.position());
            }
            if (sync) {
                channel.force(false);
            }
        } catch (IOException failure) {
            boolean rolledBack = false;
            boolean interrupted = Thread.interrupted();
            try {
                if (!channel.isOpen()) {
                    channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
                    reopened.accept(channel);
                }
                channel.truncate(start);
                if (sync) {
                    channel.force(false);
                }
                rolledBack = true;
            } catch (IOException e) {
                failure.addSuppressed(e);
            } finally {
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
            }
            throw new StoreException("commit to " + file + " failed" + (rolledBack ? " and was rolled back: "
                    : " and could not be rolled back (a later commit overwrites it; if none does, it may be replayed at the next open): ")
                    + failure, failure);
        }
    }

    /**
     * A commit's payload ({@link JournalLocalStore} writes the same format); refuses a commit too
     * large to be replayed, before anything is written.
     */
    static byte[] encode(List<StoreWrite> writes, int maxRecordBytes, Path file) {
        long total = 4;
        for (StoreWrite w : writes) {
            total += 1 + 4 + w.key().length + (w.isDelete() ? 0 : 4 + w.value().length);
        }
        if (total > maxRecordBytes) {
            throw new StoreException("a commit of " + writes.size() + " writes takes " + total + " bytes, more than the "
                    + maxRecordBytes + " one journal record may hold; nothing of it was written to " + file);
        }
        ByteBuffer buf = ByteBuffer.allocate((int) total).putInt(writes.size());
        for (StoreWrite w : writes) {
            buf.put(w.isDelete() ? (byte) 0 : (byte) 1).putInt(w.key().length).put(w.key());
            if (!w.isDelete()) {
                buf.putInt(w.value().length).put(w.value());
            }
        }
        return buf.array();
    }

    /** One record as it lies in the file: length, CRC32C, payload. */
    static ByteBuffer record(byte[] payload) {
        ByteBuffer record = ByteBuffer.allocate(RECORD_HEADER + payload.length);
        record.putInt(payload.length).putInt(crc(payload)).put(payload).flip();
        return record;
    }

    static List<StoreWrite> decode(byte[] payload) {
        ByteBuffer buf = ByteBuffer.wrap(payload);
        int count = buf.getInt();
        List<StoreWrite> writes = new ArrayList<>(Math.min(count, 1 << 16));
        for (int i = 0; i < count; i++) {
            byte op = buf.get();
            byte[] key = new byte[buf.getInt()];
            buf.get(key);
            if (op == 1) {
                byte[] value = new byte[buf.getInt()];
                buf.get(value);
                writes.add(StoreWrite.put(key, value));
            } else if (op == 0) {
                writes.add(StoreWrite.delete(key));
            } else {
                throw new IllegalArgumentException("unknown op " + op);
            }
        }
        if (buf.hasRemaining()) {
            throw new IllegalArgumentException(buf.remaining() + " bytes after the last write");
        }
        return writes;
    }

    static int crc(byte[] payload) {
        CRC32C crc = new CRC32C();
        crc.update(payload);
        return (int) crc.getValue();
    }

    private void readFully(ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            if (channel.read(buf, pos + buf.position()) < 0) {
                throw new IOException("unexpected end of file");
            }
        }
    }

    private void force() throws IOException {
        if (sync) {
            channel.force(false);
        }
    }

    long size() {
        return size;
    }

    boolean tornTailCut() {
        return tornTailCut;
    }

    Path file() {
        return file;
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // every commit was forced when it returned
        }
    }
}
