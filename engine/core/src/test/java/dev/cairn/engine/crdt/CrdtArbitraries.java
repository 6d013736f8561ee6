package dev.cairn.engine.crdt;

import dev.cairn.engine.clock.Stamp;
import java.util.Comparator;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Tuple;

/**
 * Generators shared by the CRDT properties. Pools are deliberately tiny so that equal stamps,
 * equal keys and duplicate changes are common: that is where merge rules go wrong.
 */
final class CrdtArbitraries {

    /** JSON values as compact text; "10" < "9" as text, so the tie-break by text is visible. */
    static final String[] VALUES = {"1", "2", "9", "10", "\"x\"", "\"y\"", "null", "true", "false", "{\"a\":[1,2]}", "[]"};

    private CrdtArbitraries() {
    }

    static Arbitrary<Stamp> stamps() {
        return Combinators.combine(
                        Arbitraries.longs().between(1_000, 1_003),
                        Arbitraries.integers().between(0, 2),
                        Arbitraries.of("a", "b", "phone-10", "phone-9"))
                .as((millis, counter, replica) -> new Stamp(Stamp.pack(millis, counter), replica));
    }

    static Arbitrary<String> values() {
        return Arbitraries.of(VALUES);
    }

    /** A value or a tombstone (null). */
    static Arbitrary<String> valuesOrTombstones() {
        return Arbitraries.frequencyOf(Tuple.of(3, values()), Tuple.of(1, Arbitraries.just(null)));
    }

    static Arbitrary<LwwEntry> lwwEntries() {
        return Combinators.combine(valuesOrTombstones(), stamps()).as(LwwEntry::new);
    }

    /**
     * The LWW order written independently of {@link LwwEntry#beats}: stamp, then a value beats a
     * tombstone, then the greater value text.
     */
    static final Comparator<LwwEntry> REFERENCE = Comparator
            .comparing(LwwEntry::stamp)
            .thenComparing(e -> e.value() != null)
            .thenComparing(e -> e.value() == null ? "" : e.value());

    static LwwEntry referenceMax(LwwEntry a, LwwEntry b) {
        if (a == null) {
            return b;
        }
        return REFERENCE.compare(b, a) > 0 ? b : a;
    }
}
