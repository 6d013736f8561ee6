package dev.cairn.engine.crdt;

/**
 * The order of value texts in tie-breaks (two different values under one stamp): Unicode code
 * point order, which is also UTF-8 byte order, so PostgreSQL ({@code COLLATE "C"}), the JVM
 * engine and the browser client (crdt.js {@code textGreater}) pick the same winner.
 * {@link String#compareTo} compares UTF-16 code units instead, which differs for characters above
 * U+FFFF against U+E000..U+FFFF.
 */
public final class TextOrder {

    private TextOrder() {
    }

    /** Negative, zero or positive as {@code a} sorts before, with or after {@code b} in code point order. */
    public static int compare(String a, String b) {
        int n = Math.min(a.length(), b.length());
        for (int i = 0; i < n; i++) {
            char x = a.charAt(i);
            char y = b.charAt(i);
            if (x != y) {
                return fixup(x) - fixup(y);
            }
        }
        return a.length() - b.length();
    }

    /**
     * Moves surrogates (U+D800..U+DFFF) above U+E000..U+FFFF, so comparing code units compares
     * code points: the first unit that differs decides, and a surrogate stands for a code point
     * above U+FFFF.
     */
    private static int fixup(char c) {
        if (c < 0xD800) {
            return c;
        }
        return c >= 0xE000 ? c - 0x800 : c + 0x2000;
    }
}
