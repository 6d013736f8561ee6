package dev.cairn.server.space;

import dev.cairn.engine.clock.HybridClock;
import dev.cairn.engine.crdt.Change;
import dev.cairn.server.store.ServerStore;
import dev.cairn.server.store.ServerStore.MapEntry;
import io.vertx.core.Future;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The reads a membership call makes before its commit: one map entry, a section's live entries,
 * a space's log streams. Each moves the server's clock past what it read, so the call's own
 * writes (stamped by that clock) win over the entries they replace.
 */
final class SpaceReads {

    /** Entries per store read of a section. */
    private static final int PAGE = 1000;

    private final ServerStore store;
    private final HybridClock clock;

    SpaceReads(ServerStore store, HybridClock clock) {
        this.store = store;
        this.clock = clock;
    }

    /** The streams of each log section of a store key (read from its changes: logs have no per-section read). */
    Future<Map<String, List<String>>> logStreams(String key) {
        Map<String, TreeSet<String>> out = new TreeMap<>();
        return readStreams(key, 0, out).map(v -> {
            Map<String, List<String>> result = new TreeMap<>();
            out.forEach((s, names) -> result.put(s, List.copyOf(names)));
            return result;
        });
    }

    private Future<Void> readStreams(String key, long cursor, Map<String, TreeSet<String>> into) {
        return store.readSince(key, cursor, PAGE).compose(page -> {
            for (ServerStore.Sequenced s : page.changes()) {
                clock.advance(s.change().stamp());   // a clear must be stamped after what it clears
                if (s.change() instanceof Change.Append a) {
                    into.computeIfAbsent(a.section(), x -> new TreeSet<>()).add(a.stream());
                }
            }
            return page.more() ? readStreams(key, page.cursor(), into) : Future.succeededFuture();
        });
    }

    /** One map entry (null: none, or a tombstone). */
    Future<MapEntry> entry(String storeKey, String section, String key) {
        return entry(storeKey, section, key, null);
    }

    private Future<MapEntry> entry(String storeKey, String section, String key, String after) {
        // the key is read as a prefix: longer keys that start with it come in the same pages
        return store.readMap(storeKey, section, key, after, PAGE).compose(page -> {
            for (MapEntry e : page.entries()) {
                if (e.key().equals(key)) {
                    clock.advance(e.stamp());   // a write that replaces it (or its tombstone) must beat it
                    return Future.succeededFuture(e.value() == null ? null : e);
                }
            }
            return page.more() ? entry(storeKey, section, key, page.entries().get(page.entries().size() - 1).key())
                    : Future.succeededFuture(null);
        });
    }

    /** The live entries of a map section, by key. */
    Future<Map<String, MapEntry>> liveEntries(String storeKey, String section) {
        return liveEntries(storeKey, section, null, new TreeMap<>());
    }

    private Future<Map<String, MapEntry>> liveEntries(String storeKey, String section, String after, Map<String, MapEntry> into) {
        return store.readMap(storeKey, section, "", after, PAGE).compose(page -> {
            page.entries().forEach(e -> {
                if (e.value() != null) {
                    into.put(e.key(), e);
                }
            });
            return page.more() ? liveEntries(storeKey, section, page.entries().get(page.entries().size() - 1).key(), into)
                    : Future.succeededFuture(into);
        });
    }
}
