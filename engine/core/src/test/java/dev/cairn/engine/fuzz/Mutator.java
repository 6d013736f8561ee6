package dev.cairn.engine.fuzz;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Structure-aware mutations of JSON text: it finds numbers, strings, values and objects and
 * replaces them with the boundary cases a hostile sender would try (huge numbers, wrong types,
 * deep nesting, lone surrogates, names at their length limits, duplicate keys, spliced pieces of
 * other valid inputs), besides plain byte flips, truncations and insertions.
 */
public final class Mutator {

    private static final Pattern NUMBER = Pattern.compile("-?\\d+(\\.\\d+)?([eE][+-]?\\d+)?");
    private static final Pattern STRING = Pattern.compile("\"(?:[^\"\\\\]++|\\\\.)*+\"");
    private static final Pattern FIELD = Pattern.compile("\"(?:[^\"\\\\]++|\\\\.)*+\"\\s*:");

    static final String[] NUMBERS = {"0", "-0", "1", "-1", "2", "10", "11", "63", "64", "65", "2147483647", "2147483648", "-2147483649",
        "4294967296", "9007199254740993", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
        "-9223372036854775809", "18446744073709551616", "1.5", "-0.0", "1e308", "1e309", "-1e309", "1e-400", "1E2", "0.1e1",
        "123456789012345678901234567890", "1" + "0".repeat(999), "1" + "0".repeat(1000), "00", "01", "-", "1.", ".5", "+1", "0x10",
        "NaN", "Infinity", "-Infinity", "1e2147483648"};

    static final String[] LITERALS = {"null", "true", "false", "[]", "{}", "\"\"", "\"x\"", "0", "1.5", "[1,2]", "{\"a\":1}",
        "[null]", "{\"\":null}", "nul", "tru", "[", "{", "]", "}", "\"", "TRUE", "None", "undefined"};

    /** Raw insertions: syntax, protocol words, escapes, control and surrogate characters. */
    static final String[] TOKENS = {"{", "}", "[", "]", ",", ":", "\"", "\\", " ", "\n", "\t", "\u0000", "\u001f", "\u007f",
        "\ud800", "\udc00", "\udbff\udfff", "\uffff", "\ufeff", "\u2028", "\ud83d\ude00", "é", "\\u0000", "\\ud800", "\\udc00",
        "\\ud800\\udc00", "\\ud83d\\ude00", "\\u12", "\\x41", "\\", "\\\"", "/*c*/", "//", "'", "NaN", "null", "true", "false",
        ",\"type\":\"push\"", ",\"type\":\"hello\"", ",\"batch\":1", ",\"cursor\":-1", ",\"changes\":[]", ",\"changes\":{}",
        ",\"seq\":1", ",\"protocol\":2", ",\"replica\":\"r\"", ",\"op\":\"set\"", ",\"op\":\"append\"", ",\"op\":\"clear\"",
        ",\"op\":\"delete\"", ",\"value\":1", ",\"key\":\"k\"", ",\"stream\":\"s\"", ",\"section\":\"chat\"",
        ",\"stamp\":\"0190a1b2c3d40000@r\"", ",\"deleted\":true", ",\"deleted\":\"yes\"", ",\"clearedUpTo\":\"0190a1b2c3d40000@r\"",
        ",\"entries\":[]", ",\"entries\":{}", ",\"kind\":\"map\"", ",\"kind\":\"log\"", ",\"version\":1", ",\"version\":2",
        ",\"format\":\"cairn-export\"", ",\"sections\":{}", ",\"supported\":[1]", ",\"x\":1", ",\"__proto__\":{}"};

    /** Replacements for string literals: names at their limits, stamps, sections, escapes. */
    static final String[] STRINGS = {"", "a", "push", "hello", "ping", "pong", "ack", "changes", "welcome", "caught-up", "error",
        "set", "delete", "append", "clear", "map", "log", "cairn-export", "cards", "chat", "consent", "preferences", "progress",
        "ui", "memory", "features", "components", "state", "nosuch", "Cards", "1abc", "a".repeat(64), "a".repeat(65),
        "malformed-frame", "invalid-change", "protocol-version", "nosuch-code",
        "0190a1b2c3d40000@r", "0190A1B2C3D40000@r", "0190a1b2c3d4000@r", "0190a1b2c3d400000@r", "ffffffffffffffff@r",
        "7fffffffffffffff@r", "0000000000000000@r", "0190a1b2c3d40000@", "0190a1b2c3d40000r", "0190a1b2c3d40000@r@s",
        "0190a1b2c3d40000@" + "r".repeat(64), "0190a1b2c3d40000@" + "r".repeat(65), "0190a1b2c3d40000@r r", "0190a1b2c3d40000@\u00e9",
        "\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660\u0661\u0662\u0663\u0664\u0665\u0666@r",
        "\\u0000", "\\ud800", "\\udc00x", "\\ud800\\udc00", "\\ud83d\\ude00", "a\\nb", "\\t", "\\/", "\\\\", "\ud800", "\udc00",
        "\ud83d\ude00", "k\u0000", "k\u001f", "\u202e", "k/with/slashes", "k".repeat(512), "k".repeat(513),
        "\ud83d\ude00".repeat(256), "\ud83d\ude00".repeat(257), "1970-01-01T00:00:00Z"};

