package dev.cairn.server.security;

/** The issue-5 switch between the short CI version of a test and its long version. */
final class LongRun {

    private LongRun() {
    }

    /** True with {@code CAIRN_LONG=1} (or {@code -Dcairn.long=true}). */
    static boolean on() {
        return "1".equals(System.getenv("CAIRN_LONG")) || "true".equalsIgnoreCase(System.getenv("CAIRN_LONG"))
                || Boolean.getBoolean("cairn.long");
    }

    /** {@code ci} normally, {@code long_} in the long version. */
    static int pick(int ci, int longRun) {
        return on() ? longRun : ci;
    }
}
