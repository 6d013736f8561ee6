package dev.cairn.engine.codec;

import java.util.HashSet;
import java.util.Set;

/**
 * Tells, without a parser, whether JSON text is already in the canonical spelling
 * {@link Json#canonicalValue} would give it, for the shapes values usually have: compact objects
 * and arrays of printable-ASCII strings without escapes, {@code true}, {@code false},
 * {@code null} and integers of at most 15 digits (exact as doubles, never {@code -0}), with no
 * duplicate keys. Anything else answers false and takes the parser: false never means "not
 * canonical", only "not known here". A device decoding a catch-up page checks each value this
 * way (issue 13, step 5: the parser was a third of the page decode).
 */
public final class CanonicalScan {

    /** Deeper values take the parser (which enforces {@link Json#MAX_DEPTH}). */
    private static final int MAX_DEPTH = 16;
    private static final int MAX_INT_DIGITS = 15;

    private final String s;
    private int i;

    private CanonicalScan(String s) {
        this.s = s;
    }

    /**
     * True only if {@code json} is one whole JSON value already in canonical spelling, so it can
     * be kept as it is; false sends the value to the parser, which canonicalises or refuses it.
     */
    public static boolean isCanonical(String json) {
        CanonicalScan scan = new CanonicalScan(json);
        return scan.value(0) && scan.i == json.length();
    }

    private boolean value(int depth) {
        if (i >= s.length()) {
            return false;
        }
        char c = s.charAt(i);
        if (c == '"') {
            return string() != null;
        } else if (c == '{') {
            return depth < MAX_DEPTH && object(depth + 1);
        } else if (c == '[') {
            return depth < MAX_DEPTH && array(depth + 1);
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            return integer();
        }
        return literal("true") || literal("false") || literal("null");
    }

    private boolean object(int depth) {
        i++; // {
        if (i < s.length() && s.charAt(i) == '}') {
            i++;
            return true;
        }
        Set<String> keys = new HashSet<>();
        while (true) {
            String key = i < s.length() && s.charAt(i) == '"' ? string() : null;
            if (key == null || !keys.add(key) || i >= s.length() || s.charAt(i++) != ':' || !value(depth)) {
                return false;
            }
            if (i >= s.length()) {
                return false;
            }
            char c = s.charAt(i++);
            if (c == '}') {
                return true;
            }
            if (c != ',') {
                return false;
            }
        }
    }

    private boolean array(int depth) {
        i++; // [
        if (i < s.length() && s.charAt(i) == ']') {
            i++;
            return true;
        }
        while (true) {
            if (!value(depth) || i >= s.length()) {
                return false;
            }
            char c = s.charAt(i++);
            if (c == ']') {
                return true;
            }
            if (c != ',') {
                return false;
            }
        }
    }

    /** A string of printable ASCII without escapes; its content, or null. */
    private String string() {
        int start = ++i;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c == '"') {
                return s.substring(start, i++);
            }
            if (c < 0x20 || c >= 0x7f || c == '\\') {
                return null;
            }
            i++;
        }
        return null;
    }

    /** An integer as the number rule keeps it: no leading zero, no -0, at most 15 digits. */
    private boolean integer() {
        boolean negative = s.charAt(i) == '-';
        if (negative) {
            i++;
        }
        int start = i;
        while (i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9') {
            i++;
        }
        int digits = i - start;
        if (digits == 0 || digits > MAX_INT_DIGITS || (digits > 1 && s.charAt(start) == '0') || (negative && digits == 1 && s.charAt(start) == '0')) {
            return false;
        }
        // a fraction or an exponent follows: not an integer, the parser decides
        return i >= s.length() || (s.charAt(i) != '.' && s.charAt(i) != 'e' && s.charAt(i) != 'E');
    }

    private boolean literal(String word) {
        if (s.startsWith(word, i)) {
            i += word.length();
            return true;
        }
        return false;
    }
}
