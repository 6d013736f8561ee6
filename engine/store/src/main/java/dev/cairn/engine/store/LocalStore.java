package dev.cairn.engine.store;

import java.util.List;
import java.util.function.BiConsumer;

/**
 * Port for a replica's local storage: an ordered key-value store of byte arrays with atomic
 * multi-key commits. The device library encodes its records ({@code dev.cairn.engine.persist.Records})
 * and never sees the adapter's types. Every adapter runs {@code LocalStoreContract}.
 *
 * <p>Guarantees an adapter must give: after {@link #commit} returns, all of its writes are
 * visible and (for a durable adapter) survive a process kill; a commit that throws leaves
 * nothing of itself behind; {@link #scan} visits keys in unsigned lexicographic order.
 *
 * <p>Thread-safety: adapters are safe for one writer and concurrent readers.
 */
public interface LocalStore extends AutoCloseable {

    /** Visits every record whose key starts with {@code prefix} (empty = all), in key order. */
    void scan(byte[] prefix, BiConsumer<byte[], byte[]> visitor);

    /** The value of one key, or null. */
    byte[] get(byte[] key);

    /** Applies all writes atomically: all or nothing. */
    void commit(List<StoreWrite> writes);

    /** Bytes this store occupies (file size for a file store, payload bytes for a memory store). */
    long sizeBytes();

    /** Number of records. */
    long count();

    @Override
    void close();
}
