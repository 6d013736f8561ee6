package dev.cairn.engine.store;

import java.util.Objects;

/** One put ({@code value != null}) or delete ({@code value == null}) of a {@link LocalStore} commit. */
public record StoreWrite(byte[] key, byte[] value) {

    public StoreWrite {
        Objects.requireNonNull(key, "key");
    }

    public static StoreWrite put(byte[] key, byte[] value) {
        return new StoreWrite(key, Objects.requireNonNull(value, "value"));
    }

    public static StoreWrite delete(byte[] key) {
        return new StoreWrite(key, null);
    }

    public boolean isDelete() {
        return value == null;
    }
}
