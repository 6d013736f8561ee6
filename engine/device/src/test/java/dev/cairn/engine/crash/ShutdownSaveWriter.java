package dev.cairn.engine.crash;

import dev.cairn.engine.Cairn;
import dev.cairn.engine.StateOptions;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The child process of {@link ShutdownSaveIT}: writes with a one-hour save delay and a draft,
 * prints {@code WROTE}, then calls {@code System.exit(0)} without closing the engine.
 *
 * <p>Arguments: {@code dataDir saveOnShutdown(true|false)}.
 */
public final class ShutdownSaveWriter {

    private ShutdownSaveWriter() {
    }

    public static void main(String[] args) {
        ChildGuard.watchParent();
        Cairn cairn = Cairn.builder().dataDir(Path.of(args[0])).replicaId("exit").saveOnShutdown(Boolean.parseBoolean(args[1])).open();
        // due in an hour: only a save at exit can keep it
        cairn.state("held", String.class, "none", StateOptions.<String>defaults().saveDelay(Duration.ofHours(1))).set("written");
        cairn.map("ui").put("theme", "dark"); // the ui section's own delay
        // a draft waits for an explicit save, also at exit
        cairn.state("draft", String.class, "none", StateOptions.<String>defaults().autoSave(false)).set("unsaved");
        System.out.println("WROTE");
        System.out.flush();
        System.exit(0);
    }
}
