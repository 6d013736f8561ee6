package dev.cairn.engine;

import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Run in a separate JVM by {@link CairnTest}: tries to take the OS lock on a data directory's
 * lock file, as another process opening the directory would, and prints what happened.
 */
public final class LockProbe {

    private LockProbe() {
    }

    public static void main(String[] args) throws Exception {
        try (FileChannel channel = FileChannel.open(Path.of(args[0]), StandardOpenOption.WRITE)) {
            FileLock lock = channel.tryLock();
            System.out.println(lock == null ? "HELD-BY-OTHER" : "ACQUIRED");
        }
    }
}
