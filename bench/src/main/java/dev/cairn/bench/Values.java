package dev.cairn.bench;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The value shapes of the peers' workloads (/work/shared/peers/RESULTS.md, "Value shapes"), so
 * Cairn writes the same data Yjs and Automerge did.
 */
final class Values {

    private static final long BASE = Instant.parse("2025-01-01T00:00:00Z").toEpochMilli();
    private static final String TEXT80 = "The quick brown fox jumps over the lazy dog while the cat sleeps in the warm sun.";

    private Values() {
    }

    /** card(i): {isExpanded: i%2==0, isVisible: i%3!=0, lastInteraction: ISO(2025-01-01T00:00:00Z + i ms)}. */
    static Map<String, Object> card(int i) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("isExpanded", i % 2 == 0);
        m.put("isVisible", i % 3 != 0);
        m.put("lastInteraction", lastInteraction(i));
        return m;
    }

    static String lastInteraction(int i) {
        return Instant.ofEpochMilli(BASE + i).toString();
    }

    /** The map value of W3/W4: the string "value-i". */
    static String mapValue(int i) {
        return "value-" + i;
    }

    /** Exactly 80 characters of text for chat message j (the peers' chat(j).text). */
    static String chatText(int j) {
        String id = "msg-" + j + " ";
        return id + TEXT80.substring(0, 80 - id.length());
    }

    /** user | assistant, alternating (the peers' chat(j).role). */
    static String chatRole(int j) {
        return j % 2 == 0 ? "user" : "assistant";
    }
}
