package dev.cairn.server;

import dev.cairn.engine.clock.Stamp;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Change objects of PROTOCOL.md 1.2 as JSON text, for pushing raw over a {@link RawSocket}.
 * Values are JSON text too ({@code "\"dark\""}, {@code "true"}, {@code "{\"a\":1}"}).
 */
public final class TestChanges {

    private static final AtomicInteger COUNTER = new AtomicInteger();

    private TestChanges() {
    }

    /** A fresh stamp at the current wall time for {@code replica} (distinct within this JVM). */
    public static String stamp(String replica) {
        return stampAt(System.currentTimeMillis(), replica);
    }

    /** A stamp at {@code millis} (a counter keeps stamps of one millisecond distinct). */
    public static String stampAt(long millis, String replica) {
        return new Stamp(Stamp.pack(millis, COUNTER.incrementAndGet() & 0xFFFF), replica).toString();
    }

    public static String set(String section, String key, String valueJson, String stamp) {
        return "{\"op\":\"set\",\"section\":" + q(section) + ",\"key\":" + q(key) + ",\"value\":" + valueJson + ",\"stamp\":" + q(stamp) + "}";
    }

    public static String delete(String section, String key, String stamp) {
        return "{\"op\":\"delete\",\"section\":" + q(section) + ",\"key\":" + q(key) + ",\"stamp\":" + q(stamp) + "}";
    }

    public static String append(String section, String stream, String valueJson, String stamp) {
        return "{\"op\":\"append\",\"section\":" + q(section) + ",\"stream\":" + q(stream) + ",\"value\":" + valueJson + ",\"stamp\":" + q(stamp) + "}";
    }

    public static String clear(String section, String stream, String stamp) {
        return "{\"op\":\"clear\",\"section\":" + q(section) + ",\"stream\":" + q(stream) + ",\"stamp\":" + q(stamp) + "}";
    }

    /** A valid set on the 'ui' section with a fresh stamp. */
    public static String goodSet(String key, String replica) {
        return set("ui", key, "\"v-" + COUNTER.incrementAndGet() + "\"", stamp(replica));
    }

    /** A JSON string literal (escapes quotes, backslashes and control characters). */
    public static String q(String s) {
        StringBuilder out = new StringBuilder(s.length() + 2).append('"');
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"').toString();
    }

    /** {@code depth} nested arrays around a number: {@code [[[1]]]} for depth 3. */
    public static String nested(int depth) {
        return "[".repeat(depth) + "1" + "]".repeat(depth);
    }
}