    /** Nesting depths around the limits (values 32, parser 64). */
    static final int[] DEPTHS = {1, 2, 31, 32, 33, 60, 62, 63, 64, 65, 100, 1000, 20_000};

    private final List<String> pieces;
    private final int[] lengths;
    /** Longest input worth making: twice the largest limit. */
    private final int cap;

    /**
     * @param pieces valid inputs whose pieces are spliced in
     * @param lengths total lengths worth padding an input to (a target's size limits, and one more)
     */
    public Mutator(List<String> pieces, int... lengths) {
        this.pieces = pieces;
        this.lengths = lengths;
        int longest = 0;
        for (int n : lengths) {
            longest = Math.max(longest, n);
        }
        this.cap = Math.max(64 << 10, 2 * longest);
    }

    /** One to {@code max} mutations of {@code input}. */
    public String mutate(String input, Random r, int max) {
        String s = input;
        int n = 1 + r.nextInt(max);
        for (int i = 0; i < n; i++) {
            s = mutateOnce(s, r);
            if (s.length() > cap) {
                s = s.substring(0, cap); // past every limit already: bigger only costs time
            }
        }
        return s;
    }

    public String mutateOnce(String s, Random r) {
        switch (r.nextInt(16)) {
            case 0: return flipChar(s, r);
            case 1: return truncate(s, r);
            case 2: return deleteRange(s, r);
            case 3: return insert(s, r, pick(TOKENS, r));
            case 4: return duplicateRange(s, r);
            case 5: return replaceMatch(s, r, NUMBER, pick(NUMBERS, r));
            case 6: return replaceMatch(s, r, STRING, quote(pick(STRINGS, r)));
            case 7: return replaceValue(s, r, pick(LITERALS, r));
            case 8: return replaceValue(s, r, nest(pick(DEPTHS, r), r));
            case 9: return splice(s, r);
            case 10: return duplicateObject(s, r);
            case 11: return duplicateField(s, r);
            case 12: return renameField(s, r);
            case 13: return padTo(s, r);
            case 14: return wrap(s, r);
            default: return replaceMatch(s, r, STRING, quote(randomText(r)));
        }
    }

    // ------------------------------------------------------------------ byte level (for the wire)

