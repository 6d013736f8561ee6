import dev.cairn.engine.store.StoreWrite;
import dev.cairn.engine.store.TieredLocalStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Reads of a snapshot, to compare layouts (BENCHMARKS.md, W7): writes N keys with V-byte values
 * ({@code java -cp engine/target/classes:$(cat cp.txt) SnapshotLayout.java N V [tmpdir]}), compacts
 * them into one snapshot, then three times reopens the store and times a full scan, 100,000 random
 * gets that hit and 100,000 that miss. Run it on two builds of the engine to compare them.
 */
public class SnapshotLayout {
    public static void main(String[] a) throws Exception {
        int n = Integer.parseInt(a[0]);
        int vbytes = Integer.parseInt(a[1]);
        Path dir = Files.createTempDirectory(a.length > 2 ? Path.of(a[2]) : Path.of(System.getProperty("java.io.tmpdir")), "cairn-layout");
        byte[] v = new byte[vbytes];
        try (TieredLocalStore s = TieredLocalStore.open(dir)) {
            List<StoreWrite> b = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                b.add(StoreWrite.put(String.format("key-%08d", i).getBytes(), v));
                if (b.size() == 1000) { s.commit(b); b = new ArrayList<>(); }
            }
            if (!b.isEmpty()) s.commit(b);
            s.compact();
        }
        for (int round = 0; round < 3; round++) {
            try (TieredLocalStore s = TieredLocalStore.open(dir)) {
                long t0 = System.nanoTime();
                long[] c = {0};
                s.scan(new byte[0], (k, x) -> c[0]++);
                double scan = (System.nanoTime() - t0) / 1e6;
                Random r = new Random(1);
                t0 = System.nanoTime();
                for (int i = 0; i < 100_000; i++) if (s.get(String.format("key-%08d", r.nextInt(n)).getBytes()) == null) throw new AssertionError();
                double get = (System.nanoTime() - t0) / 1e3 / 100_000;
                t0 = System.nanoTime();
                for (int i = 0; i < 100_000; i++) if (s.get(String.format("key-%08dx", r.nextInt(n)).getBytes()) != null) throw new AssertionError();
                double miss = (System.nanoTime() - t0) / 1e3 / 100_000;
                System.out.printf("round %d: %d records, scan %.0f ms, get hit %.1f us, get miss %.1f us%n", round, c[0], scan, get, miss);
            }
        }
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }
}
