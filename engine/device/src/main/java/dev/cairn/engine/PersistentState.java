package dev.cairn.engine;

import com.fasterxml.jackson.databind.JavaType;
import dev.cairn.engine.codec.Json;
import java.io.IOException;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;

/**
 * One typed key of a map section: the JVM counterpart of the browser client's
 * {@code usePersistentState} hook. Values are stored as JSON through the engine's
 * {@link Cairn.Builder#objectMapper object mapper}, so {@code T} is any type it can write and
 * read back: {@link #set} checks that a value reads back before anything changes. The default
 * mapper handles records, POJOs, collections, {@code java.time} types and {@code Optional}.
 *
 * <p>{@link #set} lands in memory at once and is saved to the key's tiers after its save delay,
 * or at {@link #save()}; {@link #isDirty()} and {@link #isSaving()} say where it stands. Reads
 * see remote changes as soon as they are merged. Thread-safe.
 */
public final class PersistentState<T> {

    private final Cairn engine;
    private final String section;
    private final String key;
    private final JavaType type;
    private final T defaultValue;
    private final Predicate<? super T> validator;

    // Decoding JSON on every read is wasteful: keep the last decoded value with its source text.
    private volatile Decoded<T> cache;

    private record Decoded<T>(String json, T value) {
    }

    PersistentState(Cairn engine, String section, String key, JavaType type, T defaultValue, Predicate<? super T> validator) {
        this.engine = engine;
        this.section = section;
        this.key = key;
        this.type = type;
        this.defaultValue = defaultValue;
        this.validator = validator;
    }

    /** The key within its section. */
    public String key() {
        return key;
    }

    /** The map section the key lives in ({@code state} unless {@link StateOptions#section} chose another). */
    public String section() {
        return section;
    }

    /** The current value, or the default value if the key was never set or was reset. */
    public T value() {
        String json = engine.state().map(section).value(key);
        if (json == null) {
            return defaultValue;
        }
        Decoded<T> c = cache;
        if (c != null && c.json == json) {
            return c.value;
        }
        try {
            T value = engine.values().read(json, type);
            cache = new Decoded<>(json, value);
            return value;
        } catch (IOException e) {
            throw new IllegalStateException("stored value of '" + section + "/" + key + "' does not read as "
                    + type.toCanonical() + ": " + Json.describe(e), e);
        }
    }

    /**
     * Sets the value. Refused, with nothing changed: {@code null} ({@link IllegalArgumentException}:
     * use {@link #reset()} to go back to the default, or an {@code Optional} type for "no value"); a
     * value the validator refuses ({@link ValidationException}); a value that does not read back as
     * {@code T}, i.e. the object mapper cannot write it, cannot read it back, or reads back a value
     * that is neither equal to it nor written as the same JSON ({@link ValidationException}: it
     * would be lost or changed at the next start). After {@code set}, {@link #value()} returns the
     * value as read back from its JSON, exactly what a restart returns.
     */
    public void set(T value) {
        if (value == null) {
            throw new IllegalArgumentException("set(null) on '" + section + "/" + key + "' is refused: use reset() to go back to the default"
                    + " value, or an Optional type for a value that may be absent");
        }
        validate(value);
        ValueMapper.Checked<T> checked = engine.values().writeChecked(value, type, section + "/" + key);
        engine.put(section, key, checked.json());
        // Cache under the text this call wrote (the map holds that very String): if another write
        // landed meanwhile, value() sees a different instance and decodes it. The cached value is
        // the one read back, so a later change to the caller's object does not show here.
        cache = new Decoded<>(checked.json(), checked.value());
    }

    /**
     * Applies {@code fn} to the current value and sets the result, atomically with respect to other
     * writers; the result is checked as {@link #set} checks it (so {@code fn} must not return null).
     */
    public T update(UnaryOperator<T> fn) {
        Objects.requireNonNull(fn, "fn");
        return engine.locked(() -> {
            T next = fn.apply(value());
            set(next);
            return next;
        });
    }

    /** Deletes the key (a tombstone that syncs); {@link #value()} returns the default again. */
    public void reset() {
        engine.put(section, key, null);
    }

    /** True if the latest write is not yet saved to the key's tiers. */
    public boolean isDirty() {
        return engine.isDirty(section, key);
    }

    /** True while the latest write is being saved. */
    public boolean isSaving() {
        return engine.isSaving(section, key);
    }

    /** Saves this key now (and anything else due); completes when it is durable. */
    public CompletableFuture<Void> save() {
        return engine.save(section, key);
    }

    /** Calls {@code listener} with the new value after every change of this key, local or remote. */
    public Subscription subscribe(Consumer<? super T> listener) {
        Objects.requireNonNull(listener, "listener");
        return engine.onChange(event -> {
            if (event.section().equals(section) && event.target().equals(key)) {
                listener.accept(value());
            }
        });
    }

    private void validate(T value) {
        if (validator == null) {
            return;
        }
        boolean ok;
        try {
            ok = validator.test(value);
        } catch (RuntimeException e) {
            throw new ValidationException("validator for '" + section + "/" + key + "' failed on the new value: " + e.getMessage(), e);
        }
        if (!ok) {
            throw new ValidationException("validator for '" + section + "/" + key + "' rejected the new value; the old value stays");
        }
    }
}