    /** Invalid or surprising UTF-8: overlong, surrogates, beyond U+10FFFF, stray continuation, truncated sequences. */
    static final byte[][] BAD_UTF8 = {{(byte) 0xFF}, {(byte) 0xC0, (byte) 0x80}, {(byte) 0xC1, (byte) 0xBF},
        {(byte) 0xED, (byte) 0xA0, (byte) 0x80}, {(byte) 0xED, (byte) 0xBF, (byte) 0xBF}, {(byte) 0xE2, (byte) 0x82},
        {(byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80}, {(byte) 0x80}, {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF},
        {(byte) 0xF0, (byte) 0x9F, (byte) 0x98}, {(byte) 0xE0, (byte) 0x80, (byte) 0xAF}, {(byte) 0xFE, (byte) 0xFF}};

    /** Mutates the UTF-8 encoding of {@code input}: mostly text mutations, sometimes raw byte damage. */
    public byte[] mutateBytes(String input, Random r, int max) {
        String text = mutate(input, r, max);
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        if (r.nextInt(4) != 0 || b.length == 0) {
            return b;
        }
        int at = r.nextInt(b.length + 1);
        if (r.nextBoolean()) {
            byte[] bad = BAD_UTF8[r.nextInt(BAD_UTF8.length)];
            byte[] out = new byte[b.length + bad.length];
            System.arraycopy(b, 0, out, 0, at);
            System.arraycopy(bad, 0, out, at, bad.length);
            System.arraycopy(b, at, out, at + bad.length, b.length - at);
            return out;
        }
        byte[] out = b.clone();
        int i = Math.min(at, out.length - 1);
        out[i] = (byte) (out[i] ^ (1 << r.nextInt(8)));
        return out;
    }

    // ------------------------------------------------------------------ operations

    private static String flipChar(String s, Random r) {
        if (s.isEmpty()) {
            return pick(TOKENS, r);
        }
        int i = r.nextInt(s.length());
        char c = r.nextInt(3) == 0 ? (char) r.nextInt(0x10000) : (char) (s.charAt(i) ^ (1 << r.nextInt(7)));
        return s.substring(0, i) + c + s.substring(i + 1);
    }

    private static String truncate(String s, Random r) {
        return s.isEmpty() ? s : r.nextBoolean() ? s.substring(0, r.nextInt(s.length())) : s.substring(r.nextInt(s.length()));
    }

    private static String deleteRange(String s, Random r) {
        if (s.length() < 2) {
            return "";
        }
        int a = r.nextInt(s.length());
        int b = Math.min(s.length(), a + 1 + r.nextInt(Math.min(32, s.length())));
        return s.substring(0, a) + s.substring(b);
    }

    private static String insert(String s, Random r, String piece) {
        int at = r.nextInt(s.length() + 1);
        return s.substring(0, at) + piece + s.substring(at);
    }

    private static String duplicateRange(String s, Random r) {
        if (s.isEmpty()) {
            return s;
        }
        int a = r.nextInt(s.length());
        int b = Math.min(s.length(), a + 1 + r.nextInt(64));
        return insert(s, r, s.substring(a, b));
    }

    private static String replaceMatch(String s, Random r, Pattern pattern, String replacement) {
        List<int[]> spans = spans(s, pattern);
        if (spans.isEmpty()) {
            return insert(s, r, replacement);
        }
        int[] span = spans.get(r.nextInt(spans.size()));
        return s.substring(0, span[0]) + replacement + s.substring(span[1]);
    }

    /** Replaces a whole value (a number, a string, a literal or a balanced object/array) with {@code value}. */
    private static String replaceValue(String s, Random r, String value) {
        List<int[]> spans = new ArrayList<>(spans(s, NUMBER));
        spans.addAll(spans(s, STRING));
        int[] obj = balanced(s, r);
        if (obj != null) {
            spans.add(obj);
        }
        if (spans.isEmpty()) {
            return insert(s, r, value);
        }
        int[] span = spans.get(r.nextInt(spans.size()));
        return s.substring(0, span[0]) + value + s.substring(span[1]);
    }

    private String splice(String s, Random r) {
        if (pieces.isEmpty()) {
            return s;
        }
        String other = pieces.get(r.nextInt(pieces.size()));
        int[] obj = balanced(other, r);
        String piece = obj != null && r.nextBoolean() ? other.substring(obj[0], obj[1]) : other.substring(r.nextInt(other.length() + 1));
        if (r.nextBoolean()) {
            return replaceValue(s, r, piece);
        }
        return insert(s, r, piece);
    }

    /** Repeats one object (say a change in a batch) so batches reach their limits and carry duplicates. */
    private String duplicateObject(String s, Random r) {
        int[] obj = balanced(s, r);
        if (obj == null) {
            return s;
        }
        String one = s.substring(obj[0], obj[1]);
        int times = Math.min(pick(new int[] {1, 2, 9, 10, 11, 100, 1000}, r), Math.max(1, cap / Math.max(1, one.length())));
        StringBuilder out = new StringBuilder(s.length() + times * (one.length() + 1));
        out.append(s, 0, obj[1]);
        for (int i = 0; i < times; i++) {
            out.append(',').append(one);
        }
        return out.append(s, obj[1], s.length()).toString();
    }

    /** Repeats a {@code "name":value} pair right after itself: a duplicate key. */
    private static String duplicateField(String s, Random r) {
        List<int[]> fields = spans(s, FIELD);
        if (fields.isEmpty()) {
            return s;
        }
        int[] f = fields.get(r.nextInt(fields.size()));
        int end = valueEnd(s, skipSpace(s, f[1]));
        if (end < 0) {
            return s;
        }
        return s.substring(0, end) + "," + s.substring(f[0], end) + s.substring(end);
    }

    /** Renames a field to another known or unknown name. */
    private static String renameField(String s, Random r) {
        List<int[]> fields = spans(s, FIELD);
        if (fields.isEmpty()) {
            return s;
        }
        int[] f = fields.get(r.nextInt(fields.size()));
        String[] names = {"type", "protocol", "replica", "cursor", "batch", "changes", "seq", "change", "op", "section", "key",
            "stream", "value", "stamp", "code", "message", "user", "head", "maxBatch", "format", "version", "sections", "kind",
            "entries", "streams", "deleted", "clearedUpTo", "supported", "Type", "", "\\u0074ype", "type\u0000"};
        return s.substring(0, f[0]) + quote(pick(names, r)) + ":" + s.substring(f[1]);
    }

    /** Grows a string literal so the whole input is exactly one of the boundary lengths. */
    private String padTo(String s, Random r) {
        if (lengths.length == 0) {
            return s;
        }
        int target = lengths[r.nextInt(lengths.length)] + r.nextInt(3) - 1;
        List<int[]> strings = spans(s, STRING);
        if (target <= s.length() || strings.isEmpty()) {
            return s.length() > target && target > 0 ? s.substring(0, target) : s;
        }
        int[] span = strings.get(r.nextInt(strings.size()));
        return s.substring(0, span[1] - 1) + "x".repeat(target - s.length()) + s.substring(span[1] - 1);
    }

    private static String wrap(String s, Random r) {
        return switch (r.nextInt(7)) {
            case 0 -> "[" + s + "]";
            case 1 -> s + pick(new String[] {",{}", " x", "}", "]", "{}", "\n", " ", "\u0000", "//"}, r);
            case 2 -> "\ufeff" + s;
            case 3 -> " \t\r\n" + s + " \n";
            case 4 -> "{\"a\":" + s + "}";
            case 5 -> s + s;
            default -> "";
        };
    }

    // ------------------------------------------------------------------ helpers

    static String nest(int depth, Random r) {
        boolean arrays = r.nextBoolean();
        StringBuilder out = new StringBuilder(depth * 6 + 8);
        for (int i = 0; i < depth; i++) {
            out.append(arrays ? "[" : "{\"a\":");
        }
        out.append(r.nextBoolean() ? "1" : "\"x\"");
        for (int i = 0; i < depth; i++) {
            out.append(arrays ? "]" : "}");
        }
        return out.toString();
    }

    private static String randomText(Random r) {
        int n = r.nextInt(12);
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < n; i++) {
            b.append(r.nextInt(4) == 0 ? (char) r.nextInt(0x10000) : (char) (0x20 + r.nextInt(0x5f)));
        }
        return b.toString().replace("\\", "\\\\").replace("\"", "\\\"");
    }

