package dev.cairn.engine;

import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.crdt.LwwEntry;
import dev.cairn.engine.crdt.LwwMap;
import dev.cairn.engine.crdt.Names;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.persist.Persister;
import dev.cairn.engine.section.SectionSpec;
import dev.cairn.engine.section.StandardSections;
import dev.cairn.engine.section.StoragePolicy;
import dev.cairn.engine.value.DefaultMerge;
import dev.cairn.engine.value.FieldKeys;
import dev.cairn.engine.value.FieldWrite;
import dev.cairn.engine.value.StoredValue;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.NavigableMap;
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
 * <p>An object value is stored one map entry per field ({@link Merge#FIELDS}, the default), so
 * edits of different fields on two devices, even offline, both survive; arrays are always one
 * value. {@link StateOptions#version} and {@link StateOptions#migrate} carry old stored values to
 * a new shape of {@code T}. The layout is spec/vectors/values/README.md, shared with the browser
 * client. A stored value that does not read as {@code T} gives the default value and is reported
 * to {@link Cairn#onError} ({@link UnreadableValueException}); it stays stored until the app writes.
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
    private final Merge merge;
    private final int version;
    private final Migration<T> migration;
    private final String where;

    // Decoding on every read is wasteful: keep the last decoded value with the entries it came
    // from (compared by identity) and the map's modCount when they were last checked.
    private volatile Decoded<T> cache;
    // The value the app last read or wrote: its fields are the ones this handle knows (a write
    // deletes only those). Null until the first read.
    private volatile Read<T> lastRead;
    private volatile JsonNode defaultTree;
    private volatile boolean newerReported;
    private volatile List<LwwEntry> unreadableReported;

    private record Decoded<T>(long modCount, List<LwwEntry> entries, T value) {
    }

    /** A value the app read or wrote, with its JSON tree once known. */
    private record Read<T>(T value, JsonNode tree) {
    }

    /** A handle of {@code key} with {@code options} ({@link Cairn#state(String, Class, Object, StateOptions)}): its policy and push hold registered. */
    static <T> PersistentState<T> open(Cairn engine, String key, JavaType type, T defaultValue, StateOptions<T> options) {
        Objects.requireNonNull(options, "options");
        String section = options.section() == null ? StandardSections.STATE : options.section();
        SectionSpec spec = engine.spec(section, SectionKind.MAP);
        Names.checkKey(key, "key");
        if (key.indexOf('#') >= 0) {
            throw new IllegalArgumentException("invalid key '" + key + "': a state handle's key may not hold '#', because the keys '"
                    + key.substring(0, key.indexOf('#')) + "#...' hold the fields of the value stored under '" + key.substring(0, key.indexOf('#')) + "'");
        }
        StoragePolicy policy = options.applyTo(spec.policy());
        engine.writes.keyPolicies.put(Persister.pendingKey(section, key), policy);
        if (options.holdsPush()) {
            engine.writes.heldKeys.add(Persister.pendingKey(section, key));
        }
        return new PersistentState<>(engine, section, key, type, defaultValue, options.validator(),
                options.mergeMode(), options.versionNumber(), options.migration());
    }

    PersistentState(Cairn engine, String section, String key, JavaType type, T defaultValue, Predicate<? super T> validator,
                    Merge merge, int version, Migration<T> migration) {
        this.engine = engine;
        this.section = section;
        this.key = key;
        this.type = type;
        this.defaultValue = defaultValue;
        this.validator = validator;
        this.merge = merge;
        this.version = version;
        this.migration = migration;
        this.where = section + "/" + key;
    }

    /** The key within its section. */
    public String key() {
        return key;
    }

    /** The map section the key lives in ({@code state} unless {@link StateOptions#section} chose another). */
    public String section() {
        return section;
    }

    /**
     * The current value, or the default value if the key was never set or was reset. Fields the
     * stored object lacks take their value from the default value (an object merged member by
     * member). A value that does not read as {@code T} (or whose migration throws) gives the
     * default value, reported once to {@link Cairn#onError} as an {@link UnreadableValueException}.
     */
    public T value() {
        T value = current();
        Read<T> last = lastRead;
        if (last == null || last.value != value) {
            lastRead = new Read<>(value, null);
        }
        return value;
    }

    private T current() {
        LwwMap map = engine.state().map(section);
        long mod = map.modCount(); // read first: a write after it makes the next read look again
        Decoded<T> c = cache;
        if (c != null && c.modCount == mod) {
            return c.value;
        }
        LwwEntry root = map.entry(key);
        NavigableMap<String, LwwEntry> fields = map.fieldsOf(key);
        List<LwwEntry> entries = entries(root, fields);
        if (c != null && sameEntries(c.entries, entries)) {
            cache = new Decoded<>(mod, c.entries, c.value);
            return c.value;
        }
        T value = decode(StoredValue.read(key, root, fields), entries);
        cache = new Decoded<>(mod, entries, value);
        return value;
    }

    private T decode(StoredValue stored, List<LwwEntry> entries) {
        if (stored.absent()) {
            return defaultValue;
        }
        int storedVersion = stored.version();
        if (storedVersion > version && !newerReported) {
            newerReported = true;
            engine.report(new StoredByNewerVersionException(where, storedVersion, version));
        }
        boolean migrating = storedVersion < version;
        T value;
        try {
            if (migrating && migration != null) {
                value = migration.migrate(stored.value().deepCopy(), storedVersion);
                if (value == null) {
                    throw new IllegalArgumentException("the migration returned null");
                }
            } else {
                JsonNode tree = stored.whole() ? stored.value() : DefaultMerge.merge(defaultTree(), stored.value());
                value = engine.values().read(tree, type);
            }
        } catch (IOException | RuntimeException e) {
            unreadable(entries, stored, migrating && migration != null, e);
            return defaultValue;
        }
        if (migrating) {
            value = writeBack(value, entries);
        }
        return value;
    }

    /** Reports a stored value that does not read, once per distinct stored state. */
    private void unreadable(List<LwwEntry> entries, StoredValue stored, boolean migrated, Exception e) {
        List<LwwEntry> reported = unreadableReported;
        if (reported != null && sameEntries(reported, entries)) {
            return;
        }
        unreadableReported = entries;
        String why = e instanceof IOException io ? Json.describe(io) : e.getMessage();
        String message = migrated
                ? "the migration of '" + where + "' from version " + stored.version() + " to " + version + " failed: " + why
                : "the stored value of '" + where + "' does not read as " + type.toCanonical() + ": " + why;
        engine.report(new UnreadableValueException(where, message + "; the default value is used and the stored value is kept", e));
    }

    /**
     * Writes a migrated value back once (every stored field is known: those the new value lacks
     * are deleted) if the entries are still the ones migrated; returns the value as a read of what
     * was written gives it ("then read as usual": the default fills in fields it lacks).
     */
    private T writeBack(T value, List<LwwEntry> migrated) {
        try {
            ValueMapper.Checked<T> checked = engine.values().writeChecked(value, type, where);
            T asRead = asStored(checked);
            if (!engine.isOpen()) {
                return asRead;
            }
            engine.locked(() -> {
                LwwMap map = engine.state().map(section);
                LwwEntry root = map.entry(key);
                NavigableMap<String, LwwEntry> fields = map.fieldsOf(key);
                if (sameEntries(migrated, entries(root, fields))) {
                    StoredValue stored = StoredValue.forWrite(key, root, fields);
                    write(stored, tree(checked.json()), null, true);
                }
                return null;
            });
            return asRead;
        } catch (IOException | RuntimeException e) {
            engine.report(new UnreadableValueException(where, "the migrated value of '" + where + "' could not be written back ("
                    + e.getMessage() + "); it is used in memory and migrated again at the next start", e));
            return value;
        }
    }

    /** A written value as reading it back gives it: an object stored field by field takes the default's missing fields. */
    private T asStored(ValueMapper.Checked<T> checked) throws IOException {
        JsonNode tree = tree(checked.json());
        JsonNode defaults = defaultTree();
        if (merge != Merge.FIELDS || defaults == null || FieldKeys.leaves(key, tree) == null) {
            return checked.value();
        }
        JsonNode merged = DefaultMerge.merge(defaults, tree);
        return merged.equals(tree) ? checked.value() : engine.values().read(merged, type);
    }

    /**
     * Sets the value. Refused, with nothing changed: {@code null} ({@link IllegalArgumentException}:
     * use {@link #reset()} to go back to the default, or an {@code Optional} type for "no value"); a
     * value the validator refuses ({@link ValidationException}); a value that does not read back as
     * {@code T}, i.e. the object mapper cannot write it, cannot read it back, or reads back a value
     * that is neither equal to it nor written as the same JSON ({@link ValidationException}: it
     * would be lost or changed at the next start). After {@code set}, {@link #value()} returns the
     * value as read back from its JSON, exactly what a restart returns.
     *
     * <p>With {@link Merge#FIELDS}, only the fields that differ from what is stored are written,
     * all in one local write; a field the handle last read but the new value lacks is deleted,
     * while fields {@code T} does not know (written by a newer app) are kept.
     */
    public void set(T value) {
        if (value == null) {
            throw new IllegalArgumentException("set(null) on '" + where + "' is refused: use reset() to go back to the default"
                    + " value, or an Optional type for a value that may be absent");
        }
        validate(value);
        ValueMapper.Checked<T> checked = engine.values().writeChecked(value, type, where);
        JsonNode tree = tree(checked.json());
        engine.locked(() -> {
            Read<T> read = lastRead;
            JsonNode known = read == null ? engine.values().tree(current()) : read.tree != null ? read.tree : engine.values().tree(read.value);
            LwwMap map = engine.state().map(section);
            write(StoredValue.forWrite(key, map.entry(key), map.fieldsOf(key)), tree, known, false);
            // Cache what this call wrote, read back: a later change to the caller's object does not show here.
            long mod = map.modCount();
            cache = new Decoded<>(mod, entries(map.entry(key), map.fieldsOf(key)), checked.value());
            lastRead = new Read<>(checked.value(), tree);
            return null;
        });
    }

    /** One local write of the changes from what is stored to {@code tree}. Lock held. */
    private void write(StoredValue stored, JsonNode tree, JsonNode known, boolean knowsAll) {
        List<FieldWrite.Op> ops = FieldWrite.plan(key, stored, tree, known, knowsAll, merge == Merge.FIELDS, version);
        if (!ops.isEmpty()) {
            engine.writes.putAll(section, ops);
        }
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

    /**
     * Deletes the value (tombstones that sync: the key and each of its field entries);
     * {@link #value()} returns the default again.
     */
    public void reset() {
        engine.locked(() -> {
            LwwMap map = engine.state().map(section);
            engine.writes.putAll(section, FieldWrite.reset(key, StoredValue.forWrite(key, map.entry(key), map.fieldsOf(key))));
            return null;
        });
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

    /**
     * Calls {@code listener} with the new value after every change of this key (its field entries
     * included), local or remote; once for the several entries of one write.
     */
    public Subscription subscribe(Consumer<? super T> listener) {
        Objects.requireNonNull(listener, "listener");
        String fields = key + '#';
        Object[] last = {null};
        return engine.onChange(event -> {
            if (event.section().equals(section) && (event.target().equals(key) || event.target().startsWith(fields))) {
                T value = value();
                Decoded<T> d = cache;
                // The entries the value came from (the same list while nothing changed): another
                // entry of one write already delivered this value.
                Object from = d == null ? null : d.entries;
                synchronized (last) {
                    if (from != null && last[0] == from) {
                        return;
                    }
                    last[0] = from;
                }
                listener.accept(value);
            }
        });
    }

    private JsonNode defaultTree() {
        JsonNode d = defaultTree;
        if (d == null && defaultValue != null) {
            d = engine.values().tree(defaultValue);
            defaultTree = d;
        }
        return d;
    }

    private static JsonNode tree(String json) {
        try {
            return Json.readCheckedTree(json);
        } catch (IOException e) {
            throw new IllegalStateException("canonical JSON does not parse: " + Json.describe(e), e);
        }
    }

    private static List<LwwEntry> entries(LwwEntry root, NavigableMap<String, LwwEntry> fields) {
        List<LwwEntry> out = new ArrayList<>(fields.size() + 1);
        out.add(root);
        out.addAll(fields.values());
        return out;
    }

    /** The same entries (by identity: a merged entry is always a new instance). */
    private static boolean sameEntries(List<LwwEntry> a, List<LwwEntry> b) {
        if (a.size() != b.size()) {
            return false;
        }
        for (int i = 0; i < a.size(); i++) {
            if (a.get(i) != b.get(i)) {
                return false;
            }
        }
        return true;
    }

    private void validate(T value) {
        if (validator == null) {
            return;
        }
        boolean ok;
        try {
            ok = validator.test(value);
        } catch (RuntimeException e) {
            throw new ValidationException("validator for '" + where + "' failed on the new value: " + e.getMessage(), e);
        }
        if (!ok) {
            throw new ValidationException("validator for '" + where + "' rejected the new value; the old value stays");
        }
    }
}
