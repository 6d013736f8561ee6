package dev.cairn.engine.fuzz;

import java.time.Duration;

/**
 * How a fuzz run is sized, from the issue-5 conventions: {@code CAIRN_SEED} (or {@code -Dcairn.seed})
 * replays a run, {@code CAIRN_LONG=1} (or {@code -Dcairn.long=true}) runs each target for
 * {@code CAIRN_FUZZ_MINUTES} (default 30) instead of the short CI budget of {@code CAIRN_FUZZ_TRIES}.
 */
public record FuzzSettings(long seed, boolean longRun, Duration budget, int tries) {

    /** Longest a single input may take before it counts as a hang. */
    public static final Duration MAX_PER_INPUT = Duration.ofSeconds(1);

    /** Reads the environment; {@code ciTries} is the target's short-run size. */
    public static FuzzSettings fromEnvironment(int ciTries) {
        String seedText = setting("CAIRN_SEED", "cairn.seed");
        long seed = seedText == null ? java.util.concurrent.ThreadLocalRandom.current().nextLong() : Long.parseLong(seedText.trim());
        String longText = setting("CAIRN_LONG", "cairn.long");
        boolean longRun = longText != null && (longText.equals("1") || longText.equalsIgnoreCase("true"));
        String minutes = setting("CAIRN_FUZZ_MINUTES", "cairn.fuzz.minutes");
        Duration budget = Duration.ofMillis((long) (60_000 * (minutes == null ? 30 : Double.parseDouble(minutes.trim()))));
        String triesText = setting("CAIRN_FUZZ_TRIES", "cairn.fuzz.tries");
        int tries = triesText == null ? ciTries : Integer.parseInt(triesText.trim());
        return new FuzzSettings(seed, longRun, budget, tries);
    }

    static String setting(String env, String property) {
        String v = System.getProperty(property);
        if (v == null || v.isBlank()) {
            v = System.getenv(env);
        }
        return v == null || v.isBlank() ? null : v;
    }
}
