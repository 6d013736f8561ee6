package dev.cairn.engine.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;

/**
 * {@link CanonicalScan} never vouches for text the parser would spell differently or refuse: on
 * generated values in the scan's shapes (which it must accept) and on the same values with one
 * character inserted, replaced or a key duplicated (which it may accept only if the parser keeps
 * them as they are).
 */
class CanonicalScanProperties {

    private static final String NOISE = " 0-.eE+\\\"\u00e9\u0001,:}]{[1x/";

    @Property(tries = 300)
    void whatTheScanAcceptsIsWhatTheParserKeepsAsItIs(@ForAll long seed) {
        Random r = new Random(seed);
        for (int n = 0; n < 50; n++) {
            String value = value(r, 0);
            assertTrue(CanonicalScan.isCanonical(value), value);
            assertEquals(value, Json.canonicalValue(value), "a generated value is canonical");
            String changed = perturb(value, r);
            if (CanonicalScan.isCanonical(changed)) {
                String canonical;
                try {
                    canonical = Json.canonicalValue(changed);
                } catch (IllegalArgumentException e) {
                    throw new AssertionError("the scan accepted what the parser refuses: " + changed, e);
                }
                assertEquals(changed, canonical, "the scan accepted a spelling the parser changes");
            }
        }
    }

    private static String value(Random r, int depth) {
        int kind = r.nextInt(depth > 3 ? 4 : 6);
        switch (kind) {
            case 0:
                return string(r);
            case 1:
                return new String[] {"true", "false", "null"}[r.nextInt(3)];
            case 2:
                long v = r.nextInt(3) == 0 ? r.nextInt(10) : (long) (r.nextDouble() * Math.pow(10, 1 + r.nextInt(15)));
                return Long.toString(r.nextBoolean() && v != 0 ? -v : v);
            case 3:
                return string(r);
            case 4: {
                StringBuilder b = new StringBuilder("{");
                int fields = r.nextInt(4);
                for (int f = 0; f < fields; f++) {
                    b.append(f == 0 ? "" : ",").append("\"k").append(f).append("\":").append(value(r, depth + 1));
                }
                return b.append('}').toString();
            }
            default: {
                StringBuilder b = new StringBuilder("[");
                int items = r.nextInt(4);
                for (int k = 0; k < items; k++) {
                    b.append(k == 0 ? "" : ",").append(value(r, depth + 1));
                }
                return b.append(']').toString();
            }
        }
    }

    private static String string(Random r) {
        StringBuilder b = new StringBuilder("\"");
        int len = r.nextInt(12);
        for (int k = 0; k < len; k++) {
            char c = (char) (0x20 + r.nextInt(0x5f));
            b.append(c == '"' || c == '\\' ? 'q' : c);
        }
        return b.append('"').toString();
    }

    private static String perturb(String value, Random r) {
        int at = r.nextInt(value.length() + 1);
        char noise = NOISE.charAt(r.nextInt(NOISE.length()));
        switch (r.nextInt(3)) {
            case 0:
                return value.substring(0, at) + noise + value.substring(at);
            case 1:
                return at == value.length() ? value + noise : value.substring(0, at) + noise + value.substring(at + 1);
            default:
                return value.replace("\"k1\"", "\"k0\""); // a duplicate key where there are two fields
        }
    }
}
