package dev.cairn.bench;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The browser workload (issue 14, step 6): today's browser client in headless Chromium against the
 * real server, on the W3 data shape, as the Yjs peer's browser bench (/work/shared/peers/browser).
 *
 * <p>The page ({@code cairn-bench.html}, {@code cairn-bench.js}) and the client modules the server
 * jar ships come from a static origin in this JVM ({@link StaticSite}), so the page still loads
 * when the server is stopped. Per run, size and store: a fresh server that lets that origin in; one
 * user seeded over the protocol as W3 does; then one fresh Chromium
 * profile through four cases, each timed in the page from navigation start (see cairn-bench.js):
 * <ol>
 *   <li><b>first open</b>: open → readable (every seeded entry and message in memory) → live →
 *       {@code cairn.save()} resolved → durable ({@code cairn.close()} resolved: it waits for the
 *       sync cursor, saved only once the writes it covers have committed);</li>
 *   <li><b>reload</b> of that page: readable from the device, readable, live, durable;</li>
 *   <li><b>reload with the server stopped</b>: how many of the seeded entries and messages the
 *       device gives back, and when;</li>
 *   <li><b>restart with the server stopped</b>: Chromium closed and started again on the same
 *       profile, the same count.</li>
 * </ol>
 * After each case the page's V8 heap is read over the DevTools protocol before and after a full GC.
 * {@code --peers PATH} then runs the Yjs peer's bench in the same sitting ({@link YjsBrowserPeers})
 * and adds its rows to the same tables.
 */
final class BrowserBench {

    private BrowserBench() {
    }

    static void run(Ctx ctx) throws Exception {
        List<int[]> sizes = sizes(ctx.args.string("browser-sizes"));
        int runs = ctx.args.integer("runs");
        try (StaticSite pages = StaticSite.start(ctx.serverJar, ctx.newDir("web-root-"))) {
            warmUp(ctx, pages);
            for (int run = 1; run <= runs; run++) {
                for (int[] size : sizes) {
                    for (String store : ctx.args.stores("embedded")) {
                        for (String server : ctx.args.string("browser-server").split(",")) {
                            for (String worker : ctx.args.string("browser-worker").split(",")) {
                                once(ctx, pages, store, worker.trim(), server.trim(), size[0], size[1], run);
                            }
                        }
                    }
                }
            }
        }
        String peers = ctx.args.string("peers");
        if (!peers.isEmpty()) {
            YjsBrowserPeers.run(ctx, Path.of(peers), ctx.args.string("browser-sizes"), runs);
        }
    }

    /** "20000x4000,100000x20000": map entries x chat messages. */
    static List<int[]> sizes(String text) {
        List<int[]> out = new ArrayList<>();
        for (String part : text.split(",")) {
            String[] n = part.trim().split("x");
            try {
                int entries = Integer.parseInt(n[0].replace("_", ""));
                int chat = n.length == 2 ? Integer.parseInt(n[1].replace("_", "")) : -1;
                if (n.length != 2 || entries <= 0 || chat < 0) {
                    throw new NumberFormatException();
                }
                out.add(new int[] {entries, chat});
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--browser-sizes must be ENTRIESxMESSAGES[,...], e.g. 20000x4000,100000x20000: " + text);
            }
        }
        return out;
    }

    /** "100k+20k", as the peer labels its sizes. */
    static String label(int entries, int chat) {
        return thousands(entries) + "+" + thousands(chat);
    }

    private static String thousands(int n) {
        return n % 1000 == 0 ? n / 1000 + "k" : String.valueOf(n / 1000.0).replaceAll("\\.?0+$", "") + "k";
    }

