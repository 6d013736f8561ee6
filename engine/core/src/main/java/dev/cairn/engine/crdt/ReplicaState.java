package dev.cairn.engine.crdt;

import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * All sections of one user's state on one replica: section name to {@link LwwMap} or
 * {@link GrowOnlyLog}. Pure: no I/O, no clock. Applying the same set of changes in any order,
 * with any duplicates, yields equal states (and equal {@link dev.cairn.engine.codec.CanonicalJson} encodings).
 *
 * <p>Thread-safety: reads from any thread; {@link #apply} must be serialized by the caller.
 */
public final class ReplicaState {

    private final Function<String, SectionKind> kinds;
    private final ConcurrentHashMap<String, LwwMap> maps = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, GrowOnlyLog> logs = new ConcurrentHashMap<>();

    /** @param kinds the kind of each known section; returns null for an unknown section */
    public ReplicaState(Function<String, SectionKind> kinds) {
        this.kinds = Objects.requireNonNull(kinds, "kinds");
    }

    /** Checks that a change fits the known sections without applying it. */
    public void check(Change change) {
        SectionKind kind = kinds.apply(change.section());
        if (kind == null) {
            throw new UnknownSectionException("unknown section '" + change.section() + "'");
        }
        SectionKind needed = change.kind();
        if (kind != needed) {
            throw new UnknownSectionException("section '" + change.section() + "' is a " + kind.wireName()
                    + " section; a " + needed.wireName() + " change cannot apply to it");
        }
    }

    /** Merges one change; returns true if the visible state changed. */
    public boolean apply(Change change) {
        check(change);
        if (change instanceof Change.Put put) {
            return map(put.section()).apply(put.key(), put.entry());
        } else if (change instanceof Change.Append append) {
            return log(append.section()).append(append.stream(), append.stamp(), append.value());
        } else {
            Change.Clear clear = (Change.Clear) change;
            if (clear.isWholeSection()) {
                return map(clear.section()).clear(clear.stamp());
            }
            return log(clear.section()).clear(clear.stream(), clear.stamp());
        }
    }

    /** The kind of a section, or null if this replica does not know the section. */
    public SectionKind kind(String section) {
        return kinds.apply(section);
    }

    /** The map of a map section (created empty on first use). */
    public LwwMap map(String section) {
        return maps.computeIfAbsent(section, s -> new LwwMap());
    }

    /** The log of a log section (created empty on first use). */
    public GrowOnlyLog log(String section) {
        return logs.computeIfAbsent(section, s -> new GrowOnlyLog());
    }

    /** Sections that hold anything, sorted, with their kinds. */
    public Map<String, SectionKind> sections() {
        TreeMap<String, SectionKind> out = new TreeMap<>();
        maps.forEach((name, map) -> {
            if (map.size() > 0 || map.watermark() != null) {
                out.put(name, SectionKind.MAP);
            }
        });
        logs.forEach((name, log) -> {
            if (log.size() > 0 || !log.watermarks().isEmpty()) {
                out.put(name, SectionKind.LOG);
            }
        });
        return Collections.unmodifiableMap(out);
    }

    /** Live entries of a section (map keys that are not tombstones, or visible log entries). */
    public int liveSize(String section) {
        SectionKind kind = kinds.apply(section);
        if (kind == SectionKind.MAP) {
            LwwMap map = maps.get(section);
            return map == null ? 0 : map.liveSize();
        }
        GrowOnlyLog log = logs.get(section);
        return log == null ? 0 : log.size();
    }
}
