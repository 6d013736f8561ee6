package dev.cairn.server.faults;

import dev.cairn.engine.Cairn;
import dev.cairn.engine.MapSection;
import dev.cairn.engine.crash.ChildGuard;
import dev.cairn.engine.sync.SyncClient;
import java.net.URI;
import java.nio.file.Path;
import java.util.Random;

/**
 * The child JVM of {@link DeviceKillIT}: a durable device with a live sync client that writes
 * and saves until it is killed with SIGKILL.
 *
 * <p>Write {@code i} sets {@code state/w<i>} = i. Each round writes 1-8 of them, calls
 * {@link Cairn#save()} and, once it returned, prints {@code SAVED <last i> OK}: everything up to
 * that index is saved on this device. Meanwhile the sync client pushes each change as soon as it
 * enters the outbox, while the device's own commit of it is still being forced to disk (issue 13,
 * step 3): a kill can land after the server has a change and before the device saved it.
 * Numbering goes on after the highest index in the store ({@code START <first i> OK}).
 *
 * <p>Arguments: {@code dataDir syncUri token seed}.
 */
public final class DeviceKillWriter {

    static final String REPLICA = "killed";
    static final String SECTION = "state";

    private DeviceKillWriter() {
    }

    static String key(long i) {
        return "w" + i;
    }

    /** The index of a written key, or -1 for any other key. */
    static long index(String key) {
        if (!key.startsWith("w")) {
            return -1;
        }
        try {
            return Long.parseLong(key.substring(1));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    public static void main(String[] args) throws Exception {
        ChildGuard.watchParent();
        Path dir = Path.of(args[0]);
        URI uri = URI.create(args[1]);
        String token = args[2];
        Random random = new Random(Long.parseLong(args[3]));
        Cairn cairn = Cairn.builder().dataDir(dir).replicaId(REPLICA).open();
        MapSection state = cairn.map(SECTION);
        long next = 1 + state.keys().stream().mapToLong(DeviceKillWriter::index).max().orElse(0);
        // Small batches: more pushes, and so more acks, race the device's own commits.
        SyncClient sync = SyncClient.builder(cairn, uri, () -> token).batchSize(1 + random.nextInt(25)).build();
        sync.start();
        System.out.println("START " + next + " OK");
        System.out.flush();
        while (true) {
            long last = next + random.nextInt(8);
            for (; next <= last; next++) {
                state.put(key(next), next);
            }
            cairn.save().join();
            System.out.println("SAVED " + last + " OK");
            System.out.flush();
            if (random.nextInt(4) == 0) {
                Thread.sleep(random.nextInt(3));
            }
        }
    }
}
