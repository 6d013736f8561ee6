package dev.cairn.engine;

import java.util.NavigableMap;

/** AI memory facts in the {@code memory} section: key to any JSON value. */
public final class Memory {

    private final MapSection map;

    Memory(MapSection map) {
        this.map = map;
    }

    public void remember(String fact, Object value) {
        map.put(fact, value);
    }

    public <T> T recall(String fact, Class<T> type) {
        return map.get(fact, type);
    }

    public void forget(String fact) {
        map.remove(fact);
    }

    /** Every fact as JSON text, sorted by key. */
    public NavigableMap<String, String> facts() {
        return map.entries("");
    }
}
