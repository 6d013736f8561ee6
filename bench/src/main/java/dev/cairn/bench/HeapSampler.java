package dev.cairn.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Samples a server JVM's heap from outside: {@code jcmd <pid> GC.heap_info} (used KiB of the Java
 * heap, live and garbage not yet collected), {@code VmRSS} and {@code RssAnon} (RSS without
 * file pages: the memory-mapped snapshots count in VmRSS but are page cache the kernel can drop), every {@value #PERIOD_MS} ms on a
 * daemon thread, keeping the largest and a line per sample.
 */
final class HeapSampler {

    private static final long PERIOD_MS = 5_000;
    private static final Pattern USED = Pattern.compile("heap\\s+total (\\d+)K, used (\\d+)K");

    private final long pid;
    private final long startNanos = System.nanoTime();
    private final StringBuilder log = new StringBuilder("seconds\theap total KiB\theap used KiB\tRSS KiB\tRssAnon KiB\n");
    private long maxUsed;
    private long maxRss;
    private long maxRssAnon;
    private int samples;
    private volatile Thread thread;

    HeapSampler(long pid) {
        this.pid = pid;
    }

    void start() {
        Thread t = new Thread(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                try {
                    sampleNow();
                    Thread.sleep(PERIOD_MS);
                } catch (InterruptedException e) {
                    return;
                } catch (RuntimeException e) {
                    Ctx.log("heap sample of %d failed: %s", pid, e.getMessage());
                }
            }
        }, "heap-sampler-" + pid);
        t.setDaemon(true);
        thread = t;
        t.start();
    }

    void stop() {
        Thread t = thread;
        if (t != null) {
            t.interrupt();
            thread = null;
        }
    }

    synchronized void sampleNow() {
        Matcher m = USED.matcher(Jcmd.run(pid, "GC.heap_info"));
        if (!m.find()) {
            throw new IllegalStateException("no heap figures in jcmd GC.heap_info of " + pid);
        }
        long total = Long.parseLong(m.group(1));
        long used = Long.parseLong(m.group(2));
        long rss = status("VmRSS:");
        long anon = status("RssAnon:");
        maxUsed = Math.max(maxUsed, used);
        maxRss = Math.max(maxRss, rss);
        maxRssAnon = Math.max(maxRssAnon, anon);
        samples++;
        log.append(String.format(Locale.ROOT, "%.0f\t%d\t%d\t%d\t%d%n", (System.nanoTime() - startNanos) / 1e9, total, used, rss, anon));
    }

    /** A KiB figure of /proc/pid/status. */
    private long status(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith(field)) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + field + " of " + pid + ": " + e.getMessage(), e);
        }
        return 0;
    }

    synchronized long maxUsedKiB() {
        return maxUsed;
    }

    synchronized long maxRssKiB() {
        return maxRss;
    }

    synchronized long maxRssAnonKiB() {
        return maxRssAnon;
    }

    synchronized int samples() {
        return samples;
    }

    synchronized String log() {
        return log.toString();
    }
}
