package dev.cairn.engine.crdt;

import dev.cairn.engine.clock.Stamp;
import java.util.Collections;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.function.BiConsumer;

/**
 * Last-writer-wins map: key to {@link LwwEntry}; a delete is a tombstone entry, so it wins over
 * older writes that arrive later.
 *
 * <p>Merge rule: per key, {@link LwwEntry#merge}; plus a whole-map "cleared up to" watermark, a
 * max register: every entry (value or tombstone) stamped at or below it is hidden and purged, and
 * an entry arriving later at or below it is dropped. Applying the same entries and clears in any
 * order, any number of times, gives the same map (commutative, associative, idempotent).
 *
 * <p>Purge rule: a clear removes what it covers at once, because the watermark alone keeps any
 * older write out. A single delete's tombstone stays until a later clear covers it: a replica may
 * be offline for any length of time, and only the tombstone stops its older write coming back.
 *
 * <p>Caveat: concurrent writes to one key within clock skew keep only one of them; that is why
 * records are stored field by field (a card's {@code isExpanded} and {@code isVisible} are two keys).
 *
 * <p>Thread-safety: reads are safe from any thread; writes must be serialized by the caller.
 */
public final class LwwMap {

    private final ConcurrentHashMap<String, LwwEntry> entries = new ConcurrentHashMap<>();
    // Keys holding a '#', sorted: the field entries of typed values (spec/vectors/values/README.md)
    // are read by prefix. Only those keys pay for the index; most keys never hold a '#'.
    private final ConcurrentSkipListSet<String> fieldKeys = new ConcurrentSkipListSet<>();
    private int live;
    private volatile Stamp watermark;
    // Bumped by every visible change (writes are serialized, so ++ on a volatile is safe): lets a
    // reader's cache see "nothing changed" without looking at any entry.
    private volatile long modCount;

    /** Merges one entry; returns true if it became the key's winner (the visible state may have changed). */
    public boolean apply(String key, LwwEntry entry) {
        Stamp mark = watermark;
        if (mark != null && entry.stamp().compareTo(mark) <= 0) {
            return false; // cleared: older writes never come back
        }
        LwwEntry current = entries.get(key);
        if (current != null && !entry.beats(current)) {
            return false;
        }
        entries.put(key, entry);
        if (current == null && key.indexOf('#') >= 0) {
            fieldKeys.add(key);
        }
        live += (entry.isTombstone() ? 0 : 1) - (current == null || current.isTombstone() ? 0 : 1);
        modCount++;
        return true;
    }

    /**
     * Removes the key's entry if it is still the one stamped {@code stamp}, leaving no tombstone, so
     * an older entry can win again: a client rolls back a change the server refused (PROTOCOL.md
     * 8.2) this way, never a change any server has. True if it was removed.
     */
    public boolean forget(String key, Stamp stamp) {
        LwwEntry current = entries.get(key);
        if (current == null || !current.stamp().equals(stamp) || !entries.remove(key, current)) {
            return false;
        }
        fieldKeys.remove(key);
        live -= current.isTombstone() ? 0 : 1;
        modCount++;
        return true;
    }

    /**
     * Raises the clear watermark to {@code upTo} and purges every entry (values and tombstones)
     * stamped at or before it; returns true if the watermark moved.
     */
    public boolean clear(Stamp upTo) {
        Stamp mark = watermark;
        if (mark != null && upTo.compareTo(mark) <= 0) {
            return false;
        }
        watermark = upTo;
        entries.entrySet().removeIf(e -> {
            if (e.getValue().stamp().compareTo(upTo) > 0) {
                return false;
            }
            if (!e.getValue().isTombstone()) {
                live--;
            }
            fieldKeys.remove(e.getKey());
            return true;
        });
        modCount++;
        return true;
    }

    /** The clear watermark, or null if the map was never cleared. */
    public Stamp watermark() {
        return watermark;
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

    /**
     * The entries (tombstones included) whose key starts with {@code prefix + '#'}, sorted by key:
     * the field entries of the typed value stored under {@code prefix}.
     */
    public NavigableMap<String, LwwEntry> fieldsOf(String prefix) {
        TreeMap<String, LwwEntry> out = new TreeMap<>();
        // '$' is the character after '#': the range holds exactly the keys starting with prefix + '#'
        for (String key : fieldKeys.subSet(prefix + '#', prefix + '$')) {
            LwwEntry e = entries.get(key);
            if (e != null) {
                out.put(key, e);
            }
        }
        return out;
    }

    /** A counter that changes whenever the visible state may have changed (any key). */
    public long modCount() {
        return modCount;
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
        if (other.watermark != null) {
            clear(other.watermark);
        }
        other.entries.forEach(this::apply);
    }

    /** An independent map with the same entries and watermark; later writes to either do not reach the other. */
    public LwwMap copy() {
        LwwMap copy = new LwwMap();
        copy.mergeFrom(this);
        return copy;
    }

    /**
     * Removes a tombstone that every replica has seen (purge; the caller owns that rule). Cairn
     * itself never calls it: no replica can know that every other has seen a delete, so single
     * tombstones are purged only by a {@link #clear} that covers them.
     */
    public boolean purgeTombstone(String key, LwwEntry tombstone) {
        if (tombstone.isTombstone() && entries.remove(key, tombstone)) {
            fieldKeys.remove(key);
            modCount++;
            return true;
        }
        return false;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LwwMap other && java.util.Objects.equals(watermark, other.watermark) && entries.equals(other.entries);
    }

    @Override
    public int hashCode() {
        return 31 * java.util.Objects.hashCode(watermark) + entries.hashCode();
    }

    @Override
    public String toString() {
        return "LwwMap" + (watermark == null ? "" : "{clearedUpTo=" + watermark + "}") + sorted();
    }
}
