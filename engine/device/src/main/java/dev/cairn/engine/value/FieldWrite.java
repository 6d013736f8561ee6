package dev.cairn.engine.value;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.codec.Json;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.NavigableSet;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The changes one write of a typed value makes (Writing in spec/vectors/values/README.md): the
 * minimal set of entry sets and deletes, keys in sorted order, to be applied as one local write.
 */
public final class FieldWrite {

    /** One change: {@code json == null} deletes the key. */
    public record Op(String key, String json) {
    }

    private FieldWrite() {
    }

    /**
     * The changes that write {@code value} under {@code key}.
     *
     * @param stored what the entries hold now
     * @param known the value the app last read (its leaves are the fields it knows); null: none
     * @param knowsAll true after a migration: every live stored entry is known
     * @param fields true for a {@code fields} handle, false for {@code whole}
     * @param appVersion the app's version A
     */
    public static List<Op> plan(String key, StoredValue stored, JsonNode value, JsonNode known, boolean knowsAll,
                                boolean fields, int appVersion) {
        boolean newer = stored.version() > appVersion; // S > A: nothing is deleted, a newer head never lowered
        Set<String> knownLeaves = knowsAll ? stored.fields().keySet() : knownLeaves(key, known);
        Map<String, JsonNode> leaves = fields ? FieldKeys.leaves(key, value) : null;
        TreeMap<String, String> out = new TreeMap<>();
        if (leaves == null) {
            out.put(key, StoredValue.wholeText(value, appVersion));
            if (!newer) {
                for (String k : stored.fields().keySet()) {
                    if (within(k, knownLeaves)) {
                        out.put(k, null);
                    }
                }
            }
            return ops(out);
        }
        NavigableSet<String> newKeys = new TreeSet<>(leaves.keySet());
        leaves.forEach((k, leaf) -> {
            String text = Json.writeTree(leaf);
            if (!text.equals(stored.fields().get(k))) {
                out.put(k, text);
            }
        });
        if (!newer) {
            for (String k : stored.fields().keySet()) {
                if (!newKeys.contains(k) && (within(k, knownLeaves) || above(k, newKeys))) {
                    out.put(k, null);
                }
            }
        }
        String head = StoredValue.headText(appVersion);
        if (!head.equals(stored.rootText()) && !(newer && stored.rootIsHead())) {
            out.put(key, head);
        }
        return ops(out);
    }

    /** The changes of {@code reset()}: the root entry and every live field entry deleted. */
    public static List<Op> reset(String key, StoredValue stored) {
        TreeMap<String, String> out = new TreeMap<>();
        out.put(key, null);
        stored.fields().keySet().forEach(k -> out.put(k, null));
        return ops(out);
    }

    private static Set<String> knownLeaves(String key, JsonNode known) {
        if (known == null) {
            return Set.of();
        }
        Map<String, JsonNode> leaves = FieldKeys.leaves(key, known);
        return leaves == null ? Set.of() : leaves.keySet();
    }

    /** Whether {@code k} is a known leaf's path or lies under one. */
    private static boolean within(String k, Set<String> knownLeaves) {
        if (knownLeaves.contains(k)) {
            return true;
        }
        for (int i = k.lastIndexOf('#'); i > 0; i = k.lastIndexOf('#', i - 1)) {
            if (knownLeaves.contains(k.substring(0, i))) {
                return true;
            }
        }
        return false;
    }

    /** Whether a new leaf lies under {@code k} (a stored leaf replaced by a subtree). */
    private static boolean above(String k, NavigableSet<String> newKeys) {
        String under = newKeys.ceiling(k + '#');
        return under != null && under.startsWith(k + '#');
    }

    private static List<Op> ops(NavigableMap<String, String> changes) {
        List<Op> out = new ArrayList<>(changes.size());
        changes.forEach((k, v) -> out.add(new Op(k, v)));
        return out;
    }
}
