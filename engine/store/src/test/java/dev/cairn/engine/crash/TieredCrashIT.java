package dev.cairn.engine.crash;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.fail;

import dev.cairn.engine.store.StoreWrite;
import dev.cairn.engine.store.TieredLocalStore;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crash safety of {@link TieredLocalStore}, the successor of {@link JournalCrashIT}: a child
 * ({@link TieredCrashWriter}) commits as fast as it can while its background thread moves the
 * journal into MapDB snapshots and merges them, and is killed with SIGKILL either at a random
 * moment ({@code commit}) or exactly at one step of the background move (the child waits there):
 * while a snapshot is being written, after it is written but not renamed, after the rename but
 * before the manifest names it, with the new manifest written but not switched, after the switch
 * but before the old segment or snapshots are deleted, and right after a new segment is created.
 * The targets take turns, so every step is hit.
 *
 * <p>After each kill, on one store shared by all runs: it opens; it holds exactly the state after
 * commits {@code 0..n} with {@code n} the last {@code SAVED} line or one more (0 acknowledged
 * commits lost, none invented or applied twice); no leftover ({@code .tmp}, a snapshot the
 * manifest does not name, a covered segment) survives the open; and it still commits, durably.
 * Kills: default 26 (2 per target), {@code -Dcairn.crash.tieredIterations=N} or
 * {@code CAIRN_CRASH_TIERED_ITERATIONS}; {@code CAIRN_LONG=1}: 520; seed {@code CAIRN_SEED}.
 */
class TieredCrashIT {

    static final List<String> TARGETS = List.of("commit", "rotate:segment-created",
            "flush:snapshot-write", "flush:snapshot-written", "flush:snapshot-renamed", "flush:manifest-written",
            "flush:manifest-switched", "flush:segment-deleted",
            "merge:snapshot-write", "merge:snapshot-written", "merge:snapshot-renamed", "merge:manifest-written",
            "merge:manifest-switched");
    private static final long FIRST_SAVE_TIMEOUT_MS = 20_000;
    private static final long PHASE_TIMEOUT_MS = 20_000;
    private static final int MAX_KILL_DELAY_MS = 400;

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path tmp;

    @Test
    void killedDuringCommitsAndEveryStepOfTheMoveIntoMapDbTheStoreKeepsEveryCommitAndNothingElse() {
        long seed = CrashSettings.seed();
        int iterations = CrashSettings.setting("cairn.crash.tieredIterations", "CAIRN_CRASH_TIERED_ITERATIONS").map(Integer::parseInt)
                .orElse(CrashSettings.longRun() ? 40 * TARGETS.size() : 2 * TARGETS.size());
        assertTimeoutPreemptively(Duration.ofSeconds(120 + 30L * iterations), () -> run(seed, iterations),
                () -> "TieredCrashIT seed " + seed + " did not finish in time");
    }

    private void run(long seed, int iterations) throws Exception {
        Random random = new Random(seed);
        Path dir = tmp.resolve("data");
        String classpath = ChildClasspath.copy(tmp.resolve("classpath"));
        log("TieredCrashIT seed=" + seed + " (replay: CAIRN_SEED=" + seed + "), iterations=" + iterations + ", store=" + dir);
        long t0 = System.nanoTime();
        Map<String, Integer> kills = new LinkedHashMap<>();
        int leftoverRuns = 0;
        int torn = 0;
        long maxCommit = -1;
        for (int it = 1; it <= iterations; it++) {
            String target = TARGETS.get((it - 1) % TARGETS.size());
            boolean sync = random.nextInt(4) == 0;
            long childSeed = random.nextLong();
            int delay = target.equals("commit") ? random.nextInt(MAX_KILL_DELAY_MS + 1) : 0;
            long[] startSaved = runChild(classpath, dir, childSeed, sync, target, delay, it, seed, maxCommit);
            long saved = startSaved[1];
            String ctx = "iteration " + it + " (seed " + seed + ", target " + target + ", sync " + sync + ", START " + startSaved[0]
                    + ", last SAVED " + saved + ", store " + dir + ")";
            List<String> before = files(dir);
            long n;
            try (TieredLocalStore store = TieredLocalStore.open(dir, TieredCrashWriter.options(true))) {
                byte[] last = store.get(JournalCrashWriter.LAST);
                n = last == null ? -1 : ByteBuffer.wrap(last).getLong();
                if (n < saved || n > saved + 1) {
                    fail(ctx + ": the store holds commits up to " + n + ", but commit " + saved + " had returned"
                            + (n < saved ? " (lost commits)" : " (commits that never ran)"));
                }
                compare(ctx + " at commit " + n, JournalCrashWriter.expected(n), store);
                List<String> after = files(dir);
                boolean hadLeftovers = !after.containsAll(before);
                leftoverRuns += hadLeftovers ? 1 : 0;
                torn += store.tornTailsCut();
                log(String.format("iteration %d: target %s, sync %s, last SAVED %d, store at %d, %d snapshots%s%s", it, target, sync,
                        saved, n, store.snapshotCount(), store.tornTailsCut() > 0 ? ", torn last record cut" : "",
                        hadLeftovers ? ", leftovers deleted " + before.stream().filter(f -> !after.contains(f)).toList() : ""));
                List<StoreWrite> probe = JournalCrashWriter.writesOf(n + 1);
                store.commit(probe);
            } catch (RuntimeException e) {
                throw new AssertionError(ctx + ": the store does not open or commit after the kill: " + e + "; files " + before, e);
            }
            checkNoLeftovers(ctx, dir);
            try (TieredLocalStore store = TieredLocalStore.open(dir, TieredCrashWriter.options(true))) {
                compare(ctx + " after the probe commit and a reopen", JournalCrashWriter.expected(n + 1), store);
            }
            kills.merge(target, 1, Integer::sum);
            maxCommit = n + 1;
        }
        log(String.format("TieredCrashIT done: %d SIGKILLs %s, 0 broken stores, 0 acknowledged commits lost, 0 extra;"
                        + " %d opens deleted leftovers, %d torn last records cut, last commit %d, %.1f s",
                iterations, kills, leftoverRuns, torn, maxCommit, (System.nanoTime() - t0) / 1e9));
    }

