package dev.cairn.engine.crash;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.fail;

import dev.cairn.engine.store.JournalLocalStore;
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
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crash safety of {@link JournalLocalStore} itself, where the engine-level {@link CrashIT} rarely
 * reaches: a child ({@link JournalCrashWriter}) commits large records as fast as it can and
 * compacts often, and is killed with SIGKILL at a random moment. Most runs skip fsync (a process
 * kill loses nothing from the page cache), so the child spends its time inside {@code write()}
 * and kills land inside appends (torn last records) and inside compactions (a leftover
 * {@code .compact} file).
 *
 * <p>After each kill, on one journal shared by all runs: it opens; it holds exactly the state after
 * commits {@code 0..n} with {@code n} the last {@code SAVED} line or one more (that commit may have
 * returned without its line being printed); the leftover compaction file is gone; and it still
 * commits, durably (reopened again). Iterations: default 30, {@code -Dcairn.crash.journalIterations=N}
 * or {@code CAIRN_CRASH_JOURNAL_ITERATIONS}; seed {@code CAIRN_SEED} (or {@code CAIRN_CRASH_SEED}); {@code CAIRN_LONG=1}: 200 iterations.
 */
class JournalCrashIT {

    private static final int DEFAULT_ITERATIONS = 30;
    private static final long FIRST_SAVE_TIMEOUT_MS = 20_000;
    private static final int MAX_KILL_DELAY_MS = 600;

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path tmp;

    @Test
    void killedJournalWriterKeepsEveryCommitAndNothingElse() {
        long seed = CrashSettings.seed();
        int iterations = setting("cairn.crash.journalIterations", "CAIRN_CRASH_JOURNAL_ITERATIONS").map(Integer::parseInt)
                .orElse(CrashSettings.longRun() ? CrashSettings.LONG_KILLS : DEFAULT_ITERATIONS);
        assertTimeoutPreemptively(Duration.ofSeconds(120 + 30L * iterations), () -> run(seed, iterations),
                () -> "JournalCrashIT seed " + seed + " did not finish in time");
    }

    private void run(long seed, int iterations) throws Exception {
        Random random = new Random(seed);
        Path journal = tmp.resolve("data").resolve("cairn.journal");
        Path leftover = journal.resolveSibling("cairn.journal.compact");
        String classpath = ChildClasspath.copy(tmp.resolve("classpath"));
        log("JournalCrashIT seed=" + seed + " (replay: CAIRN_SEED=" + seed + "), iterations=" + iterations + ", journal=" + journal);
        long t0 = System.nanoTime();
        int torn = 0;
        int leftovers = 0;
        long tornBytes = 0;
        for (int it = 1; it <= iterations; it++) {
            boolean sync = random.nextInt(4) == 0;
            long childSeed = random.nextLong();
            int delay = random.nextInt(MAX_KILL_DELAY_MS + 1);
            long[] startSaved = runChild(classpath, journal, childSeed, sync, delay, it, seed);
            long start = startSaved[0];
            long saved = startSaved[1];
            String ctx = "iteration " + it + " (seed " + seed + ", child seed " + childSeed + ", sync " + sync + ", killed " + delay
                    + " ms after its first commit, START " + start + ", last SAVED " + saved + ", journal " + journal + ")";
            boolean hadLeftover = Files.exists(leftover);
            long sizeBefore = Files.size(journal);
            long n;
            try (JournalLocalStore store = JournalLocalStore.open(journal)) {
                if (Files.exists(leftover)) {
                    fail(ctx + ": the leftover compaction file is still there after open");
                }
                byte[] last = store.get(JournalCrashWriter.LAST);
                n = last == null ? -1 : ByteBuffer.wrap(last).getLong();
                if (n < saved || n > saved + 1) {
                    fail(ctx + ": the journal holds commits up to " + n + ", but commit " + saved + " had returned"
                            + (n < saved ? " (lost commits)" : " (commits that never ran)"));
                }
                compare(ctx + " at commit " + n, JournalCrashWriter.expected(n), store);
                if (store.tornTailsCut() > 0) {
                    torn++;
                    tornBytes += sizeBefore - store.sizeBytes();
                }
                leftovers += hadLeftover ? 1 : 0;
                log(String.format("iteration %d: sync %s, START %d, last SAVED %d, journal at %d, %d B%s%s", it, sync, start, saved, n,
                        sizeBefore, store.tornTailsCut() > 0 ? ", torn last record cut (" + (sizeBefore - store.sizeBytes()) + " B)" : "",
                        hadLeftover ? ", leftover .compact deleted" : ""));
                // still commits: the next commit of the sequence, like the next child would
                store.commit(JournalCrashWriter.writesOf(n + 1));
            } catch (RuntimeException e) {
                throw new AssertionError(ctx + ": the journal does not open or commit after the kill: " + e, e);
            }
            try (JournalLocalStore store = JournalLocalStore.open(journal)) {
                compare(ctx + " after the probe commit and a reopen", JournalCrashWriter.expected(n + 1), store);
            }
        }
        log(String.format("JournalCrashIT done: %d iterations, %d SIGKILLs, %d torn last records cut (%d B in all), %d leftover"
                + " compaction files, %.1f s", iterations, iterations, torn, tornBytes, leftovers, (System.nanoTime() - t0) / 1e9));
    }

