package dev.cairn.engine.store;

import java.util.Objects;

/** One put ({@code value != null}) or delete ({@code value == null}) of a {@link LocalStore} commit. */
public record StoreWrite(byte[] key, byte[] value) {

    /** NullPointerException for a null key; a null value makes a delete. The arrays are not copied: do not change them. */
    public StoreWrite {
        Objects.requireNonNull(key, "key");
    }

    /** A put of {@code value} (not null) under {@code key}. */
    public static StoreWrite put(byte[] key, byte[] value) {
        return new StoreWrite(key, Objects.requireNonNull(value, "value"));
    }

    /** A delete of {@code key}. */
    public static StoreWrite delete(byte[] key) {
        return new StoreWrite(key, null);
    }

    /** Whether this write deletes its key. */
    public boolean isDelete() {
        return value == null;
    }
}
