package dev.cairn.engine.section;

import java.time.Duration;
import java.util.Objects;

/**
 * Where a key's writes go and when: the tiers ({@link PersistTo}), whether it may ever leave the
 * device ({@code sync}; false = local-only, never in the outbox), and the save timing
 * ({@code autoSave}, {@code saveDelay}, {@code debounce}).
 *
 * <p>With {@code debounce} a burst of writes is saved {@code saveDelay} after the last one (but
 * never later than {@link #MAX_WAIT_FACTOR} delays after the first, so steady typing still
 * saves); without it, {@code saveDelay} after the first. With {@code autoSave} off a write waits
 * for an explicit {@code save()} (or close).
 */
public record StoragePolicy(PersistTo persistTo, boolean sync, boolean autoSave, Duration saveDelay, boolean debounce) {

    /** A debounced burst is saved at the latest this many save delays after its first write. */
    public static final int MAX_WAIT_FACTOR = 5;

    /** A write the app gave a save delay is pushed at the latest this many delays after the first of a burst. */
    public static final int MAX_PUSH_WAIT_FACTOR = 10;

    /** Durable ({@code LOCAL_STORAGE}), synced, saved automatically 1 s after the last write of a burst. */
    public static final StoragePolicy DEFAULT = new StoragePolicy(PersistTo.LOCAL_STORAGE, true, true, Duration.ofMillis(1000), true);

    /** NullPointerException for a null persistTo or saveDelay; IllegalArgumentException for a negative saveDelay. */
    public StoragePolicy {
        Objects.requireNonNull(persistTo, "persistTo");
        Objects.requireNonNull(saveDelay, "saveDelay");
        if (saveDelay.isNegative()) {
            throw new IllegalArgumentException("saveDelay must not be negative: " + saveDelay);
        }
    }

    /** This policy with other tiers. */
    public StoragePolicy withPersistTo(PersistTo value) {
        return new StoragePolicy(value, sync, autoSave, saveDelay, debounce);
    }

    /** This policy, synced to the server or ({@code false}) kept on the device only. */
    public StoragePolicy withSync(boolean value) {
        return new StoragePolicy(persistTo, value, autoSave, saveDelay, debounce);
    }

    /** This policy, saved on its own schedule or ({@code false}) only by an explicit save or close. */
    public StoragePolicy withAutoSave(boolean value) {
        return new StoragePolicy(persistTo, sync, value, saveDelay, debounce);
    }

    /** This policy with another save delay (not negative: IllegalArgumentException). */
    public StoragePolicy withSaveDelay(Duration value) {
        return new StoragePolicy(persistTo, sync, autoSave, value, debounce);
    }

    /** This policy, timing the save from the last write of a burst ({@code true}) or from the first. */
    public StoragePolicy withDebounce(boolean value) {
        return new StoragePolicy(persistTo, sync, autoSave, saveDelay, value);
    }

    /** True if a write under this policy needs a store commit at all. */
    public boolean persists() {
        return persistTo != PersistTo.CONTEXT || sync;
    }
}
