import dev.cairn.engine.store.JournalLocalStore;
import dev.cairn.engine.store.LocalStore;
import dev.cairn.engine.store.StoreWrite;
import dev.cairn.engine.store.TieredLocalStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * Interleaved A/B of one fsynced commit per put on the old and the new store in one JVM: 40
 * rounds of 50 commits on each, alternating which goes first, so both see the same disk; prints
 * the median time per commit (BENCHMARKS.md, "W4 durable").
 */
public class CommitAB {
    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("cairn-ab");
        byte[] value = new byte[104];
        int rounds = 40, per = 50;
        double[] j = new double[rounds], t = new double[rounds];
        try (JournalLocalStore journal = JournalLocalStore.open(dir.resolve("j/cairn.journal"));
             TieredLocalStore tiered = TieredLocalStore.open(dir.resolve("t"))) {
            int k = 0;
            for (int r = 0; r < rounds; r++) {
                for (int side = 0; side < 2; side++) {
                    LocalStore s = (r + side) % 2 == 0 ? journal : tiered;
                    long t0 = System.nanoTime();
                    for (int i = 0; i < per; i++) {
                        s.commit(List.of(StoreWrite.put(("key-" + (k++)).getBytes(), value)));
                    }
                    double us = (System.nanoTime() - t0) / 1e3 / per;
                    if (s == journal) j[r] = us; else t[r] = us;
                }
            }
        }
        Arrays.sort(j);
        Arrays.sort(t);
        System.out.printf("per commit, median of %d rounds of %d: journal %.0f us, tiered %.0f us (tiered / journal time %.2f); p25 %.0f / %.0f, p75 %.0f / %.0f%n",
                rounds, per, j[rounds / 2], t[rounds / 2], t[rounds / 2] / j[rounds / 2], j[rounds / 4], t[rounds / 4], j[3 * rounds / 4], t[3 * rounds / 4]);
    }
}
