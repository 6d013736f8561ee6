package dev.cairn.bench;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Benchmark runner: {@code java -jar bench/target/cairn-bench.jar SUITE [options]}.
 *
 * <ul>
 *   <li>{@code local}: the engine's local write throughput and open time (markdown report on stdout).</li>
 *   <li>{@code w1} .. {@code w6}: the server workloads of the benchmarks issue (BENCHMARKS.md), each
 *       with its ceiling measured in the same invocation. The server runs in its own JVM
 *       ({@code server/target/cairn-server.jar}); clients are in this JVM. Each run prints one
 *       {@code RESULT {json}} line on stdout; at the end a markdown table of medians [min–max].</li>
 *   <li>{@code browser}: the browser client in headless Chromium against the server (BrowserBench),
 *       and with {@code --peers} the Yjs peer's browser bench in the same sitting.</li>
 *   <li>{@code all}: w1 .. w6 (and w4 twice over, memory and durable) in one go, one table.</li>
 *   <li>{@code jmh}: the JMH micro-benchmarks of the hot paths (options are JMH's own).</li>
 * </ul>
 * Progress goes to stderr.
 */
public final class Main {

    /** One subcommand. */
    interface Suite {
        String description();

        void run(Options options) throws Exception;
    }

    /** A server workload. */
    interface Workload {
        void run(Ctx ctx) throws Exception;
    }

    private static final Map<String, Suite> SUITES = new LinkedHashMap<>();
    private static final Map<String, Workload> WORKLOADS = new LinkedHashMap<>();
    private static final Map<String, String> DESCRIPTIONS = new LinkedHashMap<>();

    static {
        SUITES.put("local", new LocalSuite());
        SUITES.put("store-ab", new StoreAB());
        workload("w1", "fan-out latency: A sets, B applies (HdrHistogram p50/p90/p99/max)", W1::run);
        workload("w2", "ingest: devices x changes, time until all durably acknowledged", W2::run);
        workload("w3", "catch-up: a fresh device reads a big state (readable, durable, bytes, server RSS)", W3::run);
        workload("w4", "local writes in-process: map sets and chat appends, memory and durable tiers", W4::run);
        workload("w5", "connections: idle devices (server RSS per connection), fan-out of one change to many devices", W5::run);
        workload("w6", "scaling: W2 on 1, 2, 4 nodes of one PostgreSQL; W3 at growing sizes", W6::run);
        workload("w8", "space fan-out: one change to every device of a shared space's members (p50/p99 per delivery and to the last device)", W8::run);
        workload("browser", "browser client in headless Chromium: first open, reload, reload and restart with the server stopped (--peers: Yjs too)",
                BrowserBench::run);
        workload("w7", "big store: embedded server with -Xmx256m holds > 2 GB, serves a 1M-entry catch-up, keeps taking writes (heap)", W7::run);
    }

    private static void workload(String name, String description, Workload w) {
        WORKLOADS.put(name, w);
        DESCRIPTIONS.put(name, description);
    }

    private Main() {
    }

    public static void main(String[] args) {
        if (args.length == 0 || args[0].equals("-h") || args[0].equals("--help") || args[0].equals("help")) {
            usage();
            System.exit(args.length == 0 ? 2 : 0);
        }
        String name = args[0];
        if (name.equals("jmh")) {
            try {
                org.openjdk.jmh.Main.main(java.util.Arrays.copyOfRange(args, 1, args.length));
            } catch (Exception e) {
                System.err.println("jmh failed: " + e);
                System.exit(1);
            }
            return;
        }
        if (WORKLOADS.containsKey(name) || name.equals("all")) {
            System.exit(runWorkloads(name, args));
        }
        Suite suite = SUITES.get(name);
        if (suite == null) {
            System.err.println("unknown suite '" + name + "'");
            usage();
            System.exit(2);
        }
        Options options;
        try {
            options = Options.parse(args, 1);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            usage();
            System.exit(2);
            return;
        }
        try {
            suite.run(options);
        } catch (Exception e) {
            System.err.println("benchmark failed: " + e);
            e.printStackTrace();
            System.exit(1);
        }
    }

    private static int runWorkloads(String name, String[] argv) {
        Args args;
        try {
            args = Args.parse(argv, 1);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            usage();
            return 2;
        }
        Report report = new Report(System.out);
        // w7 loads gigabytes and browser needs Chromium: each is run on its own
        List<String> chosen = name.equals("all") ? WORKLOADS.keySet().stream().filter(w -> !w.equals("w7") && !w.equals("browser")).toList()
                : List.of(name);
        Instant started = Instant.now();
        int failures = 0;
        Device.maxProtocol = args.integer("protocol");
        try (Ctx ctx = new Ctx(args, report)) {
            for (String w : chosen) {
                Ctx.log("=== %s: %s", w, DESCRIPTIONS.get(w));
                try {
                    WORKLOADS.get(w).run(ctx);
                } catch (Exception | AssertionError e) {
                    failures++;
                    Ctx.log("%s FAILED: %s", w, e);
                    e.printStackTrace();
                }
            }
        } catch (RuntimeException e) {
            System.err.println("benchmark failed: " + e.getMessage());
            e.printStackTrace();
            return 1;
        }
        System.out.println();
        System.out.println((name.equals("browser") ? "## Browser: Cairn's browser client (and Yjs with --peers) in headless Chromium"
                : "## Cairn server workloads") + (args.smoke() ? " (SMOKE: tiny sizes, not a measurement)" : ""));
        System.out.println();
        System.out.printf(Locale.ROOT, "- `java -jar bench/target/cairn-bench.jar %s %s`; started %s, took %.0f s%n", name, args.describe(),
                started.toString().substring(0, 19) + "Z", (System.currentTimeMillis() - started.toEpochMilli()) / 1e3);
        System.out.printf(Locale.ROOT, "- machine: %d processors, %s %s, %s %s; load average before the end: %.2f%n",
                Runtime.getRuntime().availableProcessors(), System.getProperty("java.vm.name"), System.getProperty("java.runtime.version"),
                System.getProperty("os.name"), System.getProperty("os.version"),
                java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
        System.out.println("- cells: median [min–max] over the runs" + (failures > 0 ? "; " + failures + " workload(s) FAILED (see stderr)" : ""));
        System.out.println();
        System.out.print(report.markdown());
        return failures == 0 ? 0 : 1;
    }

    private static void usage() {
        StringBuilder b = new StringBuilder();
        b.append("usage: java -jar bench/target/cairn-bench.jar SUITE [options]\n\nsuites:\n");
        SUITES.forEach((n, s) -> b.append(String.format("  %-6s %s%n", n, s.description())));
        DESCRIPTIONS.forEach((n, d) -> b.append(String.format("  %-6s %s%n", n, d)));
        b.append(String.format("  %-6s %s%n", "all", "w1 .. w6 one after another, one table at the end"));
        b.append(String.format("  %-6s %s%n", "jmh", "JMH micro-benchmarks of the hot paths (JMH options, e.g. jmh -f 1 -wi 3 -i 5 Frame)"));
        b.append("\noptions of local:\n");
        b.append("  --runs N     measured runs per workload after one warm-up run (default " + Options.DEFAULT_RUNS + ")\n");
        b.append("  --n COUNT    base operation count (default " + Options.DEFAULT_N + "); durable and raw batches n,\n"
                + "               memory tier 10n, chat n/4, one commit per change n/40\n");
        b.append("  --open-keys K size of the store whose open time is measured (default " + Options.DEFAULT_OPEN_KEYS + ")\n");
        b.append("  --dir PATH   where the temporary stores are made (default: java.io.tmpdir)\n");
        b.append("\noptions of w1 .. w6 and all:\n");
        Args.usage(b);
        System.err.print(b);
    }
}
