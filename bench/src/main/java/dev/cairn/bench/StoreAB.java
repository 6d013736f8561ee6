package dev.cairn.bench;

import dev.cairn.engine.store.JournalLocalStore;
import dev.cairn.engine.store.LocalStore;
import dev.cairn.engine.store.StoreWrite;
import dev.cairn.engine.store.TieredLocalStore;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * {@code store-ab}: the engine's durable store of today ({@link TieredLocalStore}) against the one
 * it replaced ({@link JournalLocalStore}), <b>interleaved in one JVM</b> so that both see the same
 * disk and the same neighbours at the same moments (on a shared 2-core machine fsync latency swings
 * 30-fold between minutes, so separate runs cannot compare them; BENCHMARKS.md, "W4 durable").
 *
 * <p>Per shape, {@value #ROUNDS} rounds; in each round both stores do the same block of commits,
 * alternating which goes first; the time per commit of each block is one sample. Shapes:
 * the engine's per-change save (W4 durable "put + save().join()": one fsynced commit of a
 * state record and an outbox entry, 150 and 230 bytes), 100 puts per commit and 10,000 puts per
 * commit (104-byte values, W4's raw rows). Each run prints the medians and the ratio
 * (journal time ÷ tiered time: above 1 the tiered store is faster); {@code --runs} runs, then the
 * median of the ratios. The tiered store's bytes written (journal + snapshots) per byte committed
 * are printed too, after its background work has finished (write amplification of this run).
 */
final class StoreAB implements Main.Suite {

    private static final int ROUNDS = 30;

    private record Shape(String name, int commitsPerBlock, int putsPerCommit, int[] valueBytes) {
    }

    private static final List<Shape> SHAPES = List.of(
            new Shape("engine per-change save: 1 commit = state record + outbox entry, fsync", 40, 1, new int[] {150, 230}),
            new Shape("100 puts per commit, fsync", 10, 100, new int[] {104}),
            new Shape("10,000 puts per commit, fsync", 1, 10_000, new int[] {104}));

    @Override
    public String description() {
        return "W4 durable store A/B: TieredLocalStore vs JournalLocalStore, interleaved in one JVM (per-save, 100 and 10,000 puts per commit)";
    }

    @Override
    public void run(Options o) throws Exception {
        int runs = Math.max(1, o.runs());
        double[][] ratios = new double[SHAPES.size()][runs];
        System.out.println("## Store A/B (interleaved, one JVM)");
        System.out.println();
        System.out.printf(Locale.ROOT, "- %d processors, %s; %d rounds per shape, %d runs%n", Runtime.getRuntime().availableProcessors(),
                System.getProperty("java.runtime.version"), ROUNDS, runs);
        System.out.println();
        System.out.println("| run | shape | journal µs/commit (median) | tiered µs/commit (median) | journal ÷ tiered time | tiered bytes written ÷ committed |");
        System.out.println("|--:|---|--:|--:|--:|--:|");
        for (int run = 1; run <= runs; run++) {
            for (int s = 0; s < SHAPES.size(); s++) {
                Shape shape = SHAPES.get(s);
                Path dir = Dirs.tempDir(o.dir(), "cairn-store-ab-");
                try {
                    double[] r = compare(dir, shape, run);
                    ratios[s][run - 1] = r[0] / r[1];
                    System.out.printf(Locale.ROOT, "| %d | %s | %,.0f | %,.0f | %.2f× | %.2f |%n", run, shape.name, r[0], r[1], r[0] / r[1], r[2]);
                } finally {
                    Dirs.deleteTree(dir);
                }
            }
        }
        System.out.println();
        System.out.println("| shape | median of the runs' journal ÷ tiered time [min–max] |");
        System.out.println("|---|--:|");
        for (int s = 0; s < SHAPES.size(); s++) {
            double[] x = ratios[s].clone();
            Arrays.sort(x);
            System.out.printf(Locale.ROOT, "| %s | %.2f× [%.2f–%.2f] |%n", SHAPES.get(s).name, x[x.length / 2], x[0], x[x.length - 1]);
        }
    }

    /** {journal µs per commit, tiered µs per commit, tiered bytes written ÷ bytes committed}. */
    private static double[] compare(Path dir, Shape shape, int run) {
        double[] j = new double[ROUNDS];
        double[] t = new double[ROUNDS];
        long committed = 0;
        long[] written;
        byte[][] values = new byte[shape.valueBytes.length][];
        for (int v = 0; v < values.length; v++) {
            values[v] = new byte[shape.valueBytes[v]];
            Arrays.fill(values[v], (byte) ('a' + v));
        }
        long[] key = {0};
        try (JournalLocalStore journal = JournalLocalStore.open(dir.resolve("j/cairn.journal"));
             TieredLocalStore tiered = TieredLocalStore.open(dir.resolve("t"))) {
            block(journal, shape, values, key); // warm-up of both, not counted
            block(tiered, shape, values, key);
            for (int r = 0; r < ROUNDS; r++) {
                for (int side = 0; side < 2; side++) {
                    boolean journalSide = (r + run + side) % 2 == 0;
                    LocalStore s = journalSide ? journal : tiered;
                    long t0 = System.nanoTime();
                    long bytes = block(s, shape, values, key);
                    double us = (System.nanoTime() - t0) / 1e3 / shape.commitsPerBlock;
                    if (journalSide) {
                        j[r] = us;
                    } else {
                        t[r] = us;
                        committed += bytes;
                    }
                }
            }
            tiered.checkpoint();   // the background move of what was committed, so its bytes are counted
            written = tiered.bytesWritten();
        }
        Arrays.sort(j);
        Arrays.sort(t);
        return new double[] {j[ROUNDS / 2], t[ROUNDS / 2], (written[0] + written[1]) / (double) Math.max(1, committed)};
    }

    /** One block of commits; returns the bytes of keys and values committed. */
    private static long block(LocalStore s, Shape shape, byte[][] values, long[] key) {
        long bytes = 0;
        for (int c = 0; c < shape.commitsPerBlock; c++) {
            List<StoreWrite> writes = new ArrayList<>(shape.putsPerCommit * values.length);
            for (int p = 0; p < shape.putsPerCommit; p++) {
                long k = key[0]++;
                for (int v = 0; v < values.length; v++) {
                    byte[] kb = ((v == 0 ? "s\u0000state\u0000key-" : "o\u0000") + k).getBytes(StandardCharsets.UTF_8);
                    writes.add(StoreWrite.put(kb, values[v]));
                    bytes += kb.length + values[v].length;
                }
            }
            s.commit(writes);
        }
        return bytes;
    }
}
