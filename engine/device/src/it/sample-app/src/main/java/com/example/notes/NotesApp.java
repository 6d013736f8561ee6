package com.example.notes;

import dev.cairn.engine.Cairn;
import dev.cairn.engine.PersistentState;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The smallest app on the Cairn engine: it saves its settings, closes the engine, opens it again
 * on the same data directory and reads them back, as an app does across a restart.
 */
public final class NotesApp {

    /** The app's settings: any type Jackson can write and read back. */
    public record Settings(String name, int fontSize) {
        public Settings() {
            this("", 14);
        }
    }

    public static void main(String[] args) throws Exception {
        Path dataDir = args.length > 0 ? Path.of(args[0]) : Files.createTempDirectory("notes-app");

        try (Cairn cairn = Cairn.builder().dataDir(dataDir).open()) {
            PersistentState<Settings> settings = cairn.state("settings", Settings.class, new Settings());
            settings.set(new Settings("Ada", 16));
            settings.save().join(); // durable when this completes
        }

        try (Cairn cairn = Cairn.builder().dataDir(dataDir).open()) {
            Settings settings = cairn.state("settings", Settings.class, new Settings()).value();
            if (!settings.equals(new Settings("Ada", 16))) {
                throw new IllegalStateException("expected the saved settings after a restart, read " + settings);
            }
            System.out.println("notes-app: " + settings + " survived a restart in " + dataDir);
        }
    }
}
