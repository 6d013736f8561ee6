package dev.cairn.engine.crdt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
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

/**
 * The merge laws of {@link LwwMap} with its whole-map clear watermark: writes and clears applied
 * in any order, any number of times, give the same map; merging maps is commutative, associative
 * and idempotent; and the result equals a reference model (max watermark, per key the maximum
 * entry above it). Also the purge rule: a clear leaves no entry (value or tombstone) at or below it.
 */
class LwwMapClearProperties {

    /** A write of one key, or (key == null) a clear of the whole map up to the entry's stamp. */
    record Op(String key, LwwEntry entry) {
        boolean isClear() {
            return key == null;
        }
    }

    @Provide
    Arbitrary<List<Op>> ops() {
        Arbitrary<Op> write = Combinators.combine(Arbitraries.of("k1", "k2", "card-intro/isExpanded"), CrdtArbitraries.lwwEntries())
                .as(Op::new);
        Arbitrary<Op> clear = CrdtArbitraries.stamps().map(s -> new Op(null, LwwEntry.tombstone(s)));
        return Arbitraries.frequencyOf(net.jqwik.api.Tuple.of(4, write), net.jqwik.api.Tuple.of(1, clear)).list().ofMaxSize(15);
    }

    private static boolean apply(LwwMap map, Op op) {
        return op.isClear() ? map.clear(op.entry().stamp()) : map.apply(op.key(), op.entry());
    }

    private static LwwMap build(List<Op> ops) {
        LwwMap map = new LwwMap();
        ops.forEach(op -> apply(map, op));
        return map;
    }

    @Property(tries = 300)
    void mergeIsCommutative(@ForAll("ops") List<Op> x, @ForAll("ops") List<Op> y) {
        LwwMapLaws.commutative(build(x), build(y));
    }

    @Property(tries = 300)
    void mergeIsAssociative(@ForAll("ops") List<Op> x, @ForAll("ops") List<Op> y, @ForAll("ops") List<Op> z) {
        LwwMapLaws.associative(build(x), build(y), build(z));
    }

    @Property(tries = 200)
    void mergeIsIdempotent(@ForAll("ops") List<Op> x, @ForAll("ops") List<Op> y) {
        LwwMapLaws.idempotent(build(x), build(y));
    }

    @Property(tries = 300)
    void anyOrderWithRedeliveryEqualsTheReferenceModel(@ForAll("ops") List<Op> ops, @ForAll Random random) {
        Stamp mark = null;
        for (Op op : ops) {
            if (op.isClear() && (mark == null || op.entry().stamp().compareTo(mark) > 0)) {
                mark = op.entry().stamp();
            }
        }
        Map<String, LwwEntry> model = new HashMap<>();
        for (Op op : ops) {
            if (!op.isClear() && (mark == null || op.entry().stamp().compareTo(mark) > 0)) {
                model.merge(op.key(), op.entry(), CrdtArbitraries::referenceMax);
            }
        }
        List<Op> shuffled = new ArrayList<>(ops);
        Collections.shuffle(shuffled, random);
        shuffled.addAll(ops.subList(0, ops.size() / 2)); // redeliver some
        LwwMap map = build(shuffled);
        assertEquals(mark, map.watermark(), "the watermark is the max of the clears");
        assertEquals(model.size(), map.size(), "nothing at or below the watermark is kept: " + map);
        model.forEach((key, entry) -> assertEquals(entry, map.entry(key), key));
        assertEquals(model.values().stream().filter(e -> !e.isTombstone()).count(), map.liveSize(), "live counter");
        assertEquals(build(ops), map);
    }

    @Property(tries = 300)
    void aClearPurgesEverythingItCoversAndKeepsOlderWritesOut(@ForAll("ops") List<Op> ops, @ForAll("ops") List<Op> later) {
        LwwMap map = build(ops);
        Stamp upTo = new Stamp(Stamp.pack(1_001, 1), "b"); // inside the range the arbitraries draw from
        map.clear(upTo);
        map.forEach((key, entry) -> assertTrue(entry.stamp().compareTo(upTo) > 0, "kept " + key + "=" + entry + " under " + upTo));
        for (Op op : later) {
            LwwMap before = map.copy();
            boolean changed = apply(map, op);
            if (!op.isClear() && op.entry().stamp().compareTo(map.watermark()) <= 0) {
                assertFalse(changed, "a write at or below the watermark is dropped: " + op);
                assertEquals(before, map);
            }
            assertEquals(!before.equals(map), changed, "apply/clear report exactly whether the map changed: " + op);
        }
    }

    @Example
    void aTombstoneOfASingleDeleteStaysUntilAClearCoversIt() {
        Stamp s1 = Stamp.parse("0000000000010000@a");
        Stamp s2 = Stamp.parse("0000000000020000@a");
        Stamp s3 = Stamp.parse("0000000000030000@a");
        LwwMap map = new LwwMap();
        map.apply("k", new LwwEntry("1", s1));
        map.apply("k", LwwEntry.tombstone(s2));
        assertEquals(1, map.size(), "the tombstone is kept: it stops an older write of an offline replica");
        assertFalse(map.apply("k", new LwwEntry("old", s1)));
        assertTrue(map.clear(s3));
        assertEquals(0, map.size(), "the clear purged the tombstone");
        assertNull(map.entry("k"));
        assertFalse(map.apply("k", new LwwEntry("older", s2)), "the watermark keeps the older write out");
        assertFalse(map.clear(s2), "a lower clear does not move the watermark");
        assertEquals(s3, map.watermark());
        assertTrue(map.apply("k", new LwwEntry("new", Stamp.parse("0000000000040000@b"))));
        assertEquals("new", map.value("k"));
        assertTrue(Objects.equals(map, map.copy()));
    }
}
