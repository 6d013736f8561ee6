package dev.cairn.engine.value;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Defaults for added fields (Reading, step 4): the default value deep-merged with the stored
 * object. Stored members win; objects merge member by member to any depth; arrays and scalars
 * replace.
 */
public final class DefaultMerge {

    private DefaultMerge() {
    }

    /** {@code stored} with the members only {@code defaults} has filled in, at any depth. */
    public static JsonNode merge(JsonNode defaults, JsonNode stored) {
        if (defaults == null || !defaults.isObject() || !stored.isObject()) {
            return stored;
        }
        ObjectNode out = JsonNodeFactory.instance.objectNode();
        defaults.fields().forEachRemaining(d -> {
            JsonNode s = stored.get(d.getKey());
            out.set(d.getKey(), s == null ? d.getValue() : merge(d.getValue(), s));
        });
        stored.fields().forEachRemaining(s -> {
            if (!out.has(s.getKey())) {
                out.set(s.getKey(), s.getValue());
            }
        });
        return out;
    }
}
