package dev.cairn.engine.crdt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.codec.CanonicalJson;
import dev.cairn.engine.codec.Json;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.stream.IntStream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;

class ConvergenceProperties {

    static final Function<String, SectionKind> KINDS =
            Map.of("cards", SectionKind.MAP, "prefs", SectionKind.MAP, "chat", SectionKind.LOG)::get;

    /** The same changes, delivered to each replica in its own order (indices, with duplicates). */
    record Scenario(List<Change> changes, List<List<Integer>> orders) {
    }

    @Provide
    Arbitrary<Change> changes() {
        Arbitrary<String> maps = Arbitraries.of("cards", "prefs");
        Arbitrary<String> keys = Arbitraries.of("k1", "k2", "card-intro/isExpanded", "card-intro/isVisible");
        Arbitrary<String> streams = Arbitraries.of("conv-1", "conv-2");
        Arbitrary<Change> set = Combinators.combine(maps, keys, CrdtArbitraries.values(), CrdtArbitraries.stamps()).as(Change.Put::new);
        Arbitrary<Change> delete = Combinators.combine(maps, keys, CrdtArbitraries.stamps())
                .as((section, key, stamp) -> new Change.Put(section, key, null, stamp));
        Arbitrary<Change> append = Combinators.combine(streams, CrdtArbitraries.values(), CrdtArbitraries.stamps())
                .as((stream, value, stamp) -> new Change.Append("chat", stream, value, stamp));
        Arbitrary<Change> clear = Combinators.combine(streams, CrdtArbitraries.stamps())
                .as((stream, stamp) -> new Change.Clear("chat", stream, stamp));
        Arbitrary<Change> clearMap = Combinators.combine(maps, CrdtArbitraries.stamps()).as(Change.Clear::wholeSection);
        return Arbitraries.frequencyOf(Tuple.of(4, set), Tuple.of(2, delete), Tuple.of(4, append), Tuple.of(1, clear), Tuple.of(1, clearMap));
    }

    @Provide
    Arbitrary<Scenario> scenarios() {
        return changes().list().ofMaxSize(25).flatMap(base -> {
            // deliberate duplicates in the multiset itself: equal changes at different indices
            Arbitrary<List<Change>> withCopies = base.isEmpty()
                    ? Arbitraries.just(base)
                    : Arbitraries.of(base).list().ofMaxSize(4).map(extra -> {
                        List<Change> all = new ArrayList<>(base);
                        all.addAll(extra);
                        return all;
                    });
            return withCopies.flatMap(changes -> {
                int n = changes.size();
                List<Integer> once = IntStream.range(0, n).boxed().toList();
                Arbitrary<List<Integer>> redelivered = n == 0
                        ? Arbitraries.just(List.of())
                        : Arbitraries.integers().between(0, n - 1).list().ofMaxSize(n);
                Arbitrary<List<Integer>> order = redelivered.flatMap(extra -> {
                    List<Integer> all = new ArrayList<>(once);
                    all.addAll(extra);
                    return Arbitraries.shuffle(all);
                });
                return Arbitraries.integers().between(2, 6)
                        .flatMap(replicas -> order.list().ofSize(replicas))
                        .map(orders -> new Scenario(changes, orders));
            });
        });
    }

    private static ReplicaState deliver(List<Change> changes, List<Integer> order) {
        ReplicaState state = new ReplicaState(KINDS);
        order.forEach(i -> state.apply(changes.get(i)));
        return state;
    }

    @Property(tries = 300)
    void replicasConvergeToIdenticalCanonicalEncodings(@ForAll("scenarios") Scenario scenario) {
        List<String> encodings = scenario.orders().stream()
                .map(order -> CanonicalJson.encode(deliver(scenario.changes(), order)))
                .toList();
        for (int i = 1; i < encodings.size(); i++) {
            assertEquals(encodings.get(0), encodings.get(i), "replica " + i + " (order " + scenario.orders().get(i) + ")");
        }
    }

