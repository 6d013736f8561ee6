package dev.cairn.engine.store;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;

/**
 * Time per {@link Snapshot#get} on a snapshot shaped like the server's: three users' map entries,
 * 120,000 each, under a long shared prefix, looked up in random order (a catch-up page looks up
 * each of its changes' entries by key). Not a test: run by hand (BENCHMARKS.md, session 11),
 * after {@code mvn -q -o test-compile -pl engine/store -am}:
 * <pre>java -cp server/target/cairn-server.jar:engine/store/target/test-classes dev.cairn.engine.store.SnapshotLookupBench</pre>
 * (the server jar holds the store's classes and MapDB; put another build's jar first to compare).
 */
public final class SnapshotLookupBench {

    private SnapshotLookupBench() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("snapshot-lookup-bench");
        TreeMap<byte[], byte[]> entries = new TreeMap<>(Arrays::compareUnsigned);
        for (int user = 0; user < 3; user++) {
            for (int i = 0; i < 120_000; i++) {
                entries.put(("\u0001user-" + user + "-br1-shared-cold-100000\u0000state\u0000k" + i).getBytes(StandardCharsets.UTF_8),
                        ("{\"v\":\"value-" + i + "\",\"s\":\"0000018c4f2a3b1c0000@abcdef\"}").getBytes(StandardCharsets.UTF_8));
            }
        }
        Manifest.Entry meta = Snapshot.write(dir, 1, entries.entrySet().iterator(), false, phase -> { });
        Snapshot snapshot = new Snapshot(dir, meta, false);
        List<byte[]> keys = new ArrayList<>(entries.keySet());
        Collections.shuffle(keys, new Random(1));
        for (int round = 1; round <= 8; round++) {
            long start = System.nanoTime();
            long bytes = 0;
            for (byte[] key : keys) {
                bytes += snapshot.get(key).length;
            }
            System.out.printf("round %d: %.0f ns per get (%d bytes read)%n", round, (System.nanoTime() - start) / (double) keys.size(), bytes);
        }
        snapshot.close();
        try (var files = Files.walk(dir)) {
            files.sorted(Collections.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
