package dev.cairn.engine.crash;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The class path the crash tests give their child JVMs (shared by the store's and the device's crash tests). */
public final class ChildClasspath {

    private ChildClasspath() {
    }

    /**
     * The test class path with every directory entry (target/classes, target/test-classes) copied
     * under {@code into}, so a build running concurrently in the same module cannot pull classes
     * from under a child. Jars are used where they are.
     */
    public static String copy(Path into) throws IOException {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> entries = new ArrayList<>();
        int n = 0;
        for (String entry : cp.split(File.pathSeparator)) {
            if (entry.isEmpty()) {
                continue;
            }
            Path source = Path.of(entry);
            if (!Files.isDirectory(source)) {
                entries.add(entry);
                continue;
            }
            Path target = into.resolve("dir" + n++);
            try (var walk = Files.walk(source)) {
                for (Path p : (Iterable<Path>) walk::iterator) {
                    Path to = target.resolve(source.relativize(p).toString());
                    if (Files.isDirectory(p)) {
                        Files.createDirectories(to);
                    } else {
                        Files.copy(p, to);
                    }
                }
            }
            entries.add(target.toString());
        }
        return String.join(File.pathSeparator, entries);
    }
}
