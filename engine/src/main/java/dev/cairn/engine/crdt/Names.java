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
        return key;
    }

    private static boolean isLetter(char c) {
        return c >= 'a' && c <= 'z';
    }
}
