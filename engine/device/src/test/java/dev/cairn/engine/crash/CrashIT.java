package dev.cairn.engine.crash;

import dev.cairn.engine.sync.internal.SyncPorts;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.Cairn;
import dev.cairn.engine.ChatMessage;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.crash.CrashWriter.IntKey;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.LwwEntry;
import dev.cairn.engine.store.TieredLocalStore;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crash safety: a child JVM ({@link CrashWriter}) writes through the public API and is killed
 * with SIGKILL at a random moment; reopened, the store must open without error, every write
 * whose {@code save()} had returned must be in the state and in the outbox, and state and outbox
 * must agree.
 *
 * <p>Iterations (default 22; {@code -Dcairn.crash.iterations=N} or {@code CAIRN_CRASH_ITERATIONS}):
 * about half on one shared data directory that accumulates crashes (every 4th of those is
 * preceded by an extra child killed at a random moment from its start, unverified, so the next
 * child reopens a store that was just killed, possibly while opening it), the rest on fresh
 * directories. The random choices come from one seed, printed at the start; replay with
 * {@code CAIRN_SEED} (or {@code CAIRN_CRASH_SEED}, {@code -Dcairn.seed}); {@code CAIRN_LONG=1} runs 200 iterations. A failing run keeps its temp directory.
 *
 * <p>What is checked after each kill, with {@code n} the last {@code SAVED n} the child printed:
 * <ul>
 *   <li>the engine opens (no exception);</li>
 *   <li>each integer key holds a value {@code >=} the last write {@code <= n} of it (a later,
 *       unsaved write may have reached the disk too), and that value is a write of that key;</li>
 *   <li>chat holds {@code m<s>..m<n>} for every run, in order, each exactly once, and everything
 *       the previous verification saw still comes first, unchanged;</li>
 *   <li>outbox (nothing was ever acknowledged): sequence numbers are 1..size without gaps, no
 *       change is queued twice, the latest queued put of every key is exactly the stored entry
 *       (value and stamp), every chat message has its append queued and every queued append is
 *       in the chat;</li>
 *   <li>the restored clock is not behind any stored or queued stamp;</li>
 *   <li>the reopened store still commits: the parent writes a probe key ({@code features/crash-probe})
 *       and saves (a torn store can read fine and fail only at its next commit).</li>
 * </ul>
 */
class CrashIT {

    private static final int DEFAULT_ITERATIONS = 22;
    private static final long FIRST_SAVE_TIMEOUT_MS = 20_000;
    private static final int MAX_KILL_DELAY_MS = 400;
    /** Extra, unverified kills land anywhere in the first this many ms of the child's life. */
    private static final int MAX_EARLY_KILL_MS = 1_500;
    /** The parent writes this key (in {@code features}) after each check, to prove the store still commits. */
    private static final String PROBE_KEY = "crash-probe";

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path tmp;

    /** Verified reopens whose journal ended in a torn record, i.e. the kill landed inside an append. */
    private int tornReopens;

    /** The children's class path: see {@link ChildClasspath}. */
    private String classpath;

    @Test
    void killedWriterKeepsEverySavedChange() {
        long seed = CrashSettings.seed();
        int iterations = setting("cairn.crash.iterations", "CAIRN_CRASH_ITERATIONS").map(Integer::parseInt).orElse(CrashSettings.longRun() ? CrashSettings.LONG_KILLS : DEFAULT_ITERATIONS);
        if (iterations < 1) {
            throw new IllegalArgumentException("cairn.crash.iterations must be >= 1: " + iterations);
        }
        // Every wait inside is bounded; this is the backstop against a hang (e.g. an open that never returns).
        assertTimeoutPreemptively(Duration.ofSeconds(120 + 30L * iterations), () -> run(seed, iterations),
                () -> "CrashIT seed " + seed + " did not finish in time");
    }

