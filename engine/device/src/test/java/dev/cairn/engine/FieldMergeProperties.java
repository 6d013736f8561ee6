package dev.cairn.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.LwwEntry;
import dev.cairn.engine.sync.internal.SyncPorts;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/**
 * The point of the field-wise layout: two replicas that each write one field of a record from a
 * common base, concurrently, end with both edits whatever order the changes arrive in; two writes
 * of the same field resolve by stamp.
 */
class FieldMergeProperties {

    private static final TypeReference<Map<String, Integer>> RECORD = new TypeReference<>() { };

    @Property(tries = 25)
    void concurrentWritesOfFieldsMergeInAnyOrder(@ForAll @IntRange(min = 0, max = 3) int fieldA, @ForAll @IntRange(min = 0, max = 3) int fieldB,
                                                 @ForAll @IntRange(min = 100, max = 200) int valueA, @ForAll @IntRange(min = 300, max = 400) int valueB,
                                                 @ForAll long seed) {
        Map<String, Integer> base = new LinkedHashMap<>();
        for (int i = 0; i < 4; i++) {
            base.put("f" + i, i);
        }
        try (Cairn a = TestSupport.inMemory("a"); Cairn b = TestSupport.inMemory("b"); Cairn c = TestSupport.inMemory("c")) {
            PersistentState<Map<String, Integer>> onA = a.state("rec", RECORD, Map.of(), StateOptions.defaults());
            PersistentState<Map<String, Integer>> onB = b.state("rec", RECORD, Map.of(), StateOptions.defaults());
            onA.set(base);
            SyncPorts.of(b).applyRemote(changes(a));
            assertEquals(base, onB.value(), "the common base");

            onA.set(with(base, "f" + fieldA, valueA));
            onB.set(with(base, "f" + fieldB, valueB));
            List<Change> fromA = changes(a);
            List<Change> fromB = changes(b);

            Random random = new Random(seed);
            List<Change> all = new ArrayList<>(fromA);
            all.addAll(fromB);
            Collections.shuffle(all, random);
            for (Change change : all) {
                SyncPorts.of(c).applyRemote(List.of(change)); // one by one, in a random order
            }
            Collections.shuffle(fromB, random);
            SyncPorts.of(a).applyRemote(fromB);
            Collections.shuffle(fromA, random);
            SyncPorts.of(b).applyRemote(fromA);

            Map<String, Integer> expected;
            if (fieldA != fieldB) {
                expected = with(with(base, "f" + fieldA, valueA), "f" + fieldB, valueB);
            } else {
                String key = "rec#f" + fieldA;
                LwwEntry ea = EngineAccess.state(a).map("state").entry(key);
                boolean aIsLater = fromA.stream().filter(ch -> ch.target().equals(key)).findFirst().orElseThrow().stamp()
                        .compareTo(fromB.stream().filter(ch -> ch.target().equals(key)).findFirst().orElseThrow().stamp()) > 0;
                expected = with(base, "f" + fieldA, aIsLater ? valueA : valueB);
                assertEquals(String.valueOf(aIsLater ? valueA : valueB), ea.value(), "the later stamp wins");
            }
            assertEquals(expected, onA.value());
            assertEquals(expected, onB.value());
            assertEquals(expected, c.state("rec", RECORD, Map.of(), StateOptions.defaults()).value());
        }
    }

    /** Every entry of the engine's state section, as the changes that made it. */
    static List<Change> changes(Cairn cairn) {
        List<Change> out = new ArrayList<>();
        EngineAccess.state(cairn).map("state").sorted()
                .forEach((k, e) -> out.add(new Change.Put("state", k, e.value(), e.stamp())));
        return out;
    }

    private static Map<String, Integer> with(Map<String, Integer> m, String key, int value) {
        Map<String, Integer> out = new LinkedHashMap<>(m);
        out.put(key, value);
        return out;
    }
}
