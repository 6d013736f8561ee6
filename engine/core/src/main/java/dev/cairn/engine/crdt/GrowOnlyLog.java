package dev.cairn.engine.crdt;

import dev.cairn.engine.clock.Stamp;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * Grow-only log of immutable entries in named streams (a chat conversation, a waiver's consent
 * events), each stream ordered by stamp, with a per-stream "cleared up to" watermark.
 *
 * <p>Merge rule: entries are a set union keyed by stamp; the watermark is a max register. An entry
 * whose stamp is at or below its stream's watermark is hidden and purged, so clearing frees space
 * and a replica that was offline with older entries cannot bring them back.
 *
 * <p>Caveat: a clear hides concurrent appends whose stamps are lower than the clear's stamp
 * (within clock skew), exactly as if they had been written before the clear.
 *
 * <p>Thread-safety: reads are safe from any thread; writes must be serialized by the caller.
 */
public final class GrowOnlyLog {

    private final ConcurrentHashMap<String, ConcurrentSkipListMap<Stamp, String>> streams = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Stamp> watermarks = new ConcurrentHashMap<>();
    private int size;

    /** Adds an entry; returns true if it is new and visible. */
    public boolean append(String stream, Stamp stamp, String value) {
        Objects.requireNonNull(value, "value");
        Stamp mark = watermarks.get(stream);
        if (mark != null && stamp.compareTo(mark) <= 0) {
            return false;
        }
        ConcurrentSkipListMap<Stamp, String> entries = streams.computeIfAbsent(stream, s -> new ConcurrentSkipListMap<>());
        String existing = entries.get(stamp);
        if (existing == null) {
            entries.put(stamp, value);
            size++;
            return true;
        }
        // Same stamp, different value: only a reused stamp can do this; keep the greater value so every replica agrees.
        if (TextOrder.compare(value, existing) > 0) {
            entries.put(stamp, value);
            return true;
        }
        return false;
    }

    /** Removes the entry stamped {@code stamp} (a refused append rolled back, as {@link LwwMap#forget}); true if there was one. */
    public boolean forget(String stream, Stamp stamp) {
        ConcurrentSkipListMap<Stamp, String> entries = streams.get(stream);
        if (entries == null || entries.remove(stamp) == null) {
            return false;
        }
        size--;
        return true;
    }

    /** As {@link #append(String, Stamp, String)} for an entry; true if it is new and visible. */
    public boolean append(LogEntry entry) {
        return append(entry.stream(), entry.stamp(), entry.value());
    }

    /** Raises the stream's watermark to {@code upTo} and purges the entries it hides; true if it moved. */
    public boolean clear(String stream, Stamp upTo) {
        Stamp mark = watermarks.get(stream);
        if (mark != null && upTo.compareTo(mark) <= 0) {
            return false;
        }
        watermarks.put(stream, upTo);
        ConcurrentSkipListMap<Stamp, String> entries = streams.get(stream);
        if (entries != null) {
            NavigableMap<Stamp, String> hidden = entries.headMap(upTo, true);
            size -= hidden.size();
            hidden.clear();
            if (entries.isEmpty()) {
                streams.remove(stream);
            }
        }
        return true;
    }

    /** The watermark of a stream, or null if it was never cleared. */
    public Stamp watermark(String stream) {
        return watermarks.get(stream);
    }

    /** Every cleared stream's watermark, sorted by stream name: an unmodifiable snapshot. */
    public Map<String, Stamp> watermarks() {
        return Collections.unmodifiableMap(new TreeMap<>(watermarks));
    }

    /** Streams that have visible entries or a watermark, sorted. */
    public Set<String> streams() {
        TreeSet<String> names = new TreeSet<>(streams.keySet());
        names.addAll(watermarks.keySet());
        return Collections.unmodifiableSet(names);
    }

    /** Visible entries of a stream, oldest first. */
    public List<LogEntry> entries(String stream) {
        ConcurrentSkipListMap<Stamp, String> entries = streams.get(stream);
        if (entries == null) {
            return List.of();
        }
        List<LogEntry> out = new ArrayList<>(entries.size());
        entries.forEach((stamp, value) -> out.add(new LogEntry(stream, stamp, value)));
        return out;
    }

    /**
     * A page of a stream's history, oldest first: up to {@code limit} entries strictly before
     * {@code before} (null = the newest entries). Pass the first entry's stamp to get the page before it.
     */
    public List<LogEntry> page(String stream, Stamp before, int limit) {
        if (limit <= 0) {
            throw new IllegalArgumentException("limit must be positive: " + limit);
        }
        ConcurrentSkipListMap<Stamp, String> entries = streams.get(stream);
        if (entries == null) {
            return List.of();
        }
        NavigableMap<Stamp, String> older = before == null ? entries.descendingMap() : entries.headMap(before, false).descendingMap();
        List<LogEntry> out = new ArrayList<>(Math.min(limit, 64));
        for (Map.Entry<Stamp, String> e : older.entrySet()) {
            if (out.size() == limit) {
                break;
            }
            out.add(new LogEntry(stream, e.getKey(), e.getValue()));
        }
        Collections.reverse(out);
        return out;
    }

    /** Number of visible entries in one stream. */
    public int size(String stream) {
        ConcurrentSkipListMap<Stamp, String> entries = streams.get(stream);
        return entries == null ? 0 : entries.size();
    }

    /** Number of visible entries in all streams. */
    public int size() {
        return size;
    }

    /** Merges another log into this one. */
    public void mergeFrom(GrowOnlyLog other) {
        other.watermarks.forEach(this::clear);
        other.streams.forEach((stream, entries) -> entries.forEach((stamp, value) -> append(stream, stamp, value)));
    }

    /** An independent log with the same entries and watermarks; later writes to either do not reach the other. */
    public GrowOnlyLog copy() {
        GrowOnlyLog copy = new GrowOnlyLog();
        copy.mergeFrom(this);
        return copy;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GrowOnlyLog other && watermarks.equals(other.watermarks) && streams.equals(other.streams);
    }

    @Override
    public int hashCode() {
        return Objects.hash(watermarks, streams);
    }

    @Override
    public String toString() {
        return "GrowOnlyLog{watermarks=" + watermarks() + ", entries=" + new TreeMap<>(streams) + "}";
    }
}