    private void run(long seed, int iterations) throws Exception {
        int fresh = iterations * 5 / 11;
        int shared = iterations - fresh;
        log("CrashIT seed=" + seed + " (replay: CAIRN_SEED=" + seed + "), iterations=" + iterations
                + " (" + shared + " on a shared dir, " + fresh + " on fresh dirs), dir=" + tmp);
        Random random = new Random(seed);
        long t0 = System.nanoTime();
        classpath = ChildClasspath.copy(tmp.resolve("classpath"));

        Path sharedDir = tmp.resolve("shared");
        Snapshot previous = Snapshot.EMPTY;
        int iteration = 0;
        int kills = 0;
        for (int s = 0; s < shared; s++) {
            iteration++;
            Context ctx = new Context(iteration, seed, "shared dir, verified kill " + (s + 1) + " of " + shared, sharedDir);
            List<Run> runs = new ArrayList<>();
            if (s % 4 == 3) {
                runs.add(runChild(ctx, sharedDir, random.nextLong(), true, random.nextInt(MAX_EARLY_KILL_MS)));
                kills++;
            }
            runs.add(runChild(ctx, sharedDir, random.nextLong(), false, random.nextInt(MAX_KILL_DELAY_MS + 1)));
            kills++;
            previous = verify(ctx, runs, previous);
        }
        for (int f = 0; f < fresh; f++) {
            iteration++;
            Path dir = tmp.resolve("fresh-" + f);
            Context ctx = new Context(iteration, seed, "fresh dir " + (f + 1) + " of " + fresh, dir);
            Run run = runChild(ctx, dir, random.nextLong(), false, random.nextInt(MAX_KILL_DELAY_MS + 1));
            kills++;
            verify(ctx, List.of(run), Snapshot.EMPTY);
        }
        log(String.format("CrashIT done: %d iterations, %d SIGKILLs, %d of %d verified reopens found a torn last record (cut off), %.1f s",
                iteration, kills, tornReopens, iteration, (System.nanoTime() - t0) / 1e9));
    }

    // ------------------------------------------------------------------ the child

    /** Where a failure happened, for messages. */
    private record Context(int iteration, long seed, String what, Path dir) {
        @Override
        public String toString() {
            return "iteration " + iteration + " (" + what + "), seed " + seed + ", dir " + dir;
        }
    }

    /** One killed child: its first write index and the last index its saves covered (-1 if none printed). */
    private record Run(long childSeed, boolean early, int killDelayMs, long start, long saved, int lines, String stderr) {
        @Override
        public String toString() {
            return (early ? "early-kill child" : "child") + "(seed " + childSeed + ", killed " + killDelayMs + " ms after "
                    + (early ? "start" : "first SAVED") + ", START " + start + ", last SAVED " + saved + ", " + lines + " lines)";
        }
    }

