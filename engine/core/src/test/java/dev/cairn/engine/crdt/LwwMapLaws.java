package dev.cairn.engine.crdt;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The state-merge laws of {@link LwwMap}, shared by the properties with and without clears. */
final class LwwMapLaws {

    private LwwMapLaws() {
    }

    static LwwMap merged(LwwMap a, LwwMap b) {
        LwwMap out = a.copy();
        out.mergeFrom(b);
        return out;
    }

    static void commutative(LwwMap a, LwwMap b) {
        assertEquals(merged(a, b), merged(b, a));
    }

    static void associative(LwwMap a, LwwMap b, LwwMap c) {
        assertEquals(merged(merged(a, b), c), merged(a, merged(b, c)));
    }

    /** Merging what a state already holds, itself or a part of it, changes nothing. */
    static void idempotent(LwwMap a, LwwMap b) {
        assertEquals(a, merged(a, a));
        LwwMap ab = merged(a, b);
        assertEquals(ab, merged(ab, b));
        assertEquals(ab, merged(ab, a));
    }
}