    /** With the store closed: no temporary file, and every snapshot file is one the manifest names. */
    private static void checkNoLeftovers(String ctx, Path dir) throws IOException {
        List<String> names = files(dir);
        String manifest = Files.exists(dir.resolve("cairn.manifest")) ? Files.readString(dir.resolve("cairn.manifest")) : "";
        for (String f : names) {
            boolean unnamedSnapshot = f.endsWith(".snap") && !manifest.contains("snapshot " + Long.parseLong(f.substring(6, 16)) + " ");
            if (f.endsWith(".tmp") || unnamedSnapshot) {
                fail(ctx + ": a leftover survives an open and a close: " + f + " in " + names + "; manifest:\n" + manifest);
            }
        }
    }

    private static List<String> files(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> f = Files.list(dir)) {
            return f.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private static void compare(String ctx, TreeMap<byte[], byte[]> expected, TieredLocalStore store) {
        Map<String, String> want = new TreeMap<>();
        expected.forEach((k, v) -> want.put(new String(k, StandardCharsets.UTF_8), digest(v)));
        Map<String, String> have = new TreeMap<>();
        store.scan(new byte[0], (k, v) -> have.put(new String(k, StandardCharsets.UTF_8), digest(v)));
        if (!want.equals(have)) {
            List<String> diff = new ArrayList<>();
            for (String k : want.keySet()) {
                if (!want.get(k).equals(have.get(k))) {
                    diff.add(k + ": want " + want.get(k) + ", have " + have.get(k));
                }
            }
            for (String k : have.keySet()) {
                if (!want.containsKey(k)) {
                    diff.add(k + ": not expected, have " + have.get(k));
                }
            }
            fail(ctx + ": the store's contents differ from the commits made: " + diff);
        }
        for (Map.Entry<byte[], byte[]> e : expected.entrySet()) {
            if (!Arrays.equals(e.getValue(), store.get(e.getKey()))) {
                fail(ctx + ": get(" + new String(e.getKey(), StandardCharsets.UTF_8) + ") differs from the scan");
            }
        }
    }

    private static String digest(byte[] v) {
        return v.length + ":" + HexFormat.of().formatHex(Arrays.copyOf(v, Math.min(v.length, 12))) + ":" + Arrays.hashCode(v);
    }

    /** Runs one child until it is killed at its target; returns {START, last SAVED} ({@code known}: the store's last commit before it). */
    private long[] runChild(String classpath, Path dir, long childSeed, boolean sync, String target, int delayMs, int it, long seed,
                            long known)
            throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", classpath,
                TieredCrashWriter.class.getName(), dir.toString(), Long.toString(childSeed), Boolean.toString(sync), target);
        ChildLines out = ChildLines.redirect(pb, tmp.resolve("child-stdout.txt"));
        Process process = pb.start();
        out.startTailing();
        StringBuffer stderr = new StringBuffer();
        boolean[] reached = new boolean[1];
        Thread errReader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (line.equals("PHASE " + target)) {
                        synchronized (reached) {
                            reached[0] = true;
                        }
                    }
                    if (stderr.length() < 20_000) {
                        stderr.append(line).append('\n');
                    }
                }
            } catch (IOException ignored) {
                // the pipe breaks when the child dies
            }
        }, "tiered-child-stderr");
        errReader.setDaemon(true);
        errReader.start();
        try {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(FIRST_SAVE_TIMEOUT_MS);
            while (out.saved() < 0 && !reached(reached) && process.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(2);
            }
            if (target.equals("commit")) {
                Thread.sleep(delayMs);
            } else {
                long phaseDeadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(PHASE_TIMEOUT_MS);
                while (process.isAlive() && System.nanoTime() < phaseDeadline) {
                    synchronized (reached) {
                        if (reached[0]) {
                            break;
                        }
                    }
                    Thread.sleep(1);
                }
                synchronized (reached) {
                    if (!reached[0] && process.isAlive()) {
                        fail("iteration " + it + " (seed " + seed + "): the child never reached " + target + "; stderr:\n" + stderr);
                    }
                }
            }
            // A rotation runs inside a commit: the child can reach it before its first SAVED line of this run.
            if (!process.isAlive() || (out.saved() < 0 && !reached(reached))) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
                errReader.join(2_000);
                fail("iteration " + it + " (seed " + seed + ", child seed " + childSeed + ", target " + target + "): the child "
                        + (out.saved() < 0 ? "made no commit" : "exited by itself") + "; stderr:\n" + stderr);
            }
        } finally {
            ChildKill.sigkill(process);
        }
        out.finish();
        if (process.exitValue() != 137) {
            fail("iteration " + it + ": child exit code " + process.exitValue() + ", expected 137 (SIGKILL); stderr:\n" + stderr);
        }
        // No SAVED line in this run: the last commit that returned is the last one before this child.
        return new long[] {out.start(), out.saved() >= 0 ? out.saved() : known};
    }

    private static boolean reached(boolean[] flag) {
        synchronized (flag) {
            return flag[0];
        }
    }

    private static void log(String line) {
        System.out.println(line);
        System.out.flush();
    }
}
