package dev.cairn.engine.crash;

import dev.cairn.engine.sync.internal.SyncPorts;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.fail;

import dev.cairn.engine.Cairn;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.LogEntry;
import dev.cairn.engine.crdt.LwwEntry;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crash safety of a <em>synced</em> device: a child JVM ({@link RemoteApplyCrashWriter})
 * interleaves local writes, remote pages applied with {@link Cairn#applyRemote(List, long)} (the
 * SyncClient path) and outbox acknowledgements, and is killed with SIGKILL; the kills are aimed
 * at each phase (random delays after the child announces a local write, a save, a remote apply,
 * the save of a remote page, an acknowledgement) or land at a random time.
 *
 * <p>After every kill the parent reopens the store and checks, against everything the children
 * on that directory ever reported:
 * <ul>
 *   <li>the store opens, and still commits (a probe write is saved);</li>
 *   <li>the saved cursor is at least the last {@code APPLIED} and every remote change at or
 *       below it is in the state (log entry present; map key at least as new);</li>
 *   <li>no remote change is applied twice (each remote log value once, with its own stamp),
 *       though the next child re-sends everything after the saved cursor, echoes and re-sends;</li>
 *   <li>every saved local write is present, once; a stored local value is either in the outbox
 *       or acknowledged, never both: acknowledged entries never come back, an interrupted
 *       acknowledgement is all or nothing;</li>
 *   <li>the restored clock is not behind any stored stamp.</li>
 * </ul>
 *
 * <p>CI: 24 kills; {@code CAIRN_LONG=1}: 200. Seed: {@code CAIRN_SEED} (or {@code CAIRN_CRASH_SEED},
 * {@code -Dcairn.seed}); kills: {@code CAIRN_REMOTE_CRASH_KILLS}. A failing run keeps its temp directory.
 */
class RemoteApplyCrashIT {

    private static final int CI_KILLS = 24;
    /** A directory accumulates this many crashes before the test starts over on a fresh one. */
    private static final int KILLS_PER_DIR = 8;
    private static final long START_TIMEOUT_MS = 20_000;
    private static final String[] AIMS = {"random", "write", "save", "remote", "remote-save", "ack"};

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path tmp;

    private String classpath;
    private final Map<String, Integer> aimed = new TreeMap<>();
    private final Map<String, Integer> landed = new TreeMap<>();
    private long remoteChecked;
    private long localChecked;

    @Test
    void killedSyncingDeviceKeepsCursorOutboxAndRemoteChangesConsistent() {
        long seed = CrashSettings.seed();
        boolean longRun = CrashSettings.longRun();
        int kills = CrashSettings.setting("cairn.remote.crash.kills", "CAIRN_REMOTE_CRASH_KILLS").map(Integer::parseInt)
                .orElse(longRun ? CrashSettings.LONG_KILLS : CI_KILLS);
        assertTimeoutPreemptively(Duration.ofSeconds(120 + 20L * kills), () -> run(seed, kills),
                () -> "RemoteApplyCrashIT seed " + seed + " did not finish in time");
    }

    /** What the children on one directory reported, cumulated, and what the last check saw. */
    private static final class Model {
        long saved = -1;          // every local write <= saved is durable
        long acked = -1;          // every local write <= acked is acknowledged
        long applied = 0;         // remote seqs <= applied (and the cursor) are durable
        long maxSent = 0;         // highest remote seq any child applied
        int runs;
    }

    private void run(long seed, int kills) throws Exception {
        log("RemoteApplyCrashIT seed=" + seed + " (replay: CAIRN_SEED=" + seed + "), kills=" + kills + ", dir=" + tmp);
        Random random = new Random(seed);
        long t0 = System.nanoTime();
        long base = System.currentTimeMillis() - 60_000;
        classpath = ChildClasspath.copy(tmp.resolve("classpath"));
        Model model = null;
        Path dir = null;
        for (int k = 0; k < kills; k++) {
            if (k % KILLS_PER_DIR == 0) {
                dir = tmp.resolve("dir-" + k / KILLS_PER_DIR);
                model = new Model();
            }
            String aim = AIMS[random.nextInt(AIMS.length)];
            aimed.merge(aim, 1, Integer::sum);
            Child child = runChild(dir, random.nextLong(), base, aim, random);
            String context = "kill " + (k + 1) + " of " + kills + " (seed " + seed + ", dir " + dir + ", " + child + ")";
            landed.merge(child.phaseAtKill, 1, Integer::sum);
            verify(context, dir, base, child, model);
        }
        log(String.format("RemoteApplyCrashIT done: %d SIGKILLs, broken stores 0, lost 0, duplicates 0; "
                        + "aimed at %s, landed in %s; %d remote and %d local changes checked; %.1f s",
                kills, aimed, landed, remoteChecked, localChecked, (System.nanoTime() - t0) / 1e9));
    }

