package dev.cairn.engine.crash;

import java.util.Optional;

/**
 * The issue-5 conventions for the device-kill tests: seed from {@code CAIRN_SEED} /
 * {@code -Dcairn.seed} (the older {@code CAIRN_CRASH_SEED} / {@code -Dcairn.crash.seed} still
 * work), long mode from {@code CAIRN_LONG=1} / {@code -Dcairn.long=true}.
 */
public final class CrashSettings {

    /** Iterations (kills) of each device-kill test in long mode. */
    public static final int LONG_KILLS = 200;

    private CrashSettings() {
    }

    public static long seed() {
        return setting("cairn.seed", "CAIRN_SEED")
                .or(() -> setting("cairn.crash.seed", "CAIRN_CRASH_SEED"))
                .map(Long::parseLong).orElseGet(System::nanoTime);
    }

    public static boolean longRun() {
        return setting("cairn.long", "CAIRN_LONG").map(v -> v.equals("1") || v.equalsIgnoreCase("true")).orElse(false);
    }

    public static Optional<String> setting(String property, String env) {
        String v = System.getProperty(property);
        if (v == null || v.isBlank()) {
            v = System.getenv(env);
        }
        return v == null || v.isBlank() ? Optional.empty() : Optional.of(v.trim());
    }
}
