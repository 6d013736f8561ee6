package dev.cairn.engine.crash;

import java.io.InputStream;

/** What every crash-test child starts with, so no child outlives its test. */
public final class ChildGuard {

    private ChildGuard() {
    }

    /** Halts the child when its parent goes away (stdin closes: exit 2) or after two minutes (exit 4). */
    public static void watchParent() {
        Thread t = new Thread(() -> {
            try {
                InputStream in = System.in;
                while (in.read() != -1) {
                    // the parent never writes; -1 means it closed the pipe or died
                }
            } catch (Exception ignored) {
                // fall through: treat as parent gone
            }
            Runtime.getRuntime().halt(2);
        }, "parent-watch");
        t.setDaemon(true);
        t.start();
        Thread limit = new Thread(() -> {
            try {
                Thread.sleep(120_000);
            } catch (InterruptedException ignored) {
                return;
            }
            Runtime.getRuntime().halt(4);
        }, "time-limit");
        limit.setDaemon(true);
        limit.start();
    }
}