    @Property(tries = 300)
    void visibleResultEqualsTheReferenceModel(@ForAll("scenarios") Scenario scenario) throws Exception {
        ReplicaState state = deliver(scenario.changes(), scenario.orders().get(0));
        ObjectNode expected = model(scenario.changes());
        String encoded = CanonicalJson.encode(state);
        assertEquals(expected, Json.MAPPER.readTree(encoded));
        assertEquals(Json.MAPPER.writeValueAsString(expected), encoded, "byte-exact canonical form (sorted, compact)");
        // the typed accessors agree with the encoding
        for (Change c : scenario.changes()) {
            if (c instanceof Change.Put put) {
                JsonNode entry = expected.path(put.section()).path("entries").path(put.key());
                String value = entry.has("value") ? Json.MAPPER.writeValueAsString(entry.get("value")) : null;
                assertEquals(value, state.map(put.section()).value(put.key()));
            }
        }
        assertEquals(expected.path("chat").path("streams").path("conv-1").path("entries").size(),
                state.log("chat").size("conv-1"));
    }

    @Property(tries = 200)
    void applyReturnsTrueExactlyWhenTheEncodingChanges(@ForAll("scenarios") Scenario scenario) {
        ReplicaState state = new ReplicaState(KINDS);
        String before = CanonicalJson.encode(state);
        for (int i : scenario.orders().get(0)) {
            boolean changed = state.apply(scenario.changes().get(i));
            String after = CanonicalJson.encode(state);
            assertEquals(!before.equals(after), changed, () -> "change " + scenario.changes().get(i));
            before = after;
        }
    }

    /**
     * The expected canonical encoding computed directly from the change set, without the CRDT
     * classes: per key the greatest (stamp, value-beats-tombstone, value text); per stream the
     * greatest clear stamp and the appends stamped above it (greatest value text per stamp),
     * ordered by their stamp's text form.
     */
    private static ObjectNode model(List<Change> changes) throws Exception {
        TreeMap<String, TreeMap<String, Change.Put>> maps = new TreeMap<>();
        TreeMap<String, Stamp> mapMarks = new TreeMap<>();
        TreeMap<String, TreeMap<String, Stamp>> clears = new TreeMap<>();
        TreeMap<String, TreeMap<String, List<Change.Append>>> appends = new TreeMap<>();
        Comparator<Change.Put> lww = Comparator.<Change.Put, String>comparing(p -> p.stamp().toString())
                .thenComparing(p -> p.value() != null)
                .thenComparing(p -> p.value() == null ? "" : p.value());
        for (Change c : changes) {
            if (c instanceof Change.Put p) {
                maps.computeIfAbsent(p.section(), s -> new TreeMap<>())
                        .merge(p.key(), p, (x, y) -> lww.compare(x, y) >= 0 ? x : y);
            } else if (c instanceof Change.Clear cl && cl.isWholeSection()) {
                mapMarks.merge(cl.section(), cl.stamp(), (x, y) -> x.toString().compareTo(y.toString()) >= 0 ? x : y);
            } else if (c instanceof Change.Clear cl) {
                clears.computeIfAbsent(cl.section(), s -> new TreeMap<>())
                        .merge(cl.stream(), cl.stamp(), (x, y) -> x.toString().compareTo(y.toString()) >= 0 ? x : y);
            } else {
                Change.Append a = (Change.Append) c;
                appends.computeIfAbsent(a.section(), s -> new TreeMap<>())
                        .computeIfAbsent(a.stream(), s -> new ArrayList<>()).add(a);
            }
        }
        TreeMap<String, JsonNode> sections = new TreeMap<>();
        TreeMap<String, Boolean> mapSections = new TreeMap<>();
        maps.keySet().forEach(m -> mapSections.put(m, true));
        mapMarks.keySet().forEach(m -> mapSections.put(m, true));
        for (String section : mapSections.keySet()) {
            // Puts are merged per key first, then the watermark hides the winner if it is at or below it
            // (equivalent to dropping every put at or below it: the winner is the greatest).
            Stamp mark = mapMarks.get(section);
            ObjectNode node = Json.MAPPER.createObjectNode().put("kind", "map");
            if (mark != null) {
                node.put("clearedUpTo", mark.toString());
            }
            ObjectNode entries = node.putObject("entries");
            for (Change.Put p : maps.getOrDefault(section, new TreeMap<>()).values()) {
                if (mark != null && p.stamp().toString().compareTo(mark.toString()) <= 0) {
                    continue;
                }
                ObjectNode e = entries.putObject(p.key()).put("stamp", p.stamp().toString());
                if (p.value() == null) {
                    e.put("deleted", true);
                } else {
                    e.set("value", Json.MAPPER.readTree(p.value()));
                }
            }
            sections.put(section, node);
        }
        TreeMap<String, Boolean> logSections = new TreeMap<>();
        clears.keySet().forEach(s -> logSections.put(s, true));
        appends.keySet().forEach(s -> logSections.put(s, true));
        for (String section : logSections.keySet()) {
            TreeMap<String, Stamp> marks = clears.getOrDefault(section, new TreeMap<>());
            TreeMap<String, TreeMap<String, String>> visible = new TreeMap<>(); // stream -> stamp text -> value
            appends.getOrDefault(section, new TreeMap<>()).forEach((stream, list) -> {
                Stamp mark = marks.get(stream);
                for (Change.Append a : list) {
                    if (mark == null || a.stamp().toString().compareTo(mark.toString()) > 0) {
                        visible.computeIfAbsent(stream, s -> new TreeMap<>())
                                .merge(a.stamp().toString(), a.value(), (x, y) -> x.compareTo(y) >= 0 ? x : y);
                    }
                }
            });
            TreeMap<String, Boolean> streams = new TreeMap<>();
            marks.keySet().forEach(s -> streams.put(s, true));
            visible.keySet().forEach(s -> streams.put(s, true));
            ObjectNode node = Json.MAPPER.createObjectNode().put("kind", "log");
            ObjectNode streamsNode = node.putObject("streams");
            for (String stream : streams.keySet()) {
                ObjectNode s = streamsNode.putObject(stream);
                if (marks.containsKey(stream)) {
                    s.put("clearedUpTo", marks.get(stream).toString());
                }
                ArrayNode entries = s.putArray("entries");
                for (var e : visible.getOrDefault(stream, new TreeMap<>()).entrySet()) {
                    entries.addObject().put("stamp", e.getKey()).set("value", Json.MAPPER.readTree(e.getValue()));
                }
            }
            sections.put(section, node);
        }
        ObjectNode root = Json.MAPPER.createObjectNode();
        sections.forEach(root::set);
        return root;
    }

