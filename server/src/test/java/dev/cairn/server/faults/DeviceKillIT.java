package dev.cairn.server.faults;

import static dev.cairn.server.faults.FaultRun.log;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.cairn.engine.Cairn;
import dev.cairn.engine.MapSection;
import dev.cairn.engine.crash.ChildClasspath;
import dev.cairn.engine.crash.ChildKill;
import dev.cairn.engine.crash.ChildLines;
import dev.cairn.engine.crash.CrashSettings;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.LwwEntry;
import dev.cairn.engine.crdt.LwwMap;
import dev.cairn.engine.sync.SyncClient;
import dev.cairn.engine.sync.internal.SyncPorts;
import dev.cairn.server.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * A syncing device killed with SIGKILL (issue 13, step 3: the device pushes a change while its
 * own commit of it is being forced to disk). A child JVM ({@link DeviceKillWriter}) writes and
 * saves continuously against a real server (this JVM, embedded store) and is killed at a random
 * time; after each kill the parent reopens the device's store and checks, against every
 * {@code SAVED} line any child printed:
 * <ul>
 *   <li>every saved change is in the device's state;</li>
 *   <li>each of them is still in the outbox or on the server with at least its stamp: the device
 *       never dropped an entry the server does not have;</li>
 *   <li>after a sync, every saved change is on the server and device and server are converged.</li>
 * </ul>
 * Counted as well: changes the server has that the reopened device does not (pushed, and the kill
 * cut the device's commit: never reported saved, they come back with the catch-up), and saved
 * changes both in the outbox and on the server (acked, removal cut: re-pushed, kept once).
 *
 * <p>CI: 10 kills; {@code CAIRN_LONG=1}: 200; {@code CAIRN_DEVICE_KILLS} sets the count. Seed:
 * {@code CAIRN_SEED}.
 */
class DeviceKillIT {

    private static final int CI_KILLS = 10;
    private static final long FIRST_SAVE_TIMEOUT_MS = 30_000;
    private static final int MAX_KILL_DELAY_MS = 1_500;

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path tmp;

    /** Indexes [first, last] a child reported saved. */
    private record Saved(long first, long last) {
    }

    private final List<Saved> saved = new ArrayList<>();
    private long savedChecked;
    private long pushedBeforeSaved;
    private long ackedStillQueued;

    @Test
    void aKilledDeviceKeepsEverySavedChangeAndNeverDropsAnEntryTheServerLacks() throws Exception {
        long seed = CrashSettings.seed();
        int kills = CrashSettings.setting("cairn.device.kills", "CAIRN_DEVICE_KILLS").map(Integer::parseInt)
                .orElse(CrashSettings.longRun() ? CrashSettings.LONG_KILLS : CI_KILLS);
        log("DeviceKillIT seed=" + seed + " (replay: CAIRN_SEED=" + seed + ") kills=" + kills + " dir=" + tmp);
        Random random = new Random(seed);
        String classpath = ChildClasspath.copy(tmp.resolve("classpath"));
        Path device = tmp.resolve("device");
        long t0 = System.nanoTime();
        try (TestServer server = TestServer.embedded().start()) {
            String user = "device-kill";
            for (int k = 1; k <= kills; k++) {
                int delay = random.nextInt(MAX_KILL_DELAY_MS);
                ChildLines out = runChild(classpath, device, server, user, random.nextLong(), delay, k);
                if (out.saved() >= out.start()) {
                    saved.add(new Saved(out.start(), out.saved()));
                }
                check(server, user, device, "kill " + k + " (" + delay + " ms after the first SAVED)");
            }
        }
        log(String.format("DeviceKillIT: %d SIGKILLs in %.1f s, %d saved changes checked after every kill (%d distinct), "
                        + "%d pushed before their local commit completed and cut by the kill, %d acknowledged but still queued (re-pushed); "
                        + "lost locally 0, lost from outbox 0, missing on the server after sync 0",
                kills, (System.nanoTime() - t0) / 1e9, savedChecked, distinctSaved(), pushedBeforeSaved, ackedStillQueued));
    }

    private long distinctSaved() {
        Set<Long> all = new HashSet<>();
        saved.forEach(s -> {
            for (long i = s.first; i <= s.last; i++) {
                all.add(i);
            }
        });
        return all.size();
    }

    private ChildLines runChild(String classpath, Path device, TestServer server, String user, long childSeed, int delayMs, int k)
            throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", classpath,
                DeviceKillWriter.class.getName(), device.toString(), server.syncUri().toString(), server.token(user),
                Long.toString(childSeed));
        Path err = tmp.resolve("child-" + k + ".err");
        pb.redirectError(err.toFile());
        ChildLines out = ChildLines.redirect(pb, tmp.resolve("child-" + k + ".out"));
        Process process = pb.start();
        out.startTailing();
        try {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(FIRST_SAVE_TIMEOUT_MS);
            while (out.saved() < 0 && process.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            if (out.saved() < 0 || !process.isAlive()) {
                fail("kill " + k + ": the child " + (process.isAlive() ? "printed no SAVED line in time" : "exited with " + process.waitFor())
                        + "; stderr:\n" + Files.readString(err));
            }
            Thread.sleep(delayMs);
            if (!process.isAlive()) {
                fail("kill " + k + ": the child exited by itself with " + process.waitFor() + "; stderr:\n" + Files.readString(err));
            }
        } finally {
            ChildKill.sigkill(process);
        }
        out.finish();
        assertEquals(137, process.exitValue(), "kill " + k + ": killed by SIGKILL");
        return out;
    }

    /** Reopens the killed device: saved changes kept, outbox complete; then syncs it: all on the server, converged. */
    private void check(TestServer server, String user, Path device, String ctx) throws Exception {
        LwwMap onServer = server.state(user).map(DeviceKillWriter.SECTION);
        try (Cairn cairn = Cairn.builder().dataDir(device).replicaId(DeviceKillWriter.REPLICA).open()) {
            MapSection state = cairn.map(DeviceKillWriter.SECTION);
            Set<String> queued = new HashSet<>();
            for (Change c : SyncPorts.of(cairn).outbox(Integer.MAX_VALUE).values()) {
                if (c instanceof Change.Put put && put.section().equals(DeviceKillWriter.SECTION)) {
                    queued.add(put.key() + "@" + put.stamp());
                }
            }
            List<String> lostLocally = new ArrayList<>();
            List<String> lostFromOutbox = new ArrayList<>();
            forEachSaved(i -> {
                String key = DeviceKillWriter.key(i);
                LwwEntry local = state.entry(key);
                savedChecked++;
                if (local == null || !Long.toString(i).equals(local.value())) {
                    lostLocally.add(key + "=" + (local == null ? "absent" : local.value()));
                    return;
                }
                LwwEntry remote = onServer.entry(key);
                boolean acked = remote != null && remote.stamp().compareTo(local.stamp()) >= 0;
                boolean inOutbox = queued.contains(key + "@" + local.stamp());
                if (!acked && !inOutbox) {
                    lostFromOutbox.add(key + "@" + local.stamp());
                }
                if (acked && inOutbox) {
                    ackedStillQueued++;
                }
            });
            onServer.forEach((key, entry) -> {
                if (state.entry(key) == null) {
                    pushedBeforeSaved++;
                }
            });
            assertEquals(List.of(), first(lostLocally), ctx + ": saved changes missing after the restart");
            assertEquals(List.of(), first(lostFromOutbox), ctx + ": saved changes neither in the outbox nor on the server");

            try (SyncClient sync = SyncClient.builder(cairn, server.syncUri(), () -> server.token(user)).build()) {
                sync.start();
                sync.syncNow().get(60, TimeUnit.SECONDS);
            }
            LwwMap after = server.state(user).map(DeviceKillWriter.SECTION);
            List<String> missing = new ArrayList<>();
            forEachSaved(i -> {
                LwwEntry e = after.entry(DeviceKillWriter.key(i));
                if (e == null || !Long.toString(i).equals(e.value())) {
                    missing.add(DeviceKillWriter.key(i));
                }
            });
            assertEquals(List.of(), first(missing), ctx + ": saved changes missing on the server after sync");
            assertEquals(server.canonical(user), cairn.canonicalState(), ctx + ": device and server differ after sync");
        }
    }

    private void forEachSaved(java.util.function.LongConsumer check) {
        Set<Long> seen = new HashSet<>();
        for (Saved s : saved) {
            for (long i = s.first; i <= s.last; i++) {
                if (seen.add(i)) {
                    check.accept(i);
                }
            }
        }
    }

    private static List<String> first(List<String> items) {
        return items.size() <= 20 ? items : items.subList(0, 20);
    }
}
