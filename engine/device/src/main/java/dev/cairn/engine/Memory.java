package dev.cairn.engine;

import java.util.NavigableMap;

/**
 * AI memory facts in the {@code memory} section: fact name to any JSON value, each fact merged on
 * its own (last writer wins). Fact names are 1-512 characters without control characters
 * ({@link IllegalArgumentException} otherwise). Writes throw {@link IllegalStateException} once the
 * engine is closed. Thread-safe.
 */
public final class Memory {

    private final MapSection map;

    Memory(MapSection map) {
        this.map = map;
    }

    /** Stores a fact (any value Jackson can write; {@link ValidationException} for one JSON cannot carry exactly). */
    public void remember(String fact, Object value) {
        map.put(fact, value);
    }

    /** A fact read as {@code type}, or null if unknown; {@link IllegalStateException} if it does not read as {@code type}. */
    public <T> T recall(String fact, Class<T> type) {
        return map.get(fact, type);
    }

    /** Deletes a fact on every device (a tombstone that syncs); nothing happens if it is unknown. */
    public void forget(String fact) {
        map.remove(fact);
    }

    /** Every fact as JSON text, sorted by key. */
    public NavigableMap<String, String> facts() {
        return map.entries("");
    }
}