    private static void compare(String ctx, TreeMap<byte[], byte[]> expected, JournalLocalStore store) {
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
            fail(ctx + ": the journal's contents differ from the commits made: " + diff);
        }
    }

    /** Length and the first bytes, enough to tell values apart in a message. */
    private static String digest(byte[] v) {
        return v.length + ":" + HexFormat.of().formatHex(Arrays.copyOf(v, Math.min(v.length, 12))) + ":" + Arrays.hashCode(v);
    }

    /** Runs one child until it is killed; returns {START, last SAVED}. */
    private long[] runChild(String classpath, Path journal, long childSeed, boolean sync, int delayMs, int it, long seed) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", classpath,
                JournalCrashWriter.class.getName(), journal.toString(), Long.toString(childSeed), Boolean.toString(sync));
        ChildLines out = ChildLines.redirect(pb, tmp.resolve("child-stdout.txt")); // a file, not a pipe: see ChildLines
        Process process = pb.start();
        out.startTailing();
        StringBuffer stderr = new StringBuffer();
        Thread errReader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (stderr.length() < 20_000) {
                        stderr.append(line).append('\n');
                    }
                }
            } catch (IOException ignored) {
                // the pipe breaks when the child dies
            }
        }, "journal-child-stderr");
        errReader.setDaemon(true);
        errReader.start();
        try {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(FIRST_SAVE_TIMEOUT_MS);
            while (out.saved() < 0 && process.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(2);
            }
            if (out.saved() >= 0) {
                Thread.sleep(delayMs);
            }
            if (!process.isAlive() || out.saved() < 0) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
                errReader.join(2_000);
                fail("iteration " + it + " (seed " + seed + ", child seed " + childSeed + "): the child "
                        + (out.saved() < 0 ? "made no commit" : "exited by itself") + "; stderr:\n" + stderr);
            }
        } finally {
            process.destroyForcibly(); // SIGKILL
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                throw new AssertionError("child pid " + process.pid() + " survived SIGKILL for 10 s");
            }
            process.getOutputStream().close();
        }
        out.finish();
        if (process.exitValue() != 137) {
            fail("iteration " + it + ": child exit code " + process.exitValue() + ", expected 137 (SIGKILL); stderr:\n" + stderr);
        }
        return new long[] {out.start(), out.saved()};
    }

    private static Optional<String> setting(String property, String env) {
        String v = System.getProperty(property);
        if (v == null || v.isBlank()) {
            v = System.getenv(env);
        }
        return v == null || v.isBlank() ? Optional.empty() : Optional.of(v.trim());
    }

    private static void log(String line) {
        System.out.println(line);
        System.out.flush();
    }
}
