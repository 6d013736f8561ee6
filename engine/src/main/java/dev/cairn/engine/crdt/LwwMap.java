package dev.cairn.engine.crdt;

import java.util.Collections;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiConsumer;

/**
 * Last-writer-wins map: key to {@link LwwEntry}; a delete is a tombstone entry, so it wins over
 * older writes that arrive later.
 *
 * <p>Merge rule: per key, {@link LwwEntry#merge}. Applying the same entries in any order, any
 * number of times, gives the same map (commutative, associative, idempotent).
 *
 * <p>Caveat: concurrent writes to one key within clock skew keep only one of them; that is why
 * records are stored field by field (a card's {@code isExpanded} and {@code isVisible} are two keys).
 *
 * <p>Thread-safety: reads are safe from any thread; writes must be serialized by the caller.
 */
public final class LwwMap {

    private final ConcurrentHashMap<String, LwwEntry> entries = new ConcurrentHashMap<>();
    private int live;

    /** Merges one entry; returns true if it became the key's winner (the visible state may have changed). */
    public boolean apply(String key, LwwEntry entry) {
        LwwEntry current = entries.get(key);
        if (current != null && !entry.beats(current)) {
            return false;
        }
        entries.put(key, entry);
        live += (entry.isTombstone() ? 0 : 1) - (current == null || current.isTombstone() ? 0 : 1);
        return true;
    }

    /** The winning entry for a key, tombstones included; null if the key was never written. */
    public LwwEntry entry(String key) {
        return entries.get(key);
    }

    /** The live value (JSON text), or null if absent or deleted. */
    public String value(String key) {
        LwwEntry e = entries.get(key);
        return e == null ? null : e.value();
    }

    /** Number of live (non-tombstone) keys. */
    public int liveSize() {
        return live;
    }

    /** Number of entries including tombstones. */
    public int size() {
        return entries.size();
    }

    /** Visits every entry, tombstones included, in no particular order. */
    public void forEach(BiConsumer<String, LwwEntry> visitor) {
        entries.forEach(visitor);
    }

    /** All entries sorted by key: the canonical view. */
    public NavigableMap<String, LwwEntry> sorted() {
        return Collections.unmodifiableNavigableMap(new TreeMap<>(entries));
    }

    /** Merges every entry of {@code other} into this map. */
    public void mergeFrom(LwwMap other) {
        other.entries.forEach(this::apply);
    }

    public LwwMap copy() {
        LwwMap copy = new LwwMap();
        copy.mergeFrom(this);
        return copy;
    }

    /** Removes a tombstone that every replica has seen (purge; the caller owns that rule). */
    public boolean purgeTombstone(String key, LwwEntry tombstone) {
        return tombstone.isTombstone() && entries.remove(key, tombstone);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LwwMap other && entries.equals(other.entries);
    }

    @Override
    public int hashCode() {
        return entries.hashCode();
    }

    @Override
    public String toString() {
        return "LwwMap" + sorted();
    }
}
