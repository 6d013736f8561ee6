package dev.cairn.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.sync.internal.SyncPorts;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * A page of server changes applied in bulk (one merge, one durable commit with its cursor; issue
 * 13, step 5) leaves the same state, in memory and after a reopen, as its changes applied one by
 * one in any order. Pages mix sets, deletes and appends over few keys (so stamps compete) with
 * the occasional clear (such a page takes the one-by-one path, and its neighbours the bulk one).
 */
class PageApplyProperties {

    private static final long BASE = 1_750_000_000_000L;
    private static final String[] KEYS = {"a", "b", "c", "d/x", "d/y"};
    private static final String[] VALUES = {"1", "2", "\"x\"", "true", "null", "{\"a\":[1,2]}"};

    @Property(tries = 30)
    void aPageAppliedInBulkEqualsItsChangesOneByOneInAnyOrder(@ForAll("pages") List<Change> page, @ForAll long seed) throws IOException {
        Path dir = Files.createTempDirectory("cairn-page-apply");
        try {
            String bulk;
            try (Cairn a = open(dir.resolve("bulk"))) {
                SyncPorts.of(a).applyRemote(page, page.size());
                bulk = a.canonicalState();
            }
            List<Change> shuffled = new ArrayList<>(page);
            Collections.shuffle(shuffled, new Random(seed));
            String single;
            try (Cairn b = open(dir.resolve("single"))) {
                long cursor = 0;
                for (Change change : shuffled) {
                    SyncPorts.of(b).applyRemote(List.of(change), ++cursor);
                }
                single = b.canonicalState();
            }
            assertEquals(single, bulk, "in memory");
            try (Cairn a = open(dir.resolve("bulk")); Cairn b = open(dir.resolve("single"))) {
                assertEquals(bulk, a.canonicalState(), "the bulk page after a reopen");
                assertEquals(single, b.canonicalState(), "one by one after a reopen");
                assertEquals(page.size(), SyncPorts.of(a).cursor(), "the page's cursor is saved with it");
            }
        } finally {
            try (var walk = Files.walk(dir)) {
                walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static Cairn open(Path dir) {
        return Cairn.builder().dataDir(dir).replicaId("device").open();
    }

    @Provide
    Arbitrary<List<Change>> pages() {
        // Each change gets its own stamp (counter = its index): a replica never stamps two changes alike.
        return change().list().ofMinSize(1).ofMaxSize(60).map(list -> {
            List<Change> out = new ArrayList<>(list.size());
            for (int i = 0; i < list.size(); i++) {
                out.add(restamp(list.get(i), new Stamp(Stamp.pack(list.get(i).stamp().millis(), i), list.get(i).stamp().replica())));
            }
            return out;
        });
    }

    private static Change restamp(Change c, Stamp stamp) {
        if (c instanceof Change.Put p) {
            return new Change.Put(p.section(), p.key(), p.value(), stamp);
        }
        if (c instanceof Change.Append a) {
            return new Change.Append(a.section(), a.stream(), a.value(), stamp);
        }
        Change.Clear clear = (Change.Clear) c;
        return new Change.Clear(clear.section(), clear.stream(), stamp);
    }

    private static Arbitrary<Change> change() {
        Arbitrary<Stamp> stamps = Combinators.combine(Arbitraries.longs().between(0, 50), Arbitraries.of("s1", "s2"))
                .as((ms, replica) -> new Stamp(Stamp.pack(BASE + ms, 0), replica));
        Arbitrary<Change> put = Combinators.combine(Arbitraries.of(KEYS), Arbitraries.of(VALUES), stamps)
                .as((key, value, stamp) -> new Change.Put("state", key, value, stamp));
        Arbitrary<Change> delete = Combinators.combine(Arbitraries.of(KEYS), stamps)
                .as((key, stamp) -> new Change.Put("state", key, null, stamp));
        Arbitrary<Change> append = Combinators.combine(Arbitraries.of("c1", "c2"), Arbitraries.of(VALUES), stamps)
                .as((stream, value, stamp) -> new Change.Append("chat", stream, value, stamp));
        Arbitrary<Change> clear = Combinators.combine(Arbitraries.of("", "c1"), stamps)
                .as((stream, stamp) -> stream.isEmpty() ? Change.Clear.wholeSection("state", stamp) : new Change.Clear("chat", stream, stamp));
        return Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(10, put), net.jqwik.api.Tuple.of(2, delete), net.jqwik.api.Tuple.of(6, append), net.jqwik.api.Tuple.of(1, clear));
    }
}