    // --- ReplicaState basics ---

    private static final Stamp S = new Stamp(Stamp.pack(1_000, 0), "a");

    @Example
    void changesMustMatchTheSectionKind() {
        ReplicaState state = new ReplicaState(KINDS);
        assertThrows(UnknownSectionException.class, () -> state.apply(new Change.Put("nope", "k", "1", S)));
        assertThrows(UnknownSectionException.class, () -> state.apply(new Change.Put("chat", "k", "1", S)));
        assertThrows(UnknownSectionException.class, () -> state.apply(new Change.Append("cards", "s", "1", S)));
        assertThrows(UnknownSectionException.class, () -> state.apply(new Change.Clear("cards", "s", S)));
        assertEquals("{}", CanonicalJson.encode(state), "a refused change leaves no trace");
        assertTrue(state.sections().isEmpty());
    }

    @Example
    void liveSizeCountsValuesNotTombstones() {
        ReplicaState state = new ReplicaState(KINDS);
        state.apply(new Change.Put("cards", "a", "1", S));
        state.apply(new Change.Put("cards", "b", null, S));
        state.apply(new Change.Append("chat", "c", "1", S));
        state.apply(new Change.Append("chat", "c", "2", new Stamp(S.hlc() + 1, "a")));
        assertEquals(1, state.liveSize("cards"));
        assertEquals(2, state.liveSize("chat"));
        assertEquals(0, state.liveSize("prefs"));
        assertEquals(Map.of("cards", SectionKind.MAP, "chat", SectionKind.LOG), state.sections());
    }
}