    private static void once(Ctx ctx, StaticSite pages, String store, String worker, String server, int entries, int chat, int run)
            throws Exception {
        if (!worker.equals("shared") && !worker.equals("dedicated") && !worker.equals("none")) {
            throw new IllegalArgumentException("--browser-worker takes shared, dedicated and/or none, not '" + worker + "'");
        }
        if (!server.equals("cold") && !server.equals("warm")) {
            throw new IllegalArgumentException("--browser-server takes cold and/or warm, not '" + server + "'");
        }
        String size = label(entries, chat);
        String variant = "cairn " + store + switch (worker) {
            case "shared" -> " (sync in a shared worker)";
            case "dedicated" -> " (sync in a dedicated worker)";
            default -> " (sync in the page)";
        } + (server.equals("warm") ? ", warm server" : "");
        String user = "br" + run + "-" + worker + "-" + server + "-" + entries;
        Duration timeout = Duration.ofSeconds(Math.max(120, entries / 1000));
        Path profile = ctx.newDir("chromium-profile-");
        Site site = Site.start(ctx, store, 1, Map.of("CAIRN_ALLOWED_ORIGINS", pages.origin()), List.of());
        try {
            boolean warm = server.equals("warm");
            if (warm) {
                W3.seed(site, "warm-older-" + user, entries, chat);
            }
            W3.seed(site, user, entries, chat);
            if (warm) {
                // A server that has served other users' catch-ups of the same size, in binary pages as
                // the browser's, from older and newer tiers of its store than this user's: its catch-up
                // path is compiled for all of them (a fresh JVM spends much of a first catch-up in the
                // JIT). Until session 12 one catch-up in JSON frames of a user in newer tiers, which
                // left much of the measured open's path to compile, or to compile again.
                W3.seed(site, "warm-newer-" + user, entries, chat);
                for (int i = 1; i <= 2; i++) {
                    for (String other : List.of("warm-older-" + user, "warm-newer-" + user)) {
                        rawCatchUp(site, other, size, run, "warming the server with " + other, true);
                    }
                }
            }
            long waited = ProcessCpu.awaitQuiet(site.node(0), 120_000);
            Ctx.log(waited >= 0 ? "browser %s run %d: the server was quiet after %,d ms" : "browser %s run %d: the server was not quiet after %,d ms; measured anyway",
                    size, run, Math.abs(waited));
            boolean raw = ctx.args.bool("browser-raw-catchup");
            if (raw) {
                rawCatchUp(site, user, size, run, "before first open", false);
            }
            ServerProcess node = site.node(0);
            String base = pages.origin() + "/" + StaticSite.PAGE + "?user=" + user + "&ws=" + enc(node.syncUri().toString())
                    + "&nMap=" + entries + "&nChat=" + chat + "&worker=" + worker;
            String fragment = "#token=" + Tokens.mint(user);
            Chromium browser = new Chromium(profile);
            try {
                String profileDir = ctx.args.string("browser-profile");
                String tag = size + "-" + worker + "-" + server + "-run" + run;
                WorkerProfiler workerProfiler = null;
                try {
                    if (!profileDir.isEmpty()) {
                        // A page of the same origin first, so the first open runs in the renderer being profiled.
                        browser.open(pages.origin() + "/" + StaticSite.PAGE);
                        browser.startProfiler();
                        workerProfiler = "shared".equals(worker) ? new WorkerProfiler(browser.debuggerAddress()) : null;
                    }
                    double busy = browser.mainThreadSeconds();
                    ProcessCpu cpu = ProcessCpu.now(node);
                    browser.open(base + "&wait=live" + fragment);
                    report(ctx, "first open", size, variant, run, browser, timeout, entries, busy, node, cpu);
                    if (!profileDir.isEmpty()) {
                        Path dir = Files.createDirectories(Path.of(profileDir));
                        CpuProfile.save(browser.stopProfiler(), dir.resolve("first-open-" + tag + ".cpuprofile"), 30);
                        saveWorkerProfile(workerProfiler, dir.resolve("first-open-" + tag + "-worker.cpuprofile"));
                    }
                } finally {
                    if (workerProfiler != null) {
                        workerProfiler.close();
                    }
                }
                if (raw) {
                    rawCatchUp(site, user, size, run, "after first open (a server warmed twice)", false);
                }
                Thread.sleep(1000);
                if (!profileDir.isEmpty()) {
                    browser.startProfiler();
                }
                double busy = browser.mainThreadSeconds();
                ProcessCpu cpu = ProcessCpu.now(node);
                browser.reload();
                report(ctx, "reload", size, variant, run, browser, timeout, entries, busy, node, cpu);
                if (!profileDir.isEmpty()) {
                    CpuProfile.save(browser.stopProfiler(), Path.of(profileDir).resolve("reload-" + tag + ".cpuprofile"), 30);
                }
                site.close(); // the server is gone from here on
                if (!profileDir.isEmpty()) {
                    browser.startProfiler(); // the same renderer: the page is of the same origin
                }
                busy = browser.mainThreadSeconds();
                cpu = ProcessCpu.now(null);
                browser.open(base + "&wait=none" + fragment);
                report(ctx, "reload with the server stopped", size, variant, run, browser, timeout, entries, busy, null, cpu);
                if (!profileDir.isEmpty()) {
                    CpuProfile.save(browser.stopProfiler(), Path.of(profileDir).resolve("reload-offline-" + tag + ".cpuprofile"), 30);
                }
            } finally {
                browser.close();
            }
            browser = new Chromium(profile);
            try {
                double busy = browser.mainThreadSeconds();
                ProcessCpu cpu = ProcessCpu.now(null);
                browser.open(base + "&wait=none" + fragment);
                report(ctx, "restart with the server stopped", size, variant, run, browser, timeout, entries, busy, null, cpu);
            } finally {
                browser.close();
            }
        } finally {
            site.close();
            Dirs.deleteTree(profile);
        }
    }

