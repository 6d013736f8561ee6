package dev.cairn.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * CPU time (user + system) of the server JVM and of every Chromium process, from {@code /proc}
 * (Linux, ticks of 10 ms). On two saturated cores the wall time of a catch-up swings with the
 * machine's neighbours; the CPU each side spends on it is the steadier figure to compare.
 */
record ProcessCpu(long serverMillis, long browserMillis) {

    private static final long MILLIS_PER_TICK = 10; // USER_HZ is 100 on Linux

    /** Now, for this server process (null: none running, counted as 0). */
    static ProcessCpu now(ServerProcess server) {
        return new ProcessCpu(server == null ? 0 : millis(Path.of("/proc", Long.toString(server.pid()), "stat")), allBrowserMillis());
    }

    /**
     * Waits until the server has spent under 5% of a core for a whole half second (its store merges
     * the snapshots a seed left, its JIT compiles the seed's code), at most {@code maxMillis};
     * returns how long it waited. A run measured while that work goes on measures both.
     */
    static long awaitQuiet(ServerProcess server, long maxMillis) throws InterruptedException {
        long start = System.nanoTime();
        long last = now(server).serverMillis;
        while ((System.nanoTime() - start) / 1_000_000 < maxMillis) {
            Thread.sleep(500);
            long cpu = now(server).serverMillis;
            if (cpu - last < 25) {
                break;
            }
            last = cpu;
        }
        return (System.nanoTime() - start) / 1_000_000;
    }

    /** The CPU spent since {@code before}. */
    ProcessCpu since(ProcessCpu before) {
        return new ProcessCpu(serverMillis - before.serverMillis, browserMillis - before.browserMillis);
    }

    /** Every live process whose command is {@code chromium} (browser, renderers, GPU, utility; not the driver). */
    private static long allBrowserMillis() {
        long sum = 0;
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : (Iterable<Path>) procs::iterator) {
                if (p.getFileName().toString().chars().allMatch(Character::isDigit)) {
                    String stat = read(p.resolve("stat"));
                    if (stat != null && stat.contains("(chromium)")) {
                        sum += millis(stat);
                    }
                }
            }
        } catch (IOException e) {
            return 0;
        }
        return sum;
    }

    private static long millis(Path stat) {
        String s = read(stat);
        return s == null ? 0 : millis(s);
    }

    /** utime + stime, fields 14 and 15 of /proc/pid/stat, counted after the command's closing parenthesis. */
    private static long millis(String stat) {
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
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
