package dev.cairn.engine.value;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.crdt.LwwEntry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;

/**
 * A typed value as its map entries hold it (Reading, steps 1 to 3): absent, a whole value, or an
 * object assembled from field entries; with the stored version and the live entries a write
 * compares against.
 *
 * @param value the value (null if absent, or not assembled: {@link #forWrite})
 * @param whole true if the root entry holds the value whole (plain or versioned)
 * @param version the stored version S
 * @param rootText the live root entry's text, or null
 * @param rootIsHead true if the live root entry is a head
 * @param fields every live field entry, key to text, sorted
 */
public record StoredValue(JsonNode value, boolean whole, int version, String rootText, boolean rootIsHead,
                          NavigableMap<String, String> fields) {

    /** Key of the root entry's layout member. */
    public static final String MARKER = "$cairn";

    /** True if no live entry holds the value (of a {@link #read}). */
    public boolean absent() {
        return value == null;
    }

    /**
     * Reads the value stored under {@code key} from its root entry (null if never written) and
     * the entries under {@code key#} (tombstones included; they are ignored).
     */
    public static StoredValue read(String key, LwwEntry root, NavigableMap<String, LwwEntry> fieldEntries) {
        return read(key, root, fieldEntries, true);
    }

    /**
     * What a write compares against: as {@link #read} (version, root, live fields) without
     * assembling or parsing the value, which is null unless the root holds it whole.
     */
    public static StoredValue forWrite(String key, LwwEntry root, NavigableMap<String, LwwEntry> fieldEntries) {
        return read(key, root, fieldEntries, false);
    }

    private static StoredValue read(String key, LwwEntry root, NavigableMap<String, LwwEntry> fieldEntries, boolean assemble) {
        NavigableMap<String, String> live = new TreeMap<>();
        Stamp newestField = null;
        for (Map.Entry<String, LwwEntry> e : fieldEntries.entrySet()) {
            LwwEntry entry = e.getValue();
            if (!entry.isTombstone()) {
                live.put(e.getKey(), entry.value());
                newestField = newestField == null || entry.stamp().compareTo(newestField) > 0 ? entry.stamp() : newestField;
            }
        }
        live = Collections.unmodifiableNavigableMap(live);
        String rootText = root == null || root.isTombstone() ? null : root.value();
        if (rootText == null && live.isEmpty()) {
            return new StoredValue(null, false, 0, null, false, live);
        }
        // Only a root that starts like a head or a versioned value needs a look inside.
        boolean marked = rootText != null && rootText.startsWith("{\"" + MARKER + "\":");
        JsonNode rootTree = rootText == null || (!marked && !assemble) ? null : parse(rootText);
        Integer headVersion = marked ? headVersion(rootTree) : null;
        if (rootText != null && headVersion == null && (newestField == null || root.stamp().compareTo(newestField) > 0)) {
            Integer v = marked ? versionedWholeVersion(rootTree) : null;
            return v == null
                    ? new StoredValue(rootTree, true, 0, rootText, false, live)
                    : new StoredValue(rootTree.get("value"), true, v, rootText, false, live);
        }
        // The fields win (a head counts as part of them); a whole root that lost gives no version.
        int version = headVersion == null ? 0 : headVersion;
        return new StoredValue(assemble ? assemble(key, fieldEntries) : null, false, version, rootText, headVersion != null, live);
    }

    /** The object of the live field entries, each path resolved leaf against subtree. */
    private static JsonNode assemble(String key, NavigableMap<String, LwwEntry> fieldEntries) {
        Node tree = new Node();
        int prefix = key.length() + 1;
        for (Map.Entry<String, LwwEntry> e : fieldEntries.entrySet()) {
            if (e.getValue().isTombstone()) {
                continue;
            }
            Node at = tree;
            for (String segment : e.getKey().substring(prefix).split("#", -1)) {
                at = at.children.computeIfAbsent(segment, s -> new Node());
            }
            at.leaf = e.getValue();
        }
        return tree.assemble();
    }

    /** The head text of version {@code version}: {@code {"$cairn":"fields","version":N}}. */
    public static String headText(int version) {
        return "{\"" + MARKER + "\":\"fields\",\"version\":" + version + "}";
    }

    /** The root text of a whole value: plain at version 0, {@code {"$cairn":"value","version":N,"value":X}} above. */
    public static String wholeText(JsonNode value, int version) {
        if (version == 0) {
            return Json.writeTree(value);
        }
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put(MARKER, "value");
        o.put("version", version);
        o.set("value", value);
        return Json.writeTree(o);
    }

    /** N if {@code root} has the exact shape of a head, else null. */
    static Integer headVersion(JsonNode root) {
        if (!root.isObject() || root.size() != 2) {
            return null;
        }
        var names = root.fieldNames();
        if (!MARKER.equals(names.next()) || !"version".equals(names.next()) || !"fields".equals(root.get(MARKER).textValue())) {
            return null;
        }
        return version(root.get("version"), 0);
    }

    /** N if {@code root} has the exact shape of a versioned whole value (N at least 1), else null. */
    static Integer versionedWholeVersion(JsonNode root) {
        if (!root.isObject() || root.size() != 3) {
            return null;
        }
        var names = root.fieldNames();
        if (!MARKER.equals(names.next()) || !"version".equals(names.next()) || !"value".equals(names.next())
                || !"value".equals(root.get(MARKER).textValue())) {
            return null;
        }
        return version(root.get("version"), 1);
    }

    private static Integer version(JsonNode n, int min) {
        if (n == null || !n.isIntegralNumber() || !n.canConvertToInt() || n.intValue() < min) {
            return null;
        }
        return n.intValue();
    }

    static JsonNode parse(String text) {
        try {
            return Json.readCheckedTree(text);
        } catch (IOException e) {
            // map values are checked JSON when they are written or received: this is a bug
            throw new UncheckedIOException("a stored value does not parse: " + Json.describe(e), e);
        }
    }

    /** One path of the field tree: a leaf entry there, deeper entries, or both (leaf against subtree). */
    private static final class Node {
        LwwEntry leaf;
        // insertion order is the map's key order: the members' order
        final Map<String, Node> children = new LinkedHashMap<>();
        private Stamp deepest;

        /** The greatest stamp of the entries below this path (not its own leaf); null if none. */
        Stamp deepest() {
            if (deepest == null) {
                for (Node child : children.values()) {
                    deepest = max(deepest, max(child.leaf == null ? null : child.leaf.stamp(), child.deepest()));
                }
            }
            return deepest;
        }

        /** The object of the deeper entries, each path resolved leaf against subtree. */
        ObjectNode assemble() {
            ObjectNode out = JsonNodeFactory.instance.objectNode();
            children.forEach((segment, child) -> out.set(FieldKeys.unescape(segment), child.resolve()));
            return out;
        }

        JsonNode resolve() {
            if (leaf != null && (children.isEmpty() || leaf.stamp().compareTo(deepest()) > 0)) {
                return parse(leaf.value());
            }
            return assemble();
        }

        private static Stamp max(Stamp a, Stamp b) {
            if (a == null) {
                return b;
            }
            return b == null || a.compareTo(b) >= 0 ? a : b;
        }
    }
}