    /** The shared worker's profile of first open, if one was recorded; a failure is logged, the run goes on. */
    private static void saveWorkerProfile(WorkerProfiler profiler, Path file) {
        if (profiler == null) {
            return;
        }
        try {
            Map<String, Object> profile = profiler.stop();
            if (profile != null) {
                CpuProfile.save(profile, file, 30);
            }
        } catch (Exception e) {
            Ctx.log("worker profiler: no profile of %s: %s", file.getFileName(), e.getMessage());
        }
    }

    /** Times a bare protocol client's catch-up of {@code user} (the server's side alone) and logs it. */
    private static void rawCatchUp(Site site, String user, String size, int run, String when, boolean pages) throws Exception {
        Map<String, Object> m = new LinkedHashMap<>();
        W3.rawCatchUp(site, user, m, pages);
        Ctx.log("browser %s run %d: %s, a bare protocol client caught up in %.0f ms", size, run, when, (Double) m.get("ceiling: raw protocol client caught-up ms"));
        Thread.sleep(1000);
    }

    /**
     * {@code busyBefore}: the renderer's main-thread task seconds before the navigation (a new renderer starts from 0);
     * {@code server}: the running server (null: stopped); {@code cpuBefore}: its and the browser's CPU then.
     */
    private static void report(Ctx ctx, String kase, String size, String variant, int run, Chromium browser, Duration timeout, int entries,
            double busyBefore, ServerProcess server, ProcessCpu cpuBefore) throws Exception {
        Map<String, Object> r = browser.awaitResult(timeout);
        ProcessCpu cpu = ProcessCpu.now(server); // up to the result, before the heap's GC below
        if (r.containsKey("failed")) {
            throw new IllegalStateException(kase + ": the page failed: " + r.get("failed"));
        }
        double busyAfter = browser.mainThreadSeconds();
        double[] heap = browser.heapMiB();
        Map<String, Object> m = metrics(r, heap);
        // up to the result (durable for the cases that wait for it), the page's polling included
        m.put("main thread busy ms", Math.round(1000 * (busyAfter >= busyBefore ? busyAfter - busyBefore : busyAfter)));
        if (server != null) {
            m.put("server CPU ms", cpu.serverMillisSince(cpuBefore));
        }
        m.put("browser CPU ms", cpu.browserMillisSince(cpuBefore));
        ctx.report.add("Browser " + kase + ", " + size, variant, run, m);
        Ctx.log("browser %s %s %s run %d: readable %s ms, live %s ms, durable %s ms, %s of %,d entries readable, heap after GC %.1f MiB, main thread busy %s ms",
                kase, size, variant, run, m.get("readable ms"), m.get("live ms"), m.get("durable ms"), m.get("entries readable"), entries, heap[1],
                m.get("main thread busy ms"));
    }

