package dev.cairn.engine.crdt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.clock.Stamp;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.constraints.IntRange;

class GrowOnlyLogProperties {

    sealed interface Op permits Append, Clear {
        String stream();

        Stamp stamp();
    }

    record Append(String stream, Stamp stamp, String value) implements Op {
    }

    record Clear(String stream, Stamp stamp) implements Op {
    }

    private static final List<String> STREAMS = List.of("conv-1", "conv-2");

    @Provide
    Arbitrary<List<Op>> ops() {
        Arbitrary<String> streams = Arbitraries.of(STREAMS);
        Arbitrary<Op> append = Combinators.combine(streams, CrdtArbitraries.stamps(), CrdtArbitraries.values()).as(Append::new);
        Arbitrary<Op> clear = Combinators.combine(streams, CrdtArbitraries.stamps()).as(Clear::new);
        return Arbitraries.frequencyOf(Tuple.of(5, append), Tuple.of(1, clear)).list().ofMaxSize(20);
    }

    private static GrowOnlyLog build(List<Op> ops) {
        GrowOnlyLog log = new GrowOnlyLog();
        ops.forEach(op -> apply(log, op));
        return log;
    }

    private static boolean apply(GrowOnlyLog log, Op op) {
        return op instanceof Append a ? log.append(a.stream(), a.stamp(), a.value()) : log.clear(op.stream(), op.stamp());
    }

    private static GrowOnlyLog merged(GrowOnlyLog a, GrowOnlyLog b) {
        GrowOnlyLog out = a.copy();
        out.mergeFrom(b);
        return out;
    }

    /** The reference model: watermark = max clear; visible = appends above it, greatest value per stamp. */
    private record Model(Map<String, Stamp> watermarks, Map<String, TreeMap<Stamp, String>> entries) {
        static Model of(List<Op> ops) {
            Map<String, Stamp> marks = new HashMap<>();
            for (Op op : ops) {
                if (op instanceof Clear c) {
                    marks.merge(c.stream(), c.stamp(), (x, y) -> x.compareTo(y) >= 0 ? x : y);
                }
            }
            Map<String, TreeMap<Stamp, String>> entries = new HashMap<>();
            for (Op op : ops) {
                if (op instanceof Append a) {
                    Stamp mark = marks.get(a.stream());
                    if (mark == null || a.stamp().compareTo(mark) > 0) {
                        entries.computeIfAbsent(a.stream(), s -> new TreeMap<>())
                                .merge(a.stamp(), a.value(), (x, y) -> x.compareTo(y) >= 0 ? x : y);
                    }
                }
            }
            return new Model(marks, entries);
        }

        List<LogEntry> visible(String stream) {
            List<LogEntry> out = new ArrayList<>();
            entries.getOrDefault(stream, new TreeMap<>()).forEach((stamp, value) -> out.add(new LogEntry(stream, stamp, value)));
            return out;
        }
    }

    // --- merge laws ---

    @Property(tries = 300)
    void mergeIsCommutative(@ForAll("ops") List<Op> x, @ForAll("ops") List<Op> y) {
        GrowOnlyLog a = build(x);
        GrowOnlyLog b = build(y);
        assertEquals(merged(a, b), merged(b, a));
    }

    @Property(tries = 300)
    void mergeIsAssociative(@ForAll("ops") List<Op> x, @ForAll("ops") List<Op> y, @ForAll("ops") List<Op> z) {
        GrowOnlyLog a = build(x);
        GrowOnlyLog b = build(y);
        GrowOnlyLog c = build(z);
        assertEquals(merged(merged(a, b), c), merged(a, merged(b, c)));
    }

    @Property(tries = 200)
    void mergeIsIdempotent(@ForAll("ops") List<Op> x, @ForAll("ops") List<Op> y) {
        GrowOnlyLog a = build(x);
        assertEquals(a, merged(a, a));
        GrowOnlyLog ab = merged(a, build(y));
        assertEquals(ab, merged(ab, a));
        assertEquals(ab, merged(ab, build(y)));
    }

    @Property(tries = 300)
    void mergeOfTwoLogsEqualsApplyingAllOps(@ForAll("ops") List<Op> x, @ForAll("ops") List<Op> y) {
        List<Op> all = new ArrayList<>(x);
        all.addAll(y);
        assertEquals(build(all), merged(build(x), build(y)));
    }

    @Property(tries = 300)
    void logEqualsTheReferenceModelInAnyOrder(@ForAll("ops") List<Op> ops, @ForAll Random random) {
        List<Op> shuffled = new ArrayList<>(ops);
        Collections.shuffle(shuffled, random);
        shuffled.addAll(ops.subList(0, ops.size() / 2)); // redeliver some
        GrowOnlyLog log = build(shuffled);
        Model model = Model.of(ops);
        int total = 0;
        for (String stream : STREAMS) {
            assertEquals(model.watermarks().get(stream), log.watermark(stream), stream);
            assertEquals(model.visible(stream), log.entries(stream), stream);
            assertEquals(model.visible(stream).size(), log.size(stream));
            total += model.visible(stream).size();
        }
        assertEquals(total, log.size(), "size counter");
        TreeSet<String> expectedStreams = new TreeSet<>(model.watermarks().keySet());
        model.entries().forEach((stream, entries) -> {
            if (!entries.isEmpty()) {
                expectedStreams.add(stream);
            }
        });
        assertEquals(expectedStreams, log.streams());
        assertEquals(new TreeMap<>(model.watermarks()), log.watermarks());
        assertEquals(build(ops), log);
    }

