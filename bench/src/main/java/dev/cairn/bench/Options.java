package dev.cairn.bench;

import java.nio.file.Path;

/** Command-line options shared by the suites. */
record Options(int runs, int n, int openKeys, Path dir) {

    static final int DEFAULT_RUNS = 5;
    static final int DEFAULT_N = 20_000;
    static final int DEFAULT_OPEN_KEYS = 100_000;

    static Options parse(String[] args, int from) {
        int runs = DEFAULT_RUNS;
        int n = DEFAULT_N;
        int openKeys = DEFAULT_OPEN_KEYS;
        Path dir = Path.of(System.getProperty("java.io.tmpdir"));
        for (int i = from; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--runs" -> runs = positive(a, value(args, ++i, a));
                case "--n" -> n = positive(a, value(args, ++i, a));
                case "--open-keys" -> openKeys = positive(a, value(args, ++i, a));
                case "--dir" -> dir = Path.of(value(args, ++i, a));
                default -> throw new IllegalArgumentException("unknown option '" + a + "'");
            }
        }
        if (n < 1_000) {
            throw new IllegalArgumentException("--n must be at least 1000 (the smallest workload is n/40)");
        }
        return new Options(runs, n, openKeys, dir);
    }

    private static String value(String[] args, int i, String option) {
        if (i >= args.length) {
            throw new IllegalArgumentException(option + " needs a value");
        }
        return args[i];
    }

    private static int positive(String option, String text) {
        try {
            int v = Integer.parseInt(text.replace("_", "").replace(",", ""));
            if (v <= 0) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + " must be a positive integer: " + text);
        }
    }
}
