package dev.cairn.engine.crash;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.Cairn;
import dev.cairn.engine.StateOptions;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code Cairn.builder().saveOnShutdown(true)}: a child JVM writes, then exits with
 * {@code System.exit(0)} without closing the engine ({@link ShutdownSaveWriter}). With the hook,
 * what autoSave would have saved later is there after reopening (a write due in an hour); drafts
 * are not. Without it, the write due in an hour is lost.
 */
class ShutdownSaveIT {

    @TempDir
    static Path tmp;

    private static String classpath;

    @BeforeAll
    static void copyClasspath() throws Exception {
        classpath = ChildClasspath.copy(tmp.resolve("classpath"));
    }

    @Test
    void theHookSavesWhatAutoSaveWouldAtExitButNotDrafts() throws Exception {
        Path dir = tmp.resolve("with-hook");
        runChild(dir, true);
        try (Cairn cairn = Cairn.builder().dataDir(dir).open()) {
            assertEquals("written", held(cairn));
            assertEquals("dark", cairn.map("ui").get("theme", String.class));
            assertEquals("none", cairn.state("draft", String.class, "none", StateOptions.<String>defaults().autoSave(false)).value());
            assertEquals(2, cairn.pendingChanges(), "both saved writes are in the outbox, for the server; the draft is not");
        }
    }

    @Test
    void withoutTheHookAWriteWithinItsSaveDelayIsLostAtExit() throws Exception {
        Path dir = tmp.resolve("without-hook");
        runChild(dir, false);
        try (Cairn cairn = Cairn.builder().dataDir(dir).open()) {
            assertEquals("none", held(cairn));
            assertEquals("none", cairn.state("draft", String.class, "none", StateOptions.<String>defaults().autoSave(false)).value());
        }
    }

    private static String held(Cairn cairn) {
        return cairn.state("held", String.class, "none").value();
    }

    private static void runChild(Path dir, boolean hook) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path out = tmp.resolve("child-" + hook + ".txt");
        ProcessBuilder pb = new ProcessBuilder(java, "-Xmx128m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                "-cp", classpath, ShutdownSaveWriter.class.getName(), dir.toString(), Boolean.toString(hook))
                .redirectOutput(out.toFile()).redirectErrorStream(true);
        Process process = pb.start();
        try {
            assertTrue(process.waitFor(60, TimeUnit.SECONDS), "the child exits by itself");
        } finally {
            process.destroyForcibly();
            process.getOutputStream().close(); // ChildGuard: the child halts once its stdin closes
        }
        String printed = Files.readString(out, StandardCharsets.UTF_8);
        assertEquals(0, process.exitValue(), printed);
        assertEquals("WROTE", printed.strip(), "the child wrote, exited cleanly and logged nothing");
    }
}
