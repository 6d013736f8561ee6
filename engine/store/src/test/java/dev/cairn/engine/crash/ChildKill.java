package dev.cairn.engine.crash;

import java.io.IOException;
import java.util.concurrent.TimeUnit;

/** Ends a crash-test child with SIGKILL and waits for it (shared by the crash tests that kill at a time of their choosing). */
public final class ChildKill {

    private ChildKill() {
    }

    /** SIGKILLs {@code process} (if still alive), waits up to 10 s for it, closes its stdin; returns its exit code (137 for SIGKILL). */
    public static int sigkill(Process process) throws InterruptedException, IOException {
        process.destroyForcibly(); // SIGKILL on Linux and macOS
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            throw new AssertionError("child pid " + process.pid() + " survived SIGKILL for 10 s");
        }
        process.getOutputStream().close();
        return process.exitValue();
    }
}
