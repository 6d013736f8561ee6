package dev.cairn.server.store;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.codec.Json;
import java.io.IOException;

/** What a {@link ServerStore.Guard} reads: the role of a map entry's value. Both stores use it (PostgreSQL mirrors it in SQL). */
final class Guards {

    private Guards() {
    }

    /** The {@code "role"} member of a JSON object value as text, or null (no value, not an object, no role). */
    static String roleOf(String value) {
        if (value == null) {
            return null;
        }
        try {
            JsonNode node = Json.readCheckedTree(value);
            if (node == null || !node.isObject()) {
                return null;
            }
            JsonNode role = node.get("role");
            return role == null || role.isNull() ? null : role.isTextual() ? role.asText() : role.toString();
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * Checks every guard of {@code batches}; {@code value} reads a guard's entry. A failing guard
     * throws, except one of writes only ({@link ServerStore.Guard#writesOnly}): its failure is
     * returned under its batch's store key (the first per key), for the commit to throw if it
     * writes something to that key.
     */
    static java.util.Map<String, GuardFailedException> check(java.util.List<ServerStore.UserBatch> batches,
                                                            java.util.function.Function<ServerStore.Guard, String> value) {
        java.util.Map<String, GuardFailedException> ifWritten = new java.util.HashMap<>();
        for (int i = 0; i < batches.size(); i++) {
            ServerStore.Guard guard = batches.get(i).guard();
            if (guard == null) {
                continue;
            }
            String role = roleOf(value.apply(guard));
            if (role == null || !guard.roles().contains(role)) {
                GuardFailedException failed = new GuardFailedException(guard, role, i);
                if (!guard.writesOnly()) {
                    throw failed;
                }
                ifWritten.putIfAbsent(batches.get(i).user(), failed);
            }
        }
        return ifWritten;
    }
}