    /** The page's result as the table's metrics (names shared with the Yjs rows, see YjsBrowserPeers). */
    @SuppressWarnings("unchecked")
    private static Map<String, Object> metrics(Map<String, Object> r, double[] heap) {
        Map<String, Object> t = (Map<String, Object>) r.get("T");
        Map<String, Object> device = (Map<String, Object>) r.get("fromDevice");
        Map<String, Object> after = (Map<String, Object>) r.get("after");
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("modules loaded ms", t.get("modulesLoaded"));
        m.put("device read ms", t.get("opened"));
        m.put("entries on device", device.get("entries"));
        m.put("messages on device", device.get("messages"));
        putIf(m, "welcome ms", t.get("welcome"));
        putIf(m, "first server change ms", t.get("firstRemote"));
        putIf(m, "readable ms", t.get("readable"));
        putIf(m, "live ms", t.get("live"));
        putIf(m, "save() ms", t.get("saved"));
        putIf(m, "durable ms", t.get("durable"));
        m.put("entries readable", after.get("entries"));
        m.put("messages readable", after.get("messages"));
        // main-thread tasks over 50 ms, up to durable (or all), without the page's own counts
        double[][] counts = {{num(t.get("countStart")), num(t.get("countEnd"))},
                {num(t.get("recountStart")), num(t.get("recountEnd"))}};
        double until = t.containsKey("durable") ? num(t.get("durable")) : Double.MAX_VALUE;
        int longTasks = 0;
        List<String> tasks = new ArrayList<>();
        double longest = 0;
        double busy = 0;
        for (List<Number> task : (List<List<Number>>) r.get("longTasks")) {
            double start = task.get(0).doubleValue();
            double duration = task.get(1).doubleValue();
            if (start > until) {
                continue; // after durable
            }
            boolean holdsCount = false;
            for (double[] count : counts) {
                if (count[1] > 0 && start + duration >= count[0] && start <= count[1]) { // (0: that count did not run)
                    // A task that holds one of the page's counts: the client's part of it is what is
                    // left without the count (the device's count shares its task with the end of
                    // open() and startSync(); the result's, in a task of its own after durable, can
                    // start within the same 0.1 ms as durable's mark).
                    duration -= count[1] - count[0];
                    holdsCount = true;
                }
            }
            if (holdsCount && duration <= 50) {
                continue;
            }
            longTasks++;
            tasks.add(String.format("%.0f ms at %.0f", duration, start));
            longest = Math.max(longest, duration);
            busy += duration;
        }
        m.put("long tasks", longTasks);
        m.put("longest task ms", longest);
        m.put("long tasks total ms", Math.round(busy)); // main-thread busy time in tasks over 50 ms
        m.put("long task list", tasks.isEmpty() ? "-" : String.join(", ", tasks.subList(0, Math.min(8, tasks.size()))));
        m.put("heap MiB", heap[0]);
        m.put("heap after GC MiB", heap[1]);
        m.put("storage.estimate MiB", num(r.get("storageUsage")) / (1024 * 1024));
        m.put("localStorage MiB", num(r.get("localStorageChars")) * 2 / (1024 * 1024)); // UTF-16
        m.put("client errors", r.get("errorCount"));
        m.put("page's own count ms", num(t.get("countEnd")) - num(t.get("countStart")));
        m.put("status", r.get("status"));
        if (!((List<?>) r.get("errors")).isEmpty()) {
            m.put("first errors", r.get("errors"));
        }
        return m;
    }

    private static void putIf(Map<String, Object> m, String key, Object value) {
        if (value != null) {
            m.put(key, value);
        }
    }

    private static double num(Object o) {
        return o instanceof Number n ? n.doubleValue() : 0;
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    /** One unreported page load (no server), so the first measured launch doesn't pay for a cold disk cache. */
    private static void warmUp(Ctx ctx, StaticSite pages) throws Exception {
        Path profile = ctx.newDir("chromium-warm-up-");
        try (Chromium browser = new Chromium(profile)) {
            browser.open(pages.origin() + "/" + StaticSite.PAGE + "?user=warm-up&ws=off&nMap=1&nChat=0&wait=none");
            browser.awaitResult(Duration.ofSeconds(60));
            Ctx.log("browser: Chromium %s via %s, pages from %s", browser.version(), Chromium.DRIVER, pages.origin());
        } finally {
            Dirs.deleteTree(profile);
        }
    }
}