    // ------------------------------------------------------------------ the child

    /** What one killed child printed. */
    private record Child(long seed, String aim, long start, long startCursor, long saved, long applied,
                         long acking, long acked, long sent, String phaseAtKill, int lines) {
        @Override
        public String toString() {
            return "child(seed " + seed + ", aimed at " + aim + ", killed in " + phaseAtKill + ", START " + start + "/" + startCursor
                    + ", SAVED " + saved + ", APPLIED " + applied + ", ACKING " + acking + ", ACKED " + acked + ", SENT " + sent + ", " + lines + " lines)";
        }
    }

    private Child runChild(Path dir, long childSeed, long base, String aim, Random random) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                "-cp", classpath, RemoteApplyCrashWriter.class.getName(), dir.toString(), Long.toString(childSeed), Long.toString(base));
        Path outFile = tmp.resolve("child-stdout.txt");
        pb.redirectOutput(outFile.toFile());
        Process process = pb.start();
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
        }, "remote-crash-child-stderr");
        errReader.setDaemon(true);
        errReader.start();
        try {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(START_TIMEOUT_MS);
            // Wait for START, then aim: the n-th entry into the chosen phase, then a short random delay
            // (the phase is a few ms long: the delay spreads the kill over its inside).
            int skip = random.nextInt(6);
            int delayMicros = random.nextInt(aim.equals("random") ? 400_000 : 4_000);
            String target = aim.equals("random") ? "START" : "PHASE " + aim;
            int seen = 0;
            int offset = 0;
            while (process.isAlive() && System.nanoTime() < deadline) {
                String text = Files.readString(outFile);
                int end = text.lastIndexOf('\n');
                if (end >= offset) {
                    for (String line : text.substring(offset, end).split("\n")) {
                        if (line.startsWith(target + " ") || line.equals(target + " OK")) {
                            seen++;
                        }
                    }
                    offset = end + 1;
                }
                if (seen > (aim.equals("random") ? 0 : skip)) {
                    break;
                }
                Thread.sleep(1);
            }
            if (!process.isAlive()) {
                int code = process.waitFor();
                errReader.join(2_000);
                fail("child (seed " + childSeed + ") exited by itself with code " + code + "; stderr:\n" + stderr);
            }
            if (System.nanoTime() >= deadline) {
                kill(process);
                fail("child (seed " + childSeed + ") never reached " + target + " within " + START_TIMEOUT_MS + " ms; stderr:\n" + stderr);
            }
            TimeUnit.MICROSECONDS.sleep(delayMicros);
        } finally {
            kill(process);
        }
        int code = process.exitValue();
        errReader.join(5_000);
        if (code != 137) {
            fail("child (seed " + childSeed + ") exit code " + code + ", expected 137 (SIGKILL); stderr:\n" + stderr);
        }
        return parse(childSeed, aim, Files.readString(outFile));
    }

    private static Child parse(long seed, String aim, String text) {
        long start = -1;
        long startCursor = -1;
        long saved = -1;
        long applied = -1;
        long acking = -1;
        long acked = -1;
        long sent = 0;
        String phase = "opening";
        int lines = 0;
        for (String line : text.split("\n")) {
            if (!line.endsWith(" OK")) {
                continue; // cut short by the kill: promises nothing
            }
            String[] w = line.split(" ");
            lines++;
            switch (w[0]) {
                case "START" -> {
                    start = Long.parseLong(w[1]);
                    startCursor = Long.parseLong(w[2]);
                    phase = "idle";
                }
                case "PHASE" -> phase = w[1];
                case "DONE" -> phase = "idle";
                case "SAVED" -> saved = Long.parseLong(w[1]);
                case "APPLIED" -> applied = Long.parseLong(w[1]);
                case "ACKING" -> acking = Long.parseLong(w[1]);
                case "ACKED" -> acked = Long.parseLong(w[1]);
                case "SENT" -> sent = Long.parseLong(w[1]);
                default -> throw new AssertionError("unexpected child line: " + line);
            }
        }
        return new Child(seed, aim, start, startCursor, saved, applied, acking, acked, sent, phase, lines);
    }

    private static void kill(Process process) throws InterruptedException {
        if (process.isAlive()) {
            process.destroyForcibly(); // SIGKILL on Linux
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

    private void verify(String context, Path dir, long base, Child child, Model model) {
        List<String> problems = new ArrayList<>();
        model.runs++;
        if (child.start >= 0 && child.start <= model.saved) {
            problems.add("the child started at write " + child.start + " but writes up to " + model.saved + " were saved: saved writes lost");
        }
        if (child.startCursor >= 0 && child.startCursor < model.applied) {
            problems.add("the child opened with cursor " + child.startCursor + " but " + model.applied + " was saved");
        }
        model.saved = Math.max(model.saved, child.saved);
        model.applied = Math.max(model.applied, child.applied);
        model.acked = Math.max(model.acked, child.acked);
        model.maxSent = Math.max(model.maxSent, child.sent);
        // Everything the child may have applied: it printed PHASE remote for pages up to its last cursor;
        // a bound is enough (re-checked below as "at most what was sent").
        Cairn cairn;
        try {
            cairn = RemoteApplyCrashWriter.open(dir);
        } catch (Throwable e) {
            fail(context + ": the store did not open after the kill: " + e);
            return;
        }
        try {
            long cursor = cairn.cursor();
            checkRemote(cairn, base, cursor, model, problems);
            checkLocal(cairn, child, model, problems);
            try {
                cairn.features().put("crash-probe", model.runs);
                cairn.save().get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                problems.add("the store opened and reads, but a new commit fails: " + e);
            }
        } finally {
            cairn.close();
        }
        if (!problems.isEmpty()) {
            StringBuilder msg = new StringBuilder(context).append(": ").append(problems.size()).append(" problem(s) after reopening:");
            problems.stream().limit(25).forEach(p -> msg.append("\n  - ").append(p));
            fail(msg.toString());
        }
        log(context + ": ok");
    }

    private void checkRemote(Cairn cairn, long base, long cursor, Model model, List<String> problems) {
        if (cursor < model.applied) {
            problems.add("saved cursor " + cursor + " is behind the last APPLIED " + model.applied + " (the cursor went back)");
        }
        // Every remote log value at most once, with exactly its own stamp, in its own stream.
        Set<Long> seen = new HashSet<>();
        long maxStored = 0;
        for (int s = 0; s < RemoteApplyCrashWriter.REMOTE_STREAMS; s++) {
            String stream = "r" + s;
            for (LogEntry e : cairn.log(RemoteApplyCrashWriter.LOG).entries(stream)) {
                long n = e.value().matches("\"r[0-9]{1,18}\"") ? Long.parseLong(e.value().substring(2, e.value().length() - 1)) : -1;
                if (n <= 0) {
                    problems.add("remote stream " + stream + " holds a value no server change carried: " + e);
                    continue;
                }
                Change expected = RemoteApplyCrashWriter.remote(n, base);
                if (!(expected instanceof Change.Append a) || !a.stream().equals(stream) || !a.stamp().equals(e.stamp())) {
                    problems.add("remote entry " + e + " is not server change " + n + " (" + expected + ")");
                }
                if (!seen.add(n)) {
                    problems.add("remote change " + n + " applied twice (duplicate log entry " + e + ")");
                }
                maxStored = Math.max(maxStored, n);
            }
        }
        // Everything at or below the saved cursor is in the state.
        Map<String, Long> lastPut = new HashMap<>();
        List<Long> missing = new ArrayList<>();
        for (long n = 1; n <= cursor; n++) {
            Change c = RemoteApplyCrashWriter.remote(n, base);
            if (c instanceof Change.Put put) {
                lastPut.put(put.key(), n);
            } else if (!seen.contains(n)) {
                missing.add(n);
            }
            remoteChecked++;
        }
        if (!missing.isEmpty()) {
            problems.add(missing.size() + " remote change(s) at or below the saved cursor " + cursor + " are missing (the cursor claims more than was applied): "
                    + (missing.size() > 20 ? missing.subList(0, 20) + " ..." : missing));
        }
        for (Map.Entry<String, Long> e : lastPut.entrySet()) {
            LwwEntry stored = cairn.map("state").entry(e.getKey());
            Stamp need = RemoteApplyCrashWriter.remote(e.getValue(), base).stamp();
            if (stored == null || stored.stamp().compareTo(need) < 0) {
                problems.add("state/" + e.getKey() + " is " + stored + ", older than remote change " + e.getValue()
                        + " at or below the saved cursor " + cursor);
            } else if (!(RemoteApplyCrashWriter.remote(Long.parseLong(stored.value()), base) instanceof Change.Put p && p.stamp().equals(stored.stamp()))) {
                problems.add("state/" + e.getKey() + " = " + stored + " is no server change");
            }
        }
        // Nothing the server never sent.
        if (maxStored > model.maxSent) {
            problems.add("remote change " + maxStored + " is stored, but no child was sent a seq above " + model.maxSent);
        }
    }

    private void checkLocal(Cairn cairn, Child child, Model model, List<String> problems) {
        Map<Stamp, Long> localByStamp = new HashMap<>();
        Set<Long> present = new HashSet<>();
        long maxHlc = 0;
        for (LogEntry e : cairn.log(RemoteApplyCrashWriter.LOG).entries(RemoteApplyCrashWriter.LOCAL_STREAM)) {
            long i = RemoteApplyCrashWriter.localIndex(e);
            if (i < 0) {
                problems.add("local stream holds a value no write produced: " + e);
                continue;
            }
            if (!present.add(i)) {
                problems.add("local write " + i + " is stored twice (applied twice): " + e);
            }
            localByStamp.put(e.stamp(), i);
            maxHlc = Math.max(maxHlc, e.stamp().hlc());
        }
        List<Long> missing = new ArrayList<>();
        for (long i = 0; i <= model.saved; i++) {
            if (!present.contains(i)) {
                missing.add(i);
            }
            localChecked++;
        }
        if (!missing.isEmpty()) {
            problems.add(missing.size() + " saved local write(s) lost: " + (missing.size() > 20 ? missing.subList(0, 20) + " ..." : missing));
        }
        for (int k = 0; k < RemoteApplyCrashWriter.LOCAL_KEYS; k++) {
            long last = -1;
            for (long i = model.saved; i >= 0 && i > model.saved - RemoteApplyCrashWriter.LOCAL_KEYS; i--) {
                if (i % RemoteApplyCrashWriter.LOCAL_KEYS == k) {
                    last = i;
                }
            }
            Integer v = cairn.map("state").get("k" + k, Integer.class);
            if (last >= 0 && (v == null || v < last)) {
                problems.add("state/k" + k + " = " + v + ", but write " + last + " set it and was saved (lost update)");
            }
        }

        // The outbox: no duplicates; every stored local append either queued or acknowledged.
        NavigableMap<Long, Change> outbox = SyncPorts.of(cairn).outbox(Integer.MAX_VALUE);
        Set<Stamp> queued = new HashSet<>();
        Set<Long> queuedAppends = new HashSet<>();
        for (Map.Entry<Long, Change> e : outbox.entrySet()) {
            Change c = e.getValue();
            maxHlc = Math.max(maxHlc, c.stamp().hlc());
            if (!queued.add(c.stamp())) {
                problems.add("outbox holds " + c.stamp() + " twice (seq " + e.getKey() + ")");
            }
            if (!c.stamp().replica().equals(RemoteApplyCrashWriter.REPLICA)) {
                problems.add("outbox seq " + e.getKey() + " holds a change of another replica (a remote change was queued): " + c);
            }
            if (c instanceof Change.Append a && a.stream().equals(RemoteApplyCrashWriter.LOCAL_STREAM)) {
                Long i = localByStamp.get(a.stamp());
                if (i == null) {
                    problems.add("outbox seq " + e.getKey() + " queues append " + a.stamp() + " that is not in the state");
                } else {
                    queuedAppends.add(i);
                    if (i <= model.acked) {
                        problems.add("local write " + i + " came back into the outbox though writes up to " + model.acked + " were acknowledged");
                    }
                }
            } else if (c instanceof Change.Put p && p.section().equals("state") && p.key().startsWith("k")) {
                if (Long.parseLong(p.value()) <= model.acked) {
                    problems.add("outbox seq " + e.getKey() + " queues " + p + " though writes up to " + model.acked + " were acknowledged");
                }
            } else if (!(c instanceof Change.Put p2 && p2.section().equals("features"))) {
                problems.add("outbox seq " + e.getKey() + " holds a change the writer never makes: " + c);
            }
        }
        // An acknowledgement the kill interrupted (ACKING without ACKED) is one commit: all or nothing.
        long inFlight = child.acking > child.acked ? child.acking : -1;
        int inFlightQueued = 0;
        int inFlightGone = 0;
        for (long i : present) {
            boolean isQueued = queuedAppends.contains(i);
            if (i <= model.acked) {
                continue; // checked above: not queued
            }
            if (i <= inFlight) {
                if (isQueued) {
                    inFlightQueued++;
                } else {
                    inFlightGone++;
                }
            } else if (!isQueued) {
                problems.add("local write " + i + " is in the state but neither in the outbox nor acknowledged (change saved without its outbox entry)");
            }
        }
        if (inFlightQueued > 0 && inFlightGone > 0) {
            problems.add("the acknowledgement of writes up to " + inFlight + " interrupted by the kill is half done: "
                    + inFlightGone + " gone, " + inFlightQueued + " still queued");
        }
        if (inFlight >= 0 && inFlightGone > 0) {
            model.acked = Math.max(model.acked, inFlight); // it landed: from now on those must never come back
        }
        if (cairn.clock().last() < maxHlc) {
            problems.add("the restored clock " + Long.toHexString(cairn.clock().last()) + " is behind a stored or queued stamp (hlc " + maxHlc + ")");
        }
    }

    private static void log(String line) {
        System.out.println(line);
        System.out.flush();
    }
}
