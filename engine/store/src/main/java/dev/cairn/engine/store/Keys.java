package dev.cairn.engine.store;

/** Byte-key helpers shared by the adapters. */
final class Keys {

    private Keys() {
    }

    static boolean hasPrefix(byte[] key, byte[] prefix) {
        if (key.length < prefix.length) {
            return false;
        }
        for (int i = 0; i < prefix.length; i++) {
            if (key[i] != prefix[i]) {
                return false;
            }
        }
        return true;
    }

    /** Visits the entries of a sorted map whose keys start with {@code prefix}, in order. */
    static void scan(java.util.NavigableMap<byte[], byte[]> records, byte[] prefix, java.util.function.BiConsumer<byte[], byte[]> visitor) {
        for (java.util.Map.Entry<byte[], byte[]> e : records.tailMap(prefix, true).entrySet()) {
            if (!hasPrefix(e.getKey(), prefix)) {
                break;
            }
            visitor.accept(e.getKey(), e.getValue());
        }
    }

    /** The smallest key greater than every key with this prefix, or null if there is none. */
    static byte[] upperBound(byte[] prefix) {
        byte[] bound = prefix.clone();
        for (int i = bound.length - 1; i >= 0; i--) {
            if (bound[i] != (byte) 0xFF) {
                bound[i]++;
                return java.util.Arrays.copyOf(bound, i + 1);
            }
        }
        return null;
    }
}