    private static String quote(String content) {
        return "\"" + content + "\"";
    }

    private static List<int[]> spans(String s, Pattern p) {
        List<int[]> out = new ArrayList<>();
        Matcher m = p.matcher(s);
        while (m.find() && out.size() < 512) {
            out.add(new int[] {m.start(), m.end()});
        }
        return out;
    }

    /** A random balanced {...} or [...] span (string-aware), or null. */
    static int[] balanced(String s, Random r) {
        List<Integer> opens = new ArrayList<>();
        boolean inString = false;
        for (int i = 0; i < s.length() && opens.size() < 512; i++) {
            char c = s.charAt(i);
            if (inString) {
                if (c == '\\') {
                    i++;
                } else if (c == '"') {
                    inString = false;
                }
            } else if (c == '"') {
                inString = true;
            } else if (c == '{' || c == '[') {
                opens.add(i);
            }
        }
        if (opens.isEmpty()) {
            return null;
        }
        int start = opens.get(r.nextInt(opens.size()));
        int end = valueEnd(s, start);
        return end < 0 ? null : new int[] {start, end};
    }

    /** End (exclusive) of the JSON value starting at {@code i}, or -1 if it does not close. */
    static int valueEnd(String s, int i) {
        if (i >= s.length()) {
            return -1;
        }
        char first = s.charAt(i);
        if (first != '{' && first != '[' && first != '"') {
            int j = i;
            while (j < s.length() && ",}] \n\t\r".indexOf(s.charAt(j)) < 0) {
                j++;
            }
            return j == i ? -1 : j;
        }
        int depth = 0;
        boolean inString = false;
        for (int j = i; j < s.length(); j++) {
            char c = s.charAt(j);
            if (inString) {
                if (c == '\\') {
                    j++;
                } else if (c == '"') {
                    inString = false;
                    if (depth == 0) {
                        return j + 1;
                    }
                }
            } else if (c == '"') {
                inString = true;
            } else if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                if (--depth == 0) {
                    return j + 1;
                }
            }
        }
        return -1;
    }

    private static int skipSpace(String s, int i) {
        while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
            i++;
        }
        return i;
    }

    static <T> T pick(T[] options, Random r) {
        return options[r.nextInt(options.length)];
    }

    static int pick(int[] options, Random r) {
        return options[r.nextInt(options.length)];
    }
}
