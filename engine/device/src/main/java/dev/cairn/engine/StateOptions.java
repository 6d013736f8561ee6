package dev.cairn.engine;

import dev.cairn.engine.section.PersistTo;
import dev.cairn.engine.section.StoragePolicy;
import java.time.Duration;
import java.util.function.Predicate;

/**
 * Options of a {@link PersistentState}, as in the original spec: {@code autoSave},
 * {@code saveDelay}, {@code debounce}, {@code validate}, {@code persistTo}, and {@code sync}
 * (the spec's {@code syncWithBackend}). Unset options take the section's policy. Immutable.
 */
public final class StateOptions<T> {

    private final Boolean autoSave;
    private final Duration saveDelay;
    private final Boolean debounce;
    private final PersistTo persistTo;
    private final Boolean sync;
    private final Predicate<? super T> validator;
    private final String section;

    private StateOptions(Boolean autoSave, Duration saveDelay, Boolean debounce, PersistTo persistTo, Boolean sync,
                         Predicate<? super T> validator, String section) {
        this.autoSave = autoSave;
        this.saveDelay = saveDelay;
        this.debounce = debounce;
        this.persistTo = persistTo;
        this.sync = sync;
        this.validator = validator;
        this.section = section;
    }

    public static <T> StateOptions<T> defaults() {
        return new StateOptions<>(null, null, null, null, null, null, null);
    }

    public StateOptions<T> autoSave(boolean value) {
        return new StateOptions<>(value, saveDelay, debounce, persistTo, sync, validator, section);
    }

    public StateOptions<T> saveDelay(Duration value) {
        if (value == null || value.isNegative()) {
            throw new IllegalArgumentException("saveDelay must be zero or positive: " + value);
        }
        return new StateOptions<>(autoSave, value, debounce, persistTo, sync, validator, section);
    }

    public StateOptions<T> debounce(boolean value) {
        return new StateOptions<>(autoSave, saveDelay, value, persistTo, sync, validator, section);
    }

    public StateOptions<T> persistTo(PersistTo value) {
        if (value == null) {
            throw new IllegalArgumentException("persistTo must not be null");
        }
        return new StateOptions<>(autoSave, saveDelay, debounce, value, sync, validator, section);
    }

    /** False keeps the key on this device: it never enters the outbox. */
    public StateOptions<T> sync(boolean value) {
        return new StateOptions<>(autoSave, saveDelay, debounce, persistTo, value, validator, section);
    }

    /** A value the validator refuses is not written; the caller gets a {@link ValidationException}. */
    public StateOptions<T> validate(Predicate<? super T> value) {
        if (value == null) {
            throw new IllegalArgumentException("validate must not be null");
        }
        return new StateOptions<>(autoSave, saveDelay, debounce, persistTo, sync, value, section);
    }

    /** The map section the key lives in; default {@code state}. */
    public StateOptions<T> section(String value) {
        return new StateOptions<>(autoSave, saveDelay, debounce, persistTo, sync, validator, value);
    }

    String section() {
        return section;
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
