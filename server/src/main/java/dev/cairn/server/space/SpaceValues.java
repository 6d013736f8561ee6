package dev.cairn.server.space;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cairn.engine.codec.Json;
import java.io.IOException;

/**
 * The JSON values of the membership sections, in canonical spelling (members sorted by name, as
 * PROTOCOL.md 1.2's canonical text): {@code members/<user>} {@code {"role":...}}, a user's
 * {@code spaces/<id>} {@code {"name":...,"role":...}} and {@code invitations/<hash>}
 * {@code {"expiresAtMillis":n,"name":...,"role":...}}.
 */
final class SpaceValues {

    private SpaceValues() {
    }

    static String member(String role) {
        return Json.writeTree(Json.MAPPER.createObjectNode().put("role", role));
    }

    static String spaceEntry(String name, String role) {
        return Json.writeTree(Json.MAPPER.createObjectNode().put("name", name).put("role", role));
    }

    static String invitation(long expiresAtMillis, String name, String role) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("expiresAtMillis", expiresAtMillis).put("name", name).put("role", role);
        return Json.writeTree(o);
    }

    /** A stored value as an object (null for a tombstone or a value that is not an object). */
    static JsonNode read(String value) {
        if (value == null) {
            return null;
        }
        try {
            JsonNode node = Json.readCheckedTree(value);
            return node != null && node.isObject() ? node : null;
        } catch (IOException e) {
            return null;
        }
    }

    /** A text member of a stored object value, or null. */
    static String text(String value, String member) {
        JsonNode node = read(value);
        JsonNode m = node == null ? null : node.get(member);
        return m != null && m.isTextual() ? m.asText() : null;
    }

    /** A number member of a stored object value, or {@code fallback}. */
    static long number(String value, String member, long fallback) {
        JsonNode node = read(value);
        JsonNode m = node == null ? null : node.get(member);
        return m != null && m.canConvertToLong() ? m.asLong() : fallback;
    }
}