    private Run runChild(Context ctx, Path dir, long childSeed, boolean early, int killDelayMs) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                "-cp", classpath, CrashWriter.class.getName(), dir.toString(), Long.toString(childSeed));
        // stdout goes to a file, not a pipe: see ChildLines (a pipe can lose the last lines at the kill)
        ChildLines out = ChildLines.redirect(pb, tmp.resolve("child-stdout.txt"));
        Process process = pb.start();
        long pid = process.pid();
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
        }, "crash-child-stderr");
        errReader.setDaemon(true);
        errReader.start();
        try {
            if (early) {
                Thread.sleep(killDelayMs);
            } else {
                long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(FIRST_SAVE_TIMEOUT_MS);
                while (out.saved() < 0 && process.isAlive() && System.nanoTime() < deadline) {
                    Thread.sleep(5);
                }
                if (out.saved() < 0) {
                    String why = process.isAlive() ? "printed no SAVED line within " + FIRST_SAVE_TIMEOUT_MS + " ms"
                            : "exited with code " + process.waitFor() + " before its first SAVED line";
                    kill(process);
                    errReader.join(2_000);
                    fail(ctx + ": child (seed " + childSeed + ") " + why + "; stderr:\n" + stderr);
                }
                Thread.sleep(killDelayMs);
            }
            if (!process.isAlive()) {
                int code = process.waitFor();
                errReader.join(2_000);
                fail(ctx + ": child (seed " + childSeed + ") exited by itself with code " + code
                        + " before it was killed (last SAVED " + out.saved() + "); stderr:\n" + stderr);
            }
        } finally {
            kill(process);
        }
        int code = process.exitValue();
        Optional<ProcessHandle> handle = ProcessHandle.of(pid);
        if (handle.isPresent() && handle.get().isAlive()) {
            fail(ctx + ": child pid " + pid + " is still alive after destroyForcibly()");
        }
        out.finish(); // everything the child printed before it died
        errReader.join(5_000);
        // 128 + 9: killed by SIGKILL (not a clean exit: the JVM ran no shutdown hooks, closed nothing).
        if (code != 137) {
            fail(ctx + ": child (seed " + childSeed + ") exit code " + code + ", expected 137 (SIGKILL); stderr:\n" + stderr);
        }
        return new Run(childSeed, early, killDelayMs, out.start(), out.saved(), (int) out.lines(), stderr.toString());
    }

    private static void kill(Process process) throws InterruptedException {
        if (process.isAlive()) {
            process.destroyForcibly(); // SIGKILL on Linux and macOS
        }
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            throw new AssertionError("child pid " + process.pid() + " survived SIGKILL for 10 s");
        }
        try {
            process.getOutputStream().close();
        } catch (IOException ignored) {
            // already gone
        }
    }

    // ------------------------------------------------------------------ verification

    /** What a verification saw: the chat in order and every integer key's value. */
    private record Snapshot(List<String> chat, Map<IntKey, Integer> values) {
        static final Snapshot EMPTY = new Snapshot(List.of(), Map.of());
    }

    private Snapshot verify(Context ctx, List<Run> runs, Snapshot previous) {
        String header = ctx + "; runs since last check: " + runs;
        List<String> problems = new ArrayList<>();

        // Runs are sequential on one directory: each must start past everything the one before saved.
        for (int r = 1; r < runs.size(); r++) {
            Run before = runs.get(r - 1);
            Run after = runs.get(r);
            if (after.start >= 0 && before.saved >= 0 && after.start <= before.saved) {
                problems.add("run " + (r + 1) + " started at write " + after.start + " but run " + r + " had saved up to "
                        + before.saved + ": the reopened store lost saved writes");
            }
        }

        // The guaranteed writes: [start, saved] of every run that printed both.
        Map<IntKey, Integer> minimum = new HashMap<>(previous.values);
        List<Long> guaranteedChat = new ArrayList<>();
        for (Run run : runs) {
            if (run.saved < 0) {
                continue;
            }
            if (run.start < 0 || run.start > run.saved) {
                problems.add("protocol: " + run + " printed SAVED without a START at or below it");
                continue;
            }
            for (long i = run.start; i <= run.saved; i++) {
                guaranteedChat.add(i);
                for (IntKey k : CrashWriter.intKeysWrittenBy(i)) {
                    minimum.merge(k, (int) i, Math::max);
                }
            }
        }

        String journal = journalState(ctx.dir);
        if (journal.contains("torn")) {
            tornReopens++;
        }
        Cairn cairn;
        long openStart = System.nanoTime();
        try {
            cairn = Cairn.builder().dataDir(ctx.dir).replicaId(CrashWriter.REPLICA).open();
        } catch (Throwable e) {
            StringWriter trace = new StringWriter();
            e.printStackTrace(new PrintWriter(trace));
            fail(header + ": the store did not open after the kill: " + e + "\njournal as the kill left it: " + journal
                    + "\nfiles in the data directory: " + listing(ctx.dir)
                    + "\n" + trace);
            return null;
        }
        long openMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - openStart);
        Snapshot now;
        try {
            now = check(cairn, minimum, guaranteedChat, previous, problems);
            // Opening and reading is not enough: a torn store can read fine and fail its next commit.
            try {
                cairn.features().put(PROBE_KEY, ctx.iteration);
                cairn.save().get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
                problems.add("the store opened and reads, but a new commit fails: " + cause
                        + (cause.getCause() != null ? " (caused by " + cause.getCause() + ")" : ""));
            }
        } finally {
            cairn.close();
        }
        Run last = runs.get(runs.size() - 1);
        log(String.format("iteration %d (%s): last SAVED %d, START %d, %d chat messages, reopened in %d ms, journal %s%s",
                ctx.iteration, ctx.what, last.saved, last.start, now.chat.size(), openMs, journal,
                runs.size() > 1 ? " (after an extra early kill: " + runs.get(0) + ")" : ""));
        if (!problems.isEmpty()) {
            StringBuilder msg = new StringBuilder(header).append(": ").append(problems.size()).append(" problem(s) after reopening")
                    .append(" (journal as the kill left it: ").append(journal).append("; files: ").append(listing(ctx.dir)).append("):");
            problems.stream().limit(25).forEach(p -> msg.append("\n  - ").append(p));
            if (problems.size() > 25) {
                msg.append("\n  ... and ").append(problems.size() - 25).append(" more");
            }
            for (Run run : runs) {
                if (!run.stderr.isBlank()) {
                    msg.append("\nstderr of ").append(run).append(":\n").append(run.stderr);
                }
            }
            fail(msg.toString());
        }
        return now;
    }

    private static Snapshot check(Cairn cairn, Map<IntKey, Integer> minimum, List<Long> guaranteedChat, Snapshot previous,
                                  List<String> problems) {
        if (!CrashWriter.REPLICA.equals(cairn.replicaId())) {
            problems.add("replica id is '" + cairn.replicaId() + "', expected '" + CrashWriter.REPLICA + "'");
        }

        // ---- integer keys: at least as new as the last saved write, and a real write of that key
        Map<IntKey, Integer> values = new LinkedHashMap<>();
        for (IntKey k : CrashWriter.allIntKeys()) {
            Integer v;
            try {
                v = cairn.map(k.section()).get(k.key(), Integer.class);
            } catch (RuntimeException e) {
                problems.add(k + " does not read as an integer: " + e.getMessage());
                continue;
            }
            Integer min = minimum.get(k);
            if (v == null) {
                if (min != null) {
                    problems.add(k + " is missing; write " + min + " set it and was saved");
                }
                continue;
            }
            values.put(k, v);
            if (min != null && v < min) {
                problems.add(k + " = " + v + ", but write " + min + " set it and was saved (lost update)");
            }
            if (v < 0 || !CrashWriter.intKeysWrittenBy(v).contains(k)) {
                problems.add(k + " = " + v + ", which no write of this key ever stored (garbage value)");
            }
        }

        // ---- chat: previous contents first, then every saved message, in order, each once
        List<ChatMessage> history;
        try {
            history = cairn.chat().history(CrashWriter.CONVERSATION);
        } catch (RuntimeException e) {
            problems.add("chat history does not read: " + e);
            history = List.of();
        }
        List<String> chat = new ArrayList<>(history.size());
        Map<Stamp, String> chatByStamp = new HashMap<>();
        long lastIndex = -1;
        for (ChatMessage m : history) {
            chat.add(m.text());
            chatByStamp.put(m.stamp(), m.text());
            long idx = CrashWriter.chatIndex(m.text());
            if (idx < 0) {
                problems.add("chat holds a message no write produced: '" + m.text() + "' (" + m.stamp() + ")");
            } else if (idx <= lastIndex) {
                problems.add("chat message " + m.text() + " comes after m" + lastIndex
                        + (idx == lastIndex ? " (duplicate: applied twice)" : " (out of order)"));
            } else {
                lastIndex = idx;
            }
        }
        if (chat.size() < previous.chat.size() || !chat.subList(0, previous.chat.size()).equals(previous.chat)) {
            problems.add("chat no longer starts with the " + previous.chat.size() + " messages the previous verification saw"
                    + " (now " + chat.size() + " messages)");
        }
        Set<String> present = new HashSet<>(chat);
        List<String> missing = new ArrayList<>();
        for (long i : guaranteedChat) {
            if (!present.contains(CrashWriter.chatText(i))) {
                missing.add(CrashWriter.chatText(i));
            }
        }
        if (!missing.isEmpty()) {
            problems.add(missing.size() + " saved chat message(s) missing: "
                    + (missing.size() > 20 ? missing.subList(0, 20) + " ..." : missing.toString()));
        }

        // ---- outbox: contiguous, no duplicates, and in agreement with the state
        NavigableMap<Long, Change> outbox = SyncPorts.of(cairn).outbox(Integer.MAX_VALUE);
        long expectSeq = 1;
        Set<Stamp> outboxStamps = new HashSet<>();
        Map<IntKeyOrAny, Change.Put> latestPut = new HashMap<>();
        long maxHlc = 0;
        for (Map.Entry<Long, Change> e : outbox.entrySet()) {
            if (e.getKey() != expectSeq) {
                problems.add("outbox sequence jumps from " + (expectSeq - 1) + " to " + e.getKey() + " though nothing was acknowledged");
                expectSeq = e.getKey();
            }
            expectSeq++;
            Change c = e.getValue();
            maxHlc = Math.max(maxHlc, c.stamp().hlc());
            if (!outboxStamps.add(c.stamp())) {
                problems.add("outbox holds the change stamped " + c.stamp() + " twice (again at seq " + e.getKey() + "): " + c);
            }
            if (c instanceof Change.Put put) {
                latestPut.merge(new IntKeyOrAny(put.section(), put.key()), put, (a, b) -> a.stamp().compareTo(b.stamp()) >= 0 ? a : b);
            } else if (c instanceof Change.Append append) {
                if (!append.section().equals("chat") || !append.stream().equals(CrashWriter.CONVERSATION)) {
                    problems.add("outbox seq " + e.getKey() + " appends to an unexpected stream: " + c);
                    continue;
                }
                String text = chatByStamp.get(append.stamp());
                if (text == null) {
                    problems.add("outbox seq " + e.getKey() + " queues chat append " + append.stamp() + " that is not in the chat state: " + c);
                } else if (!text.equals(appendText(append))) {
                    problems.add("outbox seq " + e.getKey() + " queues text '" + appendText(append) + "' but the chat holds '" + text
                            + "' at " + append.stamp());
                }
            } else {
                problems.add("outbox seq " + e.getKey() + " holds a change the writer never makes: " + c);
            }
        }
        for (ChatMessage m : history) {
            maxHlc = Math.max(maxHlc, m.stamp().hlc());
            if (!outboxStamps.contains(m.stamp())) {
                problems.add("chat message " + m.text() + " (" + m.stamp() + ") is in the state but not in the outbox");
            }
        }
        Set<IntKeyOrAny> stateKeys = new HashSet<>();
        for (String section : List.of("state", "cards", "ui", "features")) {
            for (String key : cairn.map(section).keys()) {
                IntKeyOrAny id = new IntKeyOrAny(section, key);
                stateKeys.add(id);
                LwwEntry entry = cairn.map(section).entry(key);
                maxHlc = Math.max(maxHlc, entry.stamp().hlc());
                Change.Put put = latestPut.get(id);
                if (put == null) {
                    problems.add(section + "/" + key + " = " + entry.value() + " (" + entry.stamp() + ") is in the state but has no put in the outbox");
                } else if (!put.stamp().equals(entry.stamp()) || !Json.normalize(put.value()).equals(Json.normalize(entry.value()))) {
                    problems.add(section + "/" + key + ": state holds " + entry.value() + " (" + entry.stamp()
                            + ") but the outbox's latest put is " + put.value() + " (" + put.stamp() + ")");
                }
            }
        }
        for (IntKeyOrAny id : latestPut.keySet()) {
            if (!stateKeys.contains(id)) {
                problems.add("outbox queues a put of " + id.section + "/" + id.key + " that the state does not hold");
            }
        }
        if (cairn.clock().last() < maxHlc) {
            problems.add("restored clock " + cairn.clock().last() + " is behind a stored stamp's hlc " + maxHlc);
        }
        return new Snapshot(List.copyOf(chat), values);
    }

    private record IntKeyOrAny(String section, String key) {
    }

    private static String appendText(Change.Append append) {
        try {
            JsonNode body = Json.MAPPER.readTree(append.value());
            return body.path("text").asText(null);
        } catch (IOException e) {
            return "<unreadable: " + e.getMessage() + ">";
        }
    }

    // ------------------------------------------------------------------ helpers

    /**
     * The data directory's files with their sizes: {@code cairn.journal}, {@code cairn.lock}, and a
     * leftover {@code cairn.journal.compact} if a kill cut a compaction short (the next open deletes it).
     */
    private static String listing(Path dir) {
        try (var files = Files.list(dir)) {
            return files.sorted().map(f -> {
                try {
                    return f.getFileName() + " (" + Files.size(f) + " bytes)";
                } catch (IOException e) {
                    return f.getFileName() + " (?)";
                }
            }).toList().toString();
        } catch (IOException e) {
            return "<cannot list: " + e.getMessage() + ">";
        }
    }

    /**
     * What the kill left in the journal, seen through a copy (so the engine still opens the journal
     * exactly as the kill left it): its size and whether its last record was torn.
     */
    private String journalState(Path dir) {
        StringBuilder state = new StringBuilder();
        try (var files = Files.list(dir)) {
            for (Path f : files.filter(f -> f.getFileName().toString().startsWith("cairn") && !f.getFileName().toString()
                    .equals("cairn.lock")).sorted().toList()) {
                state.append(state.length() == 0 ? "" : ", ").append(f.getFileName()).append(' ').append(Files.size(f)).append(" B");
            }
        } catch (IOException e) {
            return "<cannot list: " + e + ">";
        }
        if (state.length() == 0) {
            return "absent";
        }
        Path copy = tmp.resolve("store-probe");
        try {
            TieredLocalStore.copyFiles(dir, copy);
            try (TieredLocalStore probe = TieredLocalStore.open(copy, TieredLocalStore.Options.defaults().withSync(false))) {
                state.append(probe.tornTailsCut() > 0 ? ", torn last record cut off" : ", clean end")
                        .append(", ").append(probe.snapshotCount()).append(" snapshots");
            }
        } catch (IOException | RuntimeException e) {
            state.append(", does not open: ").append(e.getMessage());
        } finally {
            deleteTree(copy);
        }
        return state.toString();
    }

    private static void deleteTree(Path d) {
        try (var files = Files.walk(d)) {
            for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(f);
            }
        } catch (IOException ignored) {
            // in the kept temp directory at worst
        }
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
