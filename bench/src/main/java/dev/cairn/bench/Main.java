package dev.cairn.bench;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Benchmark runner: {@code java -jar bench/target/cairn-bench.jar SUITE [options]}. Each suite
 * prints a markdown report to stdout and its progress to stderr, so
 * {@code ... local > result.md} captures just the report.
 *
 * <p>Suites are the workloads of the benchmarks issue. Only {@code local} (the core of W4, local
 * writes, plus the store open time) exists so far; the server workloads (W1 fan-out latency,
 * W2 ingest, W3 catch-up, W5 connections, W6 scaling) are added here as further suites when the
 * server exists.
 */
public final class Main {

    /** One subcommand. */
    interface Suite {
        String description();

        void run(Options options) throws Exception;
    }

    private static final Map<String, Suite> SUITES = new LinkedHashMap<>();

    static {
        SUITES.put("local", new LocalSuite());
    }

    private Main() {
    }

    public static void main(String[] args) {
        if (args.length == 0 || args[0].equals("-h") || args[0].equals("--help") || args[0].equals("help")) {
            usage();
            System.exit(args.length == 0 ? 2 : 0);
        }
        Suite suite = SUITES.get(args[0]);
        if (suite == null) {
            System.err.println("unknown suite '" + args[0] + "'");
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

    private static void usage() {
        System.err.println("usage: java -jar bench/target/cairn-bench.jar SUITE [--runs N] [--n COUNT] [--open-keys COUNT] [--dir PATH]");
        System.err.println();
        System.err.println("suites:");
        SUITES.forEach((name, s) -> System.err.printf("  %-8s %s%n", name, s.description()));
        System.err.println();
        System.err.println("options:");
        System.err.println("  --runs N     measured runs per workload after one warm-up run (default " + Options.DEFAULT_RUNS + ")");
        System.err.println("  --n COUNT    base operation count (default " + Options.DEFAULT_N + "); local: durable and raw batches n,\n"
                + "               memory tier 10n, chat n/4, one commit per change n/40");
        System.err.println("  --open-keys K size of the store whose open time is measured (default " + Options.DEFAULT_OPEN_KEYS + ")");
        System.err.println("  --dir PATH   where the temporary stores are made (default: java.io.tmpdir)");
    }
}
