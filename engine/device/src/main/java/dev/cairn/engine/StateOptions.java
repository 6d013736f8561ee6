package dev.cairn.engine;

import dev.cairn.engine.section.PersistTo;
import dev.cairn.engine.section.StoragePolicy;
import java.time.Duration;
import java.util.function.Predicate;

/**
 * Options of a {@link PersistentState}: {@code autoSave}, {@code saveDelay}, {@code debounce},
 * {@code validate}, {@code persistTo}, {@code sync}, {@code section}, {@code merge},
 * {@code version} and {@code migrate}, the same options the browser client's
 * {@code usePersistentState} takes (its {@code syncWithBackend} is {@code sync} here). Options left unset take the section's {@link StoragePolicy}. Immutable: every setter
 * returns a new instance, so one instance may be shared.
 *
 * <pre>{@code
 * StateOptions.<String>defaults().saveDelay(Duration.ofMillis(500)).validate(s -> s.length() < 200)
 * }</pre>
 */
public final class StateOptions<T> {

    private final Boolean autoSave;
    private final Duration saveDelay;
    private final Boolean debounce;
    private final PersistTo persistTo;
    private final Boolean sync;
    private final Predicate<? super T> validator;
    private final String section;
    private final Merge merge;
    private final int version;
    private final Migration<T> migration;

    private StateOptions(Boolean autoSave, Duration saveDelay, Boolean debounce, PersistTo persistTo, Boolean sync,
                         Predicate<? super T> validator, String section, Merge merge, int version, Migration<T> migration) {
        this.autoSave = autoSave;
        this.saveDelay = saveDelay;
        this.debounce = debounce;
        this.persistTo = persistTo;
        this.sync = sync;
        this.validator = validator;
        this.section = section;
        this.merge = merge;
        this.version = version;
        this.migration = migration;
    }

    /**
     * Options that set nothing: the key takes its section's policy, which is
     * {@link StoragePolicy#DEFAULT} (durable, synced, saved 1 s after the last write of a burst)
     * unless the app registered the section with another one.
     */
    public static <T> StateOptions<T> defaults() {
        return new StateOptions<>(null, null, null, null, null, null, null, Merge.FIELDS, 0, null);
    }

    /**
     * {@code false} makes the key's writes drafts: they are not saved on a timer but wait for
     * {@link PersistentState#save()}, {@link Cairn#save()} or {@link Cairn#close()}. While a sync
     * client is connected, a write of a syncing key is still committed and pushed at once.
     */
    public StateOptions<T> autoSave(boolean value) {
        return new StateOptions<>(value, saveDelay, debounce, persistTo, sync, validator, section, merge, version, migration);
    }

    /**
     * How long after a write the key is saved (zero: at once); {@link IllegalArgumentException} if
     * null or negative. A non-zero delay also holds the key's push: it reaches the server when the
     * user pauses, at the latest {@value StoragePolicy#MAX_PUSH_WAIT_FACTOR} delays into continuous
     * writing, so the server keeps one history version per pause rather than per keystroke.
     */
    public StateOptions<T> saveDelay(Duration value) {
        if (value == null || value.isNegative()) {
            throw new IllegalArgumentException("saveDelay must be zero or positive: " + value);
        }
        return new StateOptions<>(autoSave, value, debounce, persistTo, sync, validator, section, merge, version, migration);
    }

    /**
     * {@code true}: a burst of writes is saved {@code saveDelay} after its last write (but no later
     * than {@value StoragePolicy#MAX_WAIT_FACTOR} delays after its first); {@code false}:
     * {@code saveDelay} after its first write.
     */
    public StateOptions<T> debounce(boolean value) {
        return new StateOptions<>(autoSave, saveDelay, value, persistTo, sync, validator, section, merge, version, migration);
    }

