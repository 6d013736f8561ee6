package dev.cairn.server.store;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.store.TieredLocalStore;
import dev.cairn.server.store.ServerStore.Page;
import dev.cairn.server.store.ServerStore.UserBatch;
import io.vertx.core.Vertx;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Time of a whole first catch-up read from {@link JournalServerStore}: one user seeded with the
 * browser bench's shape (100,000 map entries in {@code state}, 20,000 80-character chat messages,
 * batches of 500), compacted into one snapshot (its size is printed), then {@code readSince}
 * from 0 in pages of 1,000 until the end, eight rounds (the first on a cold JVM). Not a test: run
 * by hand (BENCHMARKS.md, session 12) after {@code mvn -q -o package -pl server -am -DskipTests},
 * which builds the server jar (the store under test) and the test classes:
 * <pre>java -cp server/target/cairn-server.jar:server/target/test-classes dev.cairn.server.store.CatchUpReadBench</pre>
 * (put another build's server jar first to compare).
 */
public final class CatchUpReadBench {

    private CatchUpReadBench() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("catch-up-read-bench");
        Vertx vertx = Vertx.vertx();
        JournalServerStore store = JournalServerStore.open(vertx, dir.resolve(JournalServerStore.FILE_NAME));
        Path storeDir = store.storeDir();
        try {
            store.start().await();
            String user = "user-br1-shared-cold-100000";
            long hlc = 1_700_000_000_000L << 16;
            List<Change> batch = new ArrayList<>();
            for (int i = 0; i < 120_000; i++) {
                Stamp stamp = new Stamp(hlc + i, "bench-seed-replica");
                batch.add(i < 100_000
                        ? new Change.Put("state", "k" + i, "\"value-" + i + "\"", stamp)
                        : new Change.Append("chat", "conv-1", "{\"role\":\"user\",\"text\":\"" + "m".repeat(80) + "\"}", stamp));
                if (batch.size() == 500) {
                    store.commit(List.of(new UserBatch(user, batch))).await();
                    batch = new ArrayList<>();
                }
            }
            store.close().await();
            try (TieredLocalStore raw = TieredLocalStore.open(storeDir, TieredLocalStore.Options.defaults())) {
                raw.compact();
            }
            try (var files = Files.list(storeDir)) {
                System.out.printf("store after compaction: %,d bytes%n", files.mapToLong(f -> f.toFile().length()).sum());
            }
            store = JournalServerStore.open(vertx, dir.resolve(JournalServerStore.FILE_NAME));
            store.start().await();
            for (int round = 1; round <= 8; round++) {
                long start = System.nanoTime();
                long cursor = 0;
                int changes = 0;
                Page page;
                do {
                    page = store.readSince(user, cursor, 1000).await();
                    changes += page.changes().size();
                    cursor = page.cursor();
                } while (page.more());
                System.out.printf("round %d: %d changes read in %.1f ms%n", round, changes, (System.nanoTime() - start) / 1e6);
            }
        } finally {
            store.close().await();
            vertx.close().await();
            try (var files = Files.walk(dir)) {
                files.sorted(Collections.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
