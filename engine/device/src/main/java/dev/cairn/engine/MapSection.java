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

/**
 * Untyped access to one map section: keys to JSON values, each key a last-writer-wins register
 * merged on its own. The typed handles ({@link Cards}, {@link Preferences}, ...) are built on it.
 *
 * <p>Reads come from memory, without a lock, and see remote changes as soon as they are merged.
 * A write lands in memory at once, is saved as the section's policy says, and syncs through a
 * running {@link dev.cairn.engine.sync.SyncClient}. Keys are 1-512 characters without control
 * characters ({@link IllegalArgumentException} otherwise). Writes throw
 * {@link IllegalStateException} once the engine is closed. Thread-safe.
 *
 * <p>An object a {@link PersistentState} stores under a key {@code K} ({@link Merge#FIELDS}) spans
 * the entries {@code K} (a head) and {@code K#field...}: read it through a handle, not {@link #get}.
 */
public final class MapSection {

    private final Cairn engine;
    private final String section;

    MapSection(Cairn engine, String section) {
        this.engine = engine;
        this.section = section;
    }

    /** The section's name, as registered with the engine. */
    public String name() {
        return section;
    }

    Cairn engine() {
        return engine;
    }

    /** The value as compact JSON text, or null if the key is absent or deleted. */
    public String json(String key) {
        return engine.state().map(section).value(key);
    }

    /** Whether the key holds a value (a deleted key does not). */
    public boolean contains(String key) {
        return json(key) != null;
    }

    /**
     * The value read as {@code type}, or {@code fallback} if absent or deleted.
     * {@link IllegalStateException} if the stored JSON does not read as {@code type}.
     */
    public <T> T get(String key, Class<T> type, T fallback) {
        String json = json(key);
        if (json == null) {
            return fallback;
        }
        try {
            return engine.values().read(json, engine.values().type(type));
        } catch (IOException e) {
            throw new IllegalStateException("value of '" + section + "/" + key + "' does not read as " + type.getSimpleName()
                    + ": " + Json.describe(e), e);
        }
    }

    /** The value read as {@code type}, or null if absent; {@link IllegalStateException} if it does not read as {@code type}. */
    public <T> T get(String key, Class<T> type) {
        return get(key, type, null);
    }

    /** The value as a Jackson tree, or null if absent. */
    public JsonNode node(String key) {
        return get(key, JsonNode.class, null);
    }

    /**
     * Sets a key to any value the engine's {@link Cairn.Builder#objectMapper object mapper} can
     * write, with a fresh stamp that wins over every value seen so far. {@link ValidationException}
     * for a value it cannot write or JSON cannot carry exactly (NaN, an
     * infinity, a number a double would change); {@link ChangeTooLargeException} if the change
     * could never fit in a server frame. Either way nothing changes.
     */
    public void put(String key, Object value) {
        engine.writes.put(section, key, engine.values().write(value));
    }

    /** Deletes a key (a tombstone that syncs). */
    public void remove(String key) {
        if (contains(key)) {
            engine.writes.put(section, key, null);
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

    /** How many keys hold a value (deleted keys do not count). */
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
