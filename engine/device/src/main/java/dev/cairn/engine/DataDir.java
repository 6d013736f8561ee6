package dev.cairn.engine;

import dev.cairn.engine.persist.Persister;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.Map;

/**
 * Who owns a data directory: one open engine at a time, of this process or another (its lock file
 * {@code cairn.lock}), and one replica for the life of its data (the stored replica id).
 */
final class DataDir {

    /**
     * Data directories this process has locked. Checked before the lock file is opened again:
     * OS file locks belong to the process, so closing a second channel on the lock file (after a
     * refused open) would silently release the first engine's lock for other processes.
     */
    private static final Map<Path, FileLock> LOCKED_DIRS = new java.util.HashMap<>();

    private DataDir() {
    }

    static void releaseLock(FileLock lock) {
        if (lock == null) {
            return;
        }
        synchronized (LOCKED_DIRS) {
            try {
                lock.release();
                lock.channel().close();
            } catch (IOException ignored) {
                // the lock dies with the channel or the process anyway
            } finally {
                LOCKED_DIRS.values().remove(lock);
            }
        }
    }

    static FileLock lockDirectory(Path dir) {
        try {
            Files.createDirectories(dir);
            Path key = dir.toRealPath();
            synchronized (LOCKED_DIRS) {
                FileLock lock = null;
                if (!LOCKED_DIRS.containsKey(key)) {
                    FileChannel channel = FileChannel.open(dir.resolve("cairn.lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                    try {
                        lock = channel.tryLock();
                    } catch (OverlappingFileLockException e) {
                        lock = null;
                    }
                    if (lock == null) {
                        channel.close(); // holds no lock of ours (another process has it), so this releases nothing
                    }
                }
                if (lock == null) {
                    throw new StorageException("data directory " + dir + " is already open in another Cairn engine"
                            + " (lock file " + dir.resolve("cairn.lock") + " is held); close that engine first");
                }
                LOCKED_DIRS.put(key, lock);
                return lock;
            }
        } catch (IOException e) {
            throw new StorageException("cannot lock data directory " + dir + ": " + e.getMessage(), e);
        }
    }

    /** The replica id stored in the directory, or {@code requested} (else a random one) stored as its first. */
    static String replicaId(Persister persister, String requested) {
        String stored = persister.meta("replica");
        if (stored != null) {
            if (requested != null && !requested.equals(stored)) {
                throw new StorageException("this data directory belongs to replica '" + stored + "', not '" + requested
                        + "': a replica id must stay the same for the life of its data");
            }
            return stored;
        }
        String id = requested != null ? requested : randomReplicaId();
        persister.putMeta("replica", id);
        return id;
    }

    private static String randomReplicaId() {
        String alphabet = "abcdefghijklmnopqrstuvwxyz234567";
        SecureRandom random = new SecureRandom();
        StringBuilder id = new StringBuilder(16);
        for (int i = 0; i < 16; i++) {
            id.append(alphabet.charAt(random.nextInt(alphabet.length())));
        }
        return id.toString();
    }
}
