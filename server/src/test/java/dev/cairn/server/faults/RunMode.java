package dev.cairn.server.faults;

import java.util.concurrent.ThreadLocalRandom;

/**
 * The issue-5 conventions for randomized tests: a seed from {@code CAIRN_SEED} (or
 * {@code -Dcairn.seed}), printed so a run can be replayed, and the long mode from
 * {@code CAIRN_LONG=1} (or {@code -Dcairn.long=true}).
 */
public final class RunMode {

    private RunMode() {
    }

    /** The seed to use, printed as {@code <test> seed=<n> (replay: CAIRN_SEED=<n>)}. */
    public static long seed(String test) {
        String given = System.getProperty("cairn.seed", System.getenv("CAIRN_SEED"));
        long seed = given == null || given.isBlank() ? ThreadLocalRandom.current().nextLong() : Long.parseLong(given.trim());
        System.out.println(test + " seed=" + seed + " (replay: CAIRN_SEED=" + seed + ")");
        return seed;
    }

    /** True for the long run. */
    public static boolean longRun() {
        String env = System.getenv("CAIRN_LONG");
        return Boolean.parseBoolean(System.getProperty("cairn.long", "false")) || "1".equals(env) || "true".equalsIgnoreCase(env);
    }
}
