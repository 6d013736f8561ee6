package dev.cairn.engine;

import dev.cairn.engine.persist.Persister;
import dev.cairn.engine.persist.Tier;
import dev.cairn.engine.store.InMemoryLocalStore;
import dev.cairn.engine.store.LocalStore;
import java.nio.channels.FileLock;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * An engine's storage below memory: the durable store, the session tier, the {@link Persister}
 * that saves to both, and the lock of the data directory, opened together and closed together
 * (the lock last, so another engine cannot open the directory while files are still written).
 */
final class EngineTiers {

    final Persister persister;
    private final LocalStore durable;
    private final LocalStore session;
    private final FileLock dirLock;

    /** @param dirLock the data directory's lock (null in memory) */
    EngineTiers(LocalStore durable, FileLock dirLock, LongSupplier clockHighWater, Consumer<Throwable> onError) {
        this.durable = durable;
        this.session = new InMemoryLocalStore();
        this.dirLock = dirLock;
        this.persister = new Persister(durable, session, clockHighWater, onError);
    }

    /** Adds the bytes the session and durable tiers hold to {@code bytes}. */
    void sizes(Map<Tier, Long> bytes) {
        bytes.put(Tier.SESSION, session.sizeBytes());
        bytes.put(Tier.DURABLE, durable.sizeBytes());
    }

    /** {@code exiting}: the shutdown hook's close, which saves what autoSave would save, not the drafts. */
    void close(boolean exiting) {
        try {
            if (exiting) {
                persister.closeForExit();
            } else {
                persister.close();
            }
        } finally {
            try {
                session.close();
                durable.close();
            } finally {
                DataDir.releaseLock(dirLock);
            }
        }
    }
}
