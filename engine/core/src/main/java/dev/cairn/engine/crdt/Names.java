package dev.cairn.engine.crdt;

/** Rules for section names, keys and stream names, checked wherever they enter. */
public final class Names {

    /** Longest key or stream name, in UTF-16 chars. */
    public static final int MAX_KEY_LENGTH = 512;

    private Names() {
    }

    /** Section names: 1-64 chars of a-z, 0-9, '-' and '_', starting with a letter. */
    public static String checkSection(String section) {
        if (section == null || section.isEmpty() || section.length() > 64 || !isLetter(section.charAt(0))) {
            throw new IllegalArgumentException("invalid section name '" + section
                    + "': use 1-64 characters of a-z, 0-9, '-' and '_', starting with a letter");
        }
        for (int i = 1; i < section.length(); i++) {
            char c = section.charAt(i);
            if (!isLetter(c) && !(c >= '0' && c <= '9') && c != '-' && c != '_') {
                throw new IllegalArgumentException("invalid section name '" + section
                        + "': use 1-64 characters of a-z, 0-9, '-' and '_', starting with a letter");
            }
        }
        return section;
    }

    /** Keys and stream names: 1-512 chars, no control characters (NUL separates them on disk). */
    public static String checkKey(String key, String what) {
        if (key == null || key.isEmpty() || key.length() > MAX_KEY_LENGTH) {
            throw new IllegalArgumentException("invalid " + what + " '" + key + "': must be 1-" + MAX_KEY_LENGTH + " characters");
        }
        for (int i = 0; i < key.length(); i++) {
            if (key.charAt(i) < 0x20) {
                throw new IllegalArgumentException("invalid " + what + " '" + key.replaceAll("\\p{Cntrl}", "?")
                        + "': control characters are not allowed");
            }
        }
        checkSurrogates(key, what);
        return key;
    }

    /**
     * Deepest nesting a value may have. Lower than the frame limit ({@code Json.MAX_DEPTH}), so
     * a value accepted anywhere still fits inside the deepest frame or document that carries it.
     */
    public static final int MAX_VALUE_DEPTH = 32;

    /**
     * Refuses a JSON value nested deeper than {@link #MAX_VALUE_DEPTH} or holding a lone UTF-16
     * surrogate (which UTF-8 cannot carry: stores and the wire would turn it into '?', and
     * replicas would diverge). One cheap scan; string contents only count for surrogates.
     */
    public static String checkValueDepth(String json) {
        if (json == null) {
            return null;
        }
        // One pass over the text: this runs for every write.
        int depth = 0;
        boolean inString = false;
        for (int i = 0; i < json.length(); i++) {
            char c = json.charAt(i);
            if (Character.isSurrogate(c)) {
                if (Character.isHighSurrogate(c) && i + 1 < json.length() && Character.isLowSurrogate(json.charAt(i + 1))) {
                    i++;
                    continue;
                }
                throw loneSurrogate("value", i);
            }
            if (inString) {
                if (c == '\\') {
                    i++; // an escape is ASCII; the escaped character cannot be a raw surrogate
                } else if (c == '"') {
                    inString = false;
                }
            } else if (c == '"') {
                inString = true;
            } else if (c == '{' || c == '[') {
                if (++depth > MAX_VALUE_DEPTH) {
                    throw new IllegalArgumentException("value is nested deeper than " + MAX_VALUE_DEPTH + " levels");
                }
            } else if (c == '}' || c == ']') {
                depth--;
            }
        }
        return json;
    }

    /** Throws if the text has a high surrogate not followed by a low one, or a low one alone. */
    public static void checkSurrogates(String text, String what) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (Character.isSurrogate(c)) {
                if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                    i++;
                    continue;
                }
                throw loneSurrogate(what, i);
            }
        }
    }

    private static IllegalArgumentException loneSurrogate(String what, int index) {
        return new IllegalArgumentException(what + " holds a lone UTF-16 surrogate at index " + index + ": not valid Unicode");
    }

    private static boolean isLetter(char c) {
        return c >= 'a' && c <= 'z';
    }
}
