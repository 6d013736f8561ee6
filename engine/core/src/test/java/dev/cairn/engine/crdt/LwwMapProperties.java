package dev.cairn.engine.crdt;

import static dev.cairn.engine.crdt.CrdtArbitraries.REFERENCE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.clock.Stamp;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

class LwwMapProperties {

    record Write(String key, LwwEntry entry) {
    }

    @Provide
    Arbitrary<LwwEntry> entries() {
        return CrdtArbitraries.lwwEntries();
    }

    @Provide
    Arbitrary<List<Write>> writes() {
        return Combinators.combine(Arbitraries.of("k1", "k2", "card-intro/isExpanded"), CrdtArbitraries.lwwEntries())
                .as(Write::new)
                .list().ofMaxSize(15);
    }

    private static LwwMap build(List<Write> writes) {
        LwwMap map = new LwwMap();
        writes.forEach(w -> map.apply(w.key(), w.entry()));
        return map;
    }

    // --- LwwEntry.merge laws ---

    @Property(tries = 500)
    void entryMergeIsCommutative(@ForAll("entries") LwwEntry a, @ForAll("entries") LwwEntry b) {
        assertEquals(LwwEntry.merge(a, b), LwwEntry.merge(b, a));
    }

    @Property(tries = 500)
    void entryMergeIsAssociative(@ForAll("entries") LwwEntry a, @ForAll("entries") LwwEntry b, @ForAll("entries") LwwEntry c) {
        assertEquals(LwwEntry.merge(LwwEntry.merge(a, b), c), LwwEntry.merge(a, LwwEntry.merge(b, c)));
    }

    @Property(tries = 200)
    void entryMergeIsIdempotent(@ForAll("entries") LwwEntry a, @ForAll("entries") LwwEntry b) {
        assertEquals(a, LwwEntry.merge(a, a));
        LwwEntry ab = LwwEntry.merge(a, b);
        assertEquals(ab, LwwEntry.merge(ab, b));
        assertEquals(ab, LwwEntry.merge(ab, a));
    }

    @Property(tries = 500)
    void entryMergePicksTheReferenceMaximum(@ForAll("entries") LwwEntry a, @ForAll("entries") LwwEntry b) {
        LwwEntry m = LwwEntry.merge(a, b);
        assertTrue(m == a || m == b, "merge returns one of its inputs");
        assertEquals(REFERENCE.compare(a, b) >= 0 ? a : b, m);
        assertSame(a, LwwEntry.merge(a, null));
        assertSame(a, LwwEntry.merge(null, a));
    }

    @Property(tries = 500)
    void beatsIsAStrictTotalOrder(@ForAll("entries") LwwEntry a, @ForAll("entries") LwwEntry b) {
        assertFalse(a.beats(a));
        assertFalse(a.beats(b) && b.beats(a), "antisymmetric");
        assertTrue(a.equals(b) || a.beats(b) || b.beats(a), "total: two different entries are ordered");
        assertEquals(Integer.signum(REFERENCE.compare(a, b)) > 0, a.beats(b));
    }

    // --- LwwMap merge laws ---

    @Property(tries = 300)
    void mapMergeIsCommutative(@ForAll("writes") List<Write> x, @ForAll("writes") List<Write> y) {
        LwwMapLaws.commutative(build(x), build(y));
    }

    @Property(tries = 300)
    void mapMergeIsAssociative(@ForAll("writes") List<Write> x, @ForAll("writes") List<Write> y, @ForAll("writes") List<Write> z) {
        LwwMapLaws.associative(build(x), build(y), build(z));
    }

    @Property(tries = 200)
    void mapMergeIsIdempotent(@ForAll("writes") List<Write> x, @ForAll("writes") List<Write> y) {
        LwwMapLaws.idempotent(build(x), build(y));
    }

    @Property(tries = 300)
    void mapEqualsTheReferenceModelInAnyOrder(@ForAll("writes") List<Write> writes, @ForAll Random random) {
        Map<String, LwwEntry> model = new HashMap<>();
        writes.forEach(w -> model.merge(w.key(), w.entry(), CrdtArbitraries::referenceMax));
        List<Write> shuffled = new ArrayList<>(writes);
        Collections.shuffle(shuffled, random);
        shuffled.addAll(writes.subList(0, writes.size() / 2)); // redeliver some
        LwwMap map = build(shuffled);
        assertEquals(model.size(), map.size());
        model.forEach((key, entry) -> assertEquals(entry, map.entry(key), key));
        assertEquals(model.values().stream().filter(e -> !e.isTombstone()).count(), map.liveSize(), "live counter");
        assertEquals(build(writes), map);
    }

