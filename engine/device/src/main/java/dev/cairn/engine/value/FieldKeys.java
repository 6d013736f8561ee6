package dev.cairn.engine.value;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.crdt.Names;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Field entry keys ({@code K#a#b}, member names escaped {@code ~} to {@code ~0} and {@code #} to
 * {@code ~1}) and the splitting rule: which parts of an object are stored as their own entry.
 */
public final class FieldKeys {

    /** Deepest path of a field entry: {@code K#a#b#c#d}. */
    public static final int MAX_SEGMENTS = 4;

    private FieldKeys() {
    }

    /** A member name as one segment of a field key. */
    public static String escape(String name) {
        if (name.indexOf('~') < 0 && name.indexOf('#') < 0) {
            return name;
        }
        return name.replace("~", "~0").replace("#", "~1");
    }

    /** The member name of one segment; a {@code ~} not followed by 0 or 1 is kept as it is. */
    public static String unescape(String segment) {
        if (segment.indexOf('~') < 0) {
            return segment;
        }
        StringBuilder out = new StringBuilder(segment.length());
        for (int i = 0; i < segment.length(); i++) {
            char c = segment.charAt(i);
            if (c == '~' && i + 1 < segment.length() && (segment.charAt(i + 1) == '0' || segment.charAt(i + 1) == '1')) {
                out.append(segment.charAt(i + 1) == '0' ? '~' : '#');
                i++;
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    /**
     * The leaves of {@code value} stored under {@code key}, field key to leaf JSON in member order,
     * or null if the value is not a non-empty splittable object (it is then written whole).
     */
    public static Map<String, JsonNode> leaves(String key, JsonNode value) {
        if (!splits(key, value)) {
            return null;
        }
        Map<String, JsonNode> out = new LinkedHashMap<>();
        addMembers(key, value, 1, out);
        return out;
    }

    /** The members of {@code object} (its own path is {@code prefix}) at {@code depth} path segments. */
    private static void addMembers(String prefix, JsonNode object, int depth, Map<String, JsonNode> out) {
        var fields = object.fields();
        while (fields.hasNext()) {
            var member = fields.next();
            String key = prefix + '#' + escape(member.getKey());
            if (depth < MAX_SEGMENTS && splits(key, member.getValue())) {
                addMembers(key, member.getValue(), depth + 1, out);
            } else {
                out.put(key, member.getValue());
            }
        }
    }

    /**
     * Whether an object at path {@code key} is split into its members: non-empty, no member name
     * with a C0 control character (keys may not hold one), every member's key within the key limit.
     */
    private static boolean splits(String key, JsonNode value) {
        if (!value.isObject() || value.isEmpty()) {
            return false;
        }
        var names = value.fieldNames();
        while (names.hasNext()) {
            String name = names.next();
            for (int i = 0; i < name.length(); i++) {
                if (name.charAt(i) < 0x20) {
                    return false;
                }
            }
            if (key.length() + 1 + escape(name).length() > Names.MAX_KEY_LENGTH) {
                return false;
            }
        }
        return true;
    }
}