    /**
     * Which local tiers keep the key besides memory ({@link PersistTo}); {@link IllegalArgumentException}
     * if null. Whether it syncs is chosen separately ({@link #sync(boolean)}): a syncing
     * {@link PersistTo#CONTEXT} key is kept only in memory here but still reaches the server
     * through the outbox.
     */
    public StateOptions<T> persistTo(PersistTo value) {
        if (value == null) {
            throw new IllegalArgumentException("persistTo must not be null");
        }
        return new StateOptions<>(autoSave, saveDelay, debounce, value, sync, validator, section, merge, version, migration);
    }

    /** False keeps the key on this device: it never enters the outbox. */
    public StateOptions<T> sync(boolean value) {
        return new StateOptions<>(autoSave, saveDelay, debounce, persistTo, value, validator, section, merge, version, migration);
    }

    /** A value the validator refuses is not written; the caller gets a {@link ValidationException}. */
    public StateOptions<T> validate(Predicate<? super T> value) {
        if (value == null) {
            throw new IllegalArgumentException("validate must not be null");
        }
        return new StateOptions<>(autoSave, saveDelay, debounce, persistTo, sync, value, section, merge, version, migration);
    }

    /** The map section the key lives in; default {@code state}. */
    public StateOptions<T> section(String value) {
        return new StateOptions<>(autoSave, saveDelay, debounce, persistTo, sync, validator, value, merge, version, migration);
    }

    /**
     * How an object value is stored: {@link Merge#FIELDS} (the default) one map entry per field, so
     * concurrent edits of different fields on two devices both survive; {@link Merge#WHOLE} one
     * entry. {@link IllegalArgumentException} if null.
     */
    public StateOptions<T> merge(Merge value) {
        if (value == null) {
            throw new IllegalArgumentException("merge must not be null");
        }
        return new StateOptions<>(autoSave, saveDelay, debounce, persistTo, sync, validator, section, value, version, migration);
    }

    /**
     * The version of the value's shape, 0 unless set ({@link IllegalArgumentException} if negative).
     * Raise it when the type changes in a way old values do not read as (a renamed or retyped
     * field) and give a {@link #migrate} function: a value stored with a lower version is migrated
     * when read and written back once. An added field needs no new version: it takes its value from
     * the default value. A value stored with a higher version (by a newer app) is still read, and
     * this app's writes delete nothing of it ({@link StoredByNewerVersionException}).
     *
     * <pre>{@code
     * record Settings(String displayName, int fontSize) {}   // version 1 called the name "name"
     * StateOptions.<Settings>defaults().version(2).migrate((old, from) ->
     *         new Settings(old.path("name").asText(), old.path("fontSize").asInt(14)))
     * }</pre>
     */
    public StateOptions<T> version(int value) {
        if (value < 0) {
            throw new IllegalArgumentException("version must be zero or positive: " + value);
        }
        return new StateOptions<>(autoSave, saveDelay, debounce, persistTo, sync, validator, section, merge, value, migration);
    }

    /**
     * How a value stored with a lower {@link #version} becomes this version's value; without one
     * such a value is read as it is. {@link IllegalArgumentException} if null.
     */
    public StateOptions<T> migrate(Migration<T> value) {
        if (value == null) {
            throw new IllegalArgumentException("migrate must not be null");
        }
        return new StateOptions<>(autoSave, saveDelay, debounce, persistTo, sync, validator, section, merge, version, value);
    }

    String section() {
        return section;
    }

    Merge mergeMode() {
        return merge;
    }

    int versionNumber() {
        return version;
    }

    Migration<T> migration() {
        return migration;
    }

    Predicate<? super T> validator() {
        return validator;
    }

    /** The app asked for a save delay: the key's writes are pushed when the user pauses. */
    boolean holdsPush() {
        return saveDelay != null && !saveDelay.isZero();
    }

    StoragePolicy applyTo(StoragePolicy base) {
        StoragePolicy p = base;
        if (autoSave != null) {
            p = p.withAutoSave(autoSave);
        }
        if (saveDelay != null) {
            p = p.withSaveDelay(saveDelay);
        }
        if (debounce != null) {
            p = p.withDebounce(debounce);
        }
        if (persistTo != null) {
            p = p.withPersistTo(persistTo);
        }
        if (sync != null) {
            p = p.withSync(sync);
        }
        return p;
    }
}
