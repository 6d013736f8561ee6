package dev.cairn.engine;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.crdt.LwwEntry;
import java.io.IOException;
import java.util.Collections;
import java.util.NavigableMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/** Untyped access to one map section: keys to JSON values. The typed handles are built on it. */
public final class MapSection {

    private final Cairn engine;
    private final String section;

    MapSection(Cairn engine, String section) {
        this.engine = engine;
        this.section = section;
    }

    public String name() {
        return section;
    }

    Cairn engine() {
        return engine;
    }

    /** The value as JSON text, or null. */
    public String json(String key) {
        return engine.state().map(section).value(key);
    }

    public boolean contains(String key) {
        return json(key) != null;
    }

    /** The value read as {@code type}, or {@code fallback} if absent. */
    public <T> T get(String key, Class<T> type, T fallback) {
        String json = json(key);
        if (json == null) {
            return fallback;
        }
        try {
            return Json.MAPPER.readValue(json, type);
        } catch (IOException e) {
            throw new IllegalStateException("value of '" + section + "/" + key + "' does not read as " + type.getSimpleName()
                    + ": " + Json.describe(e), e);
        }
    }

    public <T> T get(String key, Class<T> type) {
        return get(key, type, null);
    }

    public JsonNode node(String key) {
        return get(key, JsonNode.class, null);
    }

    /** Sets a key to any value Jackson can write. */
    public void put(String key, Object value) {
        engine.put(section, key, Cairn.valueText(value));
    }

    /** Deletes a key (a tombstone that syncs). */
    public void remove(String key) {
        if (contains(key)) {
            engine.put(section, key, null);
        }
    }

    /** Live keys, sorted. */
    public SortedSet<String> keys() {
        return keys("");
    }

    /** Live keys starting with {@code prefix}, sorted. */
    public SortedSet<String> keys(String prefix) {
        TreeSet<String> out = new TreeSet<>();
        engine.state().map(section).forEach((k, e) -> {
            if (!e.isTombstone() && k.startsWith(prefix)) {
                out.add(k);
            }
        });
        return Collections.unmodifiableSortedSet(out);
    }

    /** Live entries starting with {@code prefix}: key to JSON text, sorted. */
    public NavigableMap<String, String> entries(String prefix) {
        TreeMap<String, String> out = new TreeMap<>();
        engine.state().map(section).forEach((k, e) -> {
            if (!e.isTombstone() && k.startsWith(prefix)) {
                out.put(k, e.value());
            }
        });
        return Collections.unmodifiableNavigableMap(out);
    }

    /** The winning entry with its stamp (tombstones included), or null. */
    public LwwEntry entry(String key) {
        return engine.state().map(section).entry(key);
    }

    public int size() {
        return engine.state().map(section).liveSize();
    }

    /**
     * Clears the section on every device (one watermark that purges values and tombstones and
     * keeps older writes of offline devices out); returns how many live keys it hid.
     */
    public int clear() {
        return engine.clear(section);
    }

    /** Runs a read-modify-write atomically with respect to other writers. */
    public <T> T atomically(java.util.function.Supplier<T> action) {
        return engine.locked(action);
    }
}
