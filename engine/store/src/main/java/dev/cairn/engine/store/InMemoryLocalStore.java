package dev.cairn.engine.store;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.function.BiConsumer;

/**
 * {@link LocalStore} in the heap: the session tier (gone when the engine closes) and the durable
 * tier of an engine opened without a data directory. Commits are atomic for readers because
 * they are applied under a lock that {@link #scan} also takes.
 */
public final class InMemoryLocalStore implements LocalStore {

    private final ConcurrentSkipListMap<byte[], byte[]> records = new ConcurrentSkipListMap<>(Arrays::compareUnsigned);
    private long bytes;
    private volatile boolean closed;

    @Override
    public synchronized void scan(byte[] prefix, BiConsumer<byte[], byte[]> visitor) {
        checkOpen();
        Keys.scan(records, prefix, visitor);
    }

    @Override
    public byte[] get(byte[] key) {
        checkOpen();
        return records.get(key);
    }

    @Override
    public synchronized void commit(List<StoreWrite> writes) {
        checkOpen();
        // Copying refuses a null write before anything is applied: a failed commit leaves nothing behind.
        for (StoreWrite w : List.copyOf(writes)) {
            byte[] old = w.isDelete() ? records.remove(w.key()) : records.put(w.key().clone(), w.value().clone());
            if (old != null) {
                bytes -= w.key().length + old.length;
            }
            if (!w.isDelete()) {
                bytes += w.key().length + w.value().length;
            }
        }
    }

    @Override
    public synchronized long sizeBytes() {
        return bytes;
    }

    @Override
    public long count() {
        checkOpen();
        return records.size();
    }

    @Override
    public synchronized void close() {
        closed = true;
        records.clear();
        bytes = 0;
    }

    private void checkOpen() {
        if (closed) {
            throw new StoreException("in-memory store is closed");
        }
    }
}
