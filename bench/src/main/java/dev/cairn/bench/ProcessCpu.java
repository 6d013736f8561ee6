package dev.cairn.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;

/**
 * CPU time (user + system) of the server JVM and of every Chromium process, from {@code /proc}
 * (Linux, ticks of 10 ms). On two saturated cores the wall time of a catch-up swings with the
 * machine's neighbours; the CPU each side spends on it is the steadier figure to compare.
 *
 * @param server  the server's CPU ms (0: no server)
 * @param browser each Chromium process's CPU ms, by pid and start time (a pid may be reused)
 */
record ProcessCpu(long server, Map<String, Long> browser) {

    private static final long MILLIS_PER_TICK = 10; // USER_HZ is 100 on Linux

    /** Now, for this server process (null: none running). */
    static ProcessCpu now(ServerProcess server) {
        return new ProcessCpu(serverMillis(server), browserProcesses());
    }

    /** The server's CPU spent since {@code before}. */
    long serverMillisSince(ProcessCpu before) {
        return server - before.server;
    }

    /**
     * The browser's CPU spent since {@code before}: of each Chromium process alive now, its CPU
     * less what it had then (all of it if it started since). A process that ended in between is
     * not counted (its share of the window is lost, not subtracted).
     */
    long browserMillisSince(ProcessCpu before) {
        long sum = 0;
        for (Map.Entry<String, Long> p : browser.entrySet()) {
            sum += p.getValue() - before.browser.getOrDefault(p.getKey(), 0L);
        }
        return sum;
    }

    /**
     * Waits until the server has spent under 5% of a core in each of two half seconds in a row
     * (after a seed its store merges the seed's snapshots and its JIT compiles the seed's code),
     * at most {@code maxMillis}. Returns the ms waited, negative if it never got quiet.
     */
    static long awaitQuiet(ServerProcess server, long maxMillis) throws InterruptedException {
        long start = System.nanoTime();
        long last = serverMillis(server);
        int quiet = 0;
        while (quiet < 2) {
            if ((System.nanoTime() - start) / 1_000_000 >= maxMillis) {
                return -maxMillis;
            }
            Thread.sleep(500);
            long cpu = serverMillis(server);
            quiet = cpu - last < 25 ? quiet + 1 : 0;
            last = cpu;
        }
        return (System.nanoTime() - start) / 1_000_000;
    }

    private static long serverMillis(ServerProcess server) {
        if (server == null) {
            return 0;
        }
        String stat = read(Path.of("/proc", Long.toString(server.pid()), "stat"));
        return stat == null ? 0 : millis(fields(stat));
    }

    /** Every live process whose command is {@code chromium} (browser, renderers, GPU, utility; not the driver). */
    private static Map<String, Long> browserProcesses() {
        Map<String, Long> out = new HashMap<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : (Iterable<Path>) procs::iterator) {
                String pid = p.getFileName().toString();
                if (pid.chars().allMatch(Character::isDigit)) {
                    String stat = read(p.resolve("stat"));
                    if (stat != null && stat.contains("(chromium)")) {
                        String[] f = fields(stat);
                        out.put(pid + "@" + f[19], millis(f)); // field 22: start time
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list /proc", e);
        }
        return out;
    }

    /** The fields of /proc/pid/stat after the command's closing parenthesis: index 0 is field 3. */
    private static String[] fields(String stat) {
        return stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    }

    /** utime + stime, fields 14 and 15. */
    private static long millis(String[] f) {
        return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * MILLIS_PER_TICK;
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            return null; // the process ended
        }
    }
}