    @Property(tries = 300)
    void applyReturnsTrueExactlyWhenTheWinnerChanges(@ForAll("writes") List<Write> writes) {
        LwwMap map = new LwwMap();
        for (Write w : writes) {
            LwwEntry before = map.entry(w.key());
            boolean changed = map.apply(w.key(), w.entry());
            assertEquals(!Objects.equals(before, map.entry(w.key())), changed);
        }
    }

    @Property(tries = 100)
    void copyIsEqualAndIndependent(@ForAll("writes") List<Write> writes, @ForAll("entries") LwwEntry extra) {
        LwwMap map = build(writes);
        LwwMap copy = map.copy();
        assertEquals(map, copy);
        assertEquals(map.hashCode(), copy.hashCode());
        assertEquals(map.liveSize(), copy.liveSize());
        LwwEntry fresh = new LwwEntry("\"new\"", new Stamp(Stamp.pack(9_999, 0), "z"));
        copy.apply("k-only-in-copy", fresh);
        assertNull(map.entry("k-only-in-copy"));
        assertNotEquals(map, copy);
    }

    // --- adversarial examples ---

    private static final Stamp S1 = new Stamp(Stamp.pack(1_000, 0), "a");
    private static final Stamp S2 = new Stamp(Stamp.pack(1_000, 1), "a");

    @Example
    void equalStampsDifferentValuesGreaterTextWinsInBothOrders() {
        LwwEntry nine = new LwwEntry("9", S1);
        LwwEntry ten = new LwwEntry("10", S1);
        for (List<LwwEntry> order : List.of(List.of(nine, ten), List.of(ten, nine))) {
            LwwMap map = new LwwMap();
            order.forEach(e -> map.apply("k", e));
            assertEquals("9", map.value("k"), "text \"9\" > \"10\"");
        }
    }

    @Example
    void valueBeatsTombstoneAtTheSameStamp() {
        LwwEntry value = new LwwEntry("false", S1);
        LwwEntry tomb = LwwEntry.tombstone(S1);
        assertTrue(value.beats(tomb));
        assertFalse(tomb.beats(value));
        LwwMap a = new LwwMap();
        a.apply("k", tomb);
        assertTrue(a.apply("k", value));
        assertEquals(1, a.liveSize());
        LwwMap b = new LwwMap();
        b.apply("k", value);
        assertFalse(b.apply("k", tomb));
        assertEquals(a, b);
    }

    @Example
    void newerTombstoneBeatsOlderValueAndNewerValueBeatsTombstone() {
        LwwMap map = new LwwMap();
        map.apply("k", new LwwEntry("1", S1));
        assertTrue(map.apply("k", LwwEntry.tombstone(S2)));
        assertNull(map.value("k"));
        assertTrue(map.entry("k").isTombstone());
        assertEquals(0, map.liveSize());
        assertEquals(1, map.size());
        assertFalse(map.apply("k", new LwwEntry("1", S1)), "an older write arriving late stays dead");
        assertTrue(map.apply("k", new LwwEntry("2", new Stamp(Stamp.pack(1_001, 0), "b"))));
        assertEquals("2", map.value("k"));
        assertEquals(1, map.liveSize());
    }

    @Example
    void equalEntryIsNotAChange() {
        LwwMap map = new LwwMap();
        assertTrue(map.apply("k", new LwwEntry("1", S1)));
        assertFalse(map.apply("k", new LwwEntry("1", S1)));
        assertTrue(map.apply("t", LwwEntry.tombstone(S1)));
        assertFalse(map.apply("t", LwwEntry.tombstone(S1)));
    }

    @Example
    void replicaIdBreaksTiesAsAString() {
        Stamp nine = new Stamp(S1.hlc(), "phone-9");
        Stamp ten = new Stamp(S1.hlc(), "phone-10");
        LwwMap map = new LwwMap();
        map.apply("k", new LwwEntry("\"from 9\"", nine));
        map.apply("k", new LwwEntry("\"from 10\"", ten));
        assertEquals("\"from 9\"", map.value("k"));
    }

    @Example
    void purgeRemovesOnlyTheGivenTombstone() {
        LwwMap map = new LwwMap();
        map.apply("k", LwwEntry.tombstone(S2));
        assertFalse(map.purgeTombstone("k", LwwEntry.tombstone(S1)), "an older tombstone is not the current one");
        assertFalse(map.purgeTombstone("k", new LwwEntry("1", S2)), "not a tombstone");
        assertTrue(map.purgeTombstone("k", LwwEntry.tombstone(S2)));
        assertEquals(0, map.size());
    }
}