    @Property(tries = 300)
    void returnValueIsTrueExactlyWhenTheVisibleStateChanges(@ForAll("ops") List<Op> ops) {
        GrowOnlyLog log = new GrowOnlyLog();
        for (Op op : ops) {
            List<LogEntry> before = log.entries(op.stream());
            Stamp markBefore = log.watermark(op.stream());
            boolean changed = apply(log, op);
            boolean visibleChange = !before.equals(log.entries(op.stream())) || !Objects.equals(markBefore, log.watermark(op.stream()));
            assertEquals(visibleChange, changed, op::toString);
        }
    }

    @Property(tries = 200)
    void pageReturnsTheNewestEntriesBeforeACursor(@ForAll("ops") List<Op> ops, @ForAll @IntRange(min = 1, max = 5) int limit,
            @ForAll boolean fromTheEnd, @ForAll @IntRange(min = 0, max = 30) int cursorIndex) {
        GrowOnlyLog log = build(ops);
        List<LogEntry> all = Model.of(ops).visible("conv-1");
        Stamp before = fromTheEnd || all.isEmpty() ? null : all.get(cursorIndex % all.size()).stamp();
        List<LogEntry> older = before == null ? all : all.stream().filter(e -> e.stamp().compareTo(before) < 0).toList();
        List<LogEntry> expected = older.subList(Math.max(0, older.size() - limit), older.size());
        assertEquals(expected, log.page("conv-1", before, limit));
    }

    // --- adversarial examples ---

    private static Stamp stamp(long millis, String replica) {
        return new Stamp(Stamp.pack(millis, 0), replica);
    }

    @Example
    void appendAtOrBelowTheWatermarkIsDropped() {
        GrowOnlyLog log = new GrowOnlyLog();
        assertTrue(log.clear("s", stamp(10, "b")));
        assertFalse(log.append("s", stamp(10, "b"), "\"at\""), "the watermark is inclusive");
        assertFalse(log.append("s", stamp(10, "a"), "\"same ms, smaller replica\""));
        assertFalse(log.append("s", stamp(5, "z"), "\"below\""));
        assertTrue(log.append("s", stamp(10, "c"), "\"same ms, greater replica\""));
        assertEquals(List.of(new LogEntry("s", stamp(10, "c"), "\"same ms, greater replica\"")), log.entries("s"));
        assertEquals(1, log.size());
    }

    @Example
    void clearThenOlderAppendEqualsOlderAppendThenClear() {
        GrowOnlyLog a = new GrowOnlyLog();
        a.clear("s", stamp(10, "a"));
        a.append("s", stamp(3, "a"), "1");
        GrowOnlyLog b = new GrowOnlyLog();
        assertTrue(b.append("s", stamp(3, "a"), "1"));
        assertEquals(1, b.size());
        assertTrue(b.clear("s", stamp(10, "a")));
        assertEquals(0, b.size(), "clear purges");
        assertEquals(a, b);
        assertEquals(List.of(), b.entries("s"));
        assertEquals(java.util.Set.of("s"), b.streams(), "a cleared stream stays known through its watermark");
    }

    @Example
    void olderClearAfterNewerIsANoOp() {
        GrowOnlyLog log = new GrowOnlyLog();
        log.append("s", stamp(5, "a"), "1");
        log.append("s", stamp(20, "a"), "2");
        assertTrue(log.clear("s", stamp(10, "a")));
        assertFalse(log.clear("s", stamp(7, "a")));
        assertFalse(log.clear("s", stamp(10, "a")));
        assertEquals(stamp(10, "a"), log.watermark("s"));
        assertEquals(List.of(new LogEntry("s", stamp(20, "a"), "2")), log.entries("s"));
    }

    @Example
    void sameStampDifferentValuesKeepsTheGreaterTextInEitherOrder() {
        GrowOnlyLog a = new GrowOnlyLog();
        assertTrue(a.append("s", stamp(1, "a"), "\"hello\""));
        assertTrue(a.append("s", stamp(1, "a"), "\"hi\""));
        GrowOnlyLog b = new GrowOnlyLog();
        assertTrue(b.append("s", stamp(1, "a"), "\"hi\""));
        assertFalse(b.append("s", stamp(1, "a"), "\"hello\""));
        assertEquals(a, b);
        assertEquals(1, a.size());
        assertEquals("\"hi\"", a.entries("s").get(0).value());
    }

    @Example
    void streamsAreIndependent() {
        GrowOnlyLog log = new GrowOnlyLog();
        log.append("s1", stamp(1, "a"), "1");
        log.append("s2", stamp(1, "a"), "2");
        log.clear("s1", stamp(5, "a"));
        assertEquals(0, log.size("s1"));
        assertEquals(1, log.size("s2"));
        assertNull(log.watermark("s2"));
        assertEquals(List.of("s1", "s2"), new ArrayList<>(log.streams()));
    }

    @Example
    void pageRejectsANonPositiveLimit() {
        assertThrows(IllegalArgumentException.class, () -> new GrowOnlyLog().page("s", null, 0));
    }
}
