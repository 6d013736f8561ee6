package dev.cairn.engine;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cairn.engine.clock.HybridClock;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.clock.WallClock;
import dev.cairn.engine.codec.ExportDocument;
import dev.cairn.engine.codec.TransferProgress;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.GrowOnlyLog;
import dev.cairn.engine.crdt.LwwMap;
import dev.cairn.engine.crdt.Names;
import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.persist.Persister;
import dev.cairn.engine.persist.Tier;
import dev.cairn.engine.section.SectionSpec;
import dev.cairn.engine.section.StandardSections;
import dev.cairn.engine.section.StoragePolicy;
import dev.cairn.engine.store.LocalStore;
import dev.cairn.engine.store.TieredLocalStore;
import dev.cairn.engine.sync.internal.SyncPorts;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The Cairn engine: one user's state on one device (a replica), kept in memory for reads,
 * saved to the session and durable tiers as each key's {@link StoragePolicy} says, and queued in
 * a durable outbox for the server.
 *
 * <pre>{@code
 * try (Cairn cairn = Cairn.builder().dataDir(Path.of("state")).open()) {
 *     PersistentState<Integer> count = cairn.state("count", Integer.class, 0);
 *     count.update(n -> n + 1);
 *     cairn.cards().card("intro").toggle();
 *     cairn.chat().append("conv-1", "user", "hello");
 *     count.save().join();
 * }
 * }</pre>
 *
 * <p>Every section is a CRDT ({@link LwwMap} or {@link GrowOnlyLog}) and every change carries a
 * hybrid-logical-clock {@link Stamp}, so changes from other replicas, imports and re-sent
 * changes merge without conflicts. Thread-safe: writes are serialized by one lock, reads are
 * lock-free. Only one engine may have a data directory open at a time.
 */
public final class Cairn implements AutoCloseable {

    /**
     * The journal file of data directories written before the durable tier became a
     * {@link TieredLocalStore} (journal segments + MapDB snapshots in the data directory); such a
     * file is adopted as the store's first journal segment at open.
     */
    public static final String DURABLE_FILE = TieredLocalStore.LEGACY_JOURNAL;

    /** The export document format this engine writes and reads. */
    public static final String EXPORT_FORMAT = ExportDocument.FORMAT;
    /** The export document version this engine writes; it reads this version and older ones. */
    public static final int EXPORT_VERSION = ExportDocument.VERSION;

    private final String replicaId;
    final WallClock wall;
    final HybridClock clock;
    final Map<String, SectionSpec> sections;
    /**
     * The reserved sections this engine holds (PROTOCOL.md 8): {@code spaces} in a user's engine,
     * {@code members} in a space's. Read by the app, written by the server only.
     */
    final java.util.Set<String> serverOnly;
    /** The space this engine is the local replica of; null for the user's own engine. */
    final String spaceId;
    /** The user's engine of a space replica (null for the user's own engine). */
    final Cairn owner;
    /** Where this engine's files are; null in memory. */
    private final Path dataDir;
    /** The settings space replicas are opened with (the user's engine's). */
    private final EngineSettings settings;
    /** The local replicas of the user's spaces (user engine only; null in a space replica). */
    final SpaceReplicas spaceReplicas;
    /** Set when this space replica's space was left and its copy kept: then it is read-only. */
    volatile String leftReason;
    final ReplicaState state;
    private final EngineTiers tiers;
    final Persister persister;
    final ReentrantLock writeLock = new ReentrantLock();
    private volatile boolean closed;
    /** App values to JSON and back: the builder's objectMapper, or the default one. */
    private final ValueMapper values;
    final Listeners listeners = new Listeners(writeLock);
    final Lifecycle lifecycle = new Lifecycle(listeners::reportError);
    final Privacy privacy = new Privacy(this);
    private final Transfer transfer = new Transfer(this);
    final WritePath writes;

    static {
        SyncPorts.install(cairn -> cairn.port);
    }

    /** The sync plumbing, for the sync client only (not part of the API: see SyncPorts). */
    final EnginePort port = new EnginePort(this);

    Cairn(EngineSettings b, LocalStore durable, FileLock dirLock) {
        this.spaceId = b.spaceId;
        this.owner = b.owner;
        this.dataDir = b.dataDir;
        this.settings = b;
        this.wall = b.wall;
        this.values = b.objectMapper == null ? ValueMapper.DEFAULT : new ValueMapper(b.objectMapper);
        this.writes = new WritePath(this, b.maxFrameBytes);
        Map<String, SectionSpec> all = new LinkedHashMap<>(b.sections);
        SectionSpec reserved = b.spaceId == null ? SpaceReplicas.SPACES_SPEC : SpaceReplicas.MEMBERS_SPEC;
        all.put(reserved.name(), reserved);
        this.sections = Map.copyOf(all);
        this.serverOnly = java.util.Set.of(reserved.name());
        this.spaceReplicas = b.spaceId == null ? new SpaceReplicas(this) : null;
        this.state = new ReplicaState(name -> {
            SectionSpec spec = sections.get(name);
            return spec == null ? null : spec.kind();
        });
        HybridClock[] clockRef = new HybridClock[1];
        this.tiers = new EngineTiers(durable, dirLock, () -> clockRef[0].last(), listeners::reportError);
        this.persister = tiers.persister;
        this.replicaId = DataDir.replicaId(persister, b.replicaId);
        this.clock = new HybridClock(wall, replicaId, b.maxClockAhead.toMillis());
        clockRef[0] = clock;
        long highWater = persister.load(change -> {
            if (sections.containsKey(change.section())) {
                state.apply(change);
                clock.restore(change.stamp().hlc());
            }
        });
        clock.restore(highWater);
        port.loadCursor(persister.storedCursor());
        String left = persister.meta(SpaceReplicas.LEFT_META);
        this.leftReason = left == null || left.isEmpty() ? null : left;
        privacy.load();
        if (b.saveOnShutdown) {
            lifecycle.addShutdownHook(() -> close(true));
        }
    }

    /** Starts configuring an engine: set {@code dataDir(path)} or {@code inMemory()}, then {@code open()}. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * A new {@link ObjectMapper} with the settings of the engine's default one, to customize and
     * pass to {@link Builder#objectMapper}: the engine's strict JSON factory (bounded depth,
     * repeated names refused), {@code java.time} types as ISO-8601 text (jackson-datatype-jsr310),
     * {@code Optional} (jackson-datatype-jdk8), unknown properties ignored on read. Its modules are
     * registered explicitly, never found on the class path, so the stored encoding does not depend
     * on what else the application ships.
     */
    public static ObjectMapper defaultObjectMapper() {
        return ValueMapper.newDefaultMapper();
    }

    // ------------------------------------------------------------------ typed API

    /**
     * A typed state handle in the generic {@code state} section with the section's default policy.
     *
     * @throws IllegalArgumentException if the key is not a valid map key or holds {@code #}
     *         (the keys {@code key#...} hold an object value's fields)
     */
    public <T> PersistentState<T> state(String key, Class<T> type, T defaultValue) {
        return PersistentState.open(this, key, values.type(type), defaultValue, StateOptions.defaults());
    }

    /**
     * A typed state handle whose storage, save timing, sync and validation come from
     * {@code options} (section {@code state} unless the options name another map section).
     *
     * @throws UnknownSectionException if the options name a section that is not registered, or a log section
     * @throws IllegalArgumentException if the key is not a valid key name
     */
    public <T> PersistentState<T> state(String key, Class<T> type, T defaultValue, StateOptions<T> options) {
        return PersistentState.open(this, key, values.type(type), defaultValue, options);
    }

    /**
     * {@link #state(String, Class, Object, StateOptions)} for a generic type, such as {@code List<Note>}.
     *
     * @throws UnknownSectionException if the options name a section that is not registered, or a log section
     * @throws IllegalArgumentException if the key is not a valid key name
     */
    public <T> PersistentState<T> state(String key, TypeReference<T> type, T defaultValue, StateOptions<T> options) {
        return PersistentState.open(this, key, values.type(type), defaultValue, options);
    }

    /**
     * Any map section, for untyped access.
     *
     * @throws UnknownSectionException if no section of that name is registered, or it is a log section
     */
    public MapSection map(String section) {
        spec(section, SectionKind.MAP);
        return new MapSection(this, section);
    }

    /**
     * Any log section.
     *
     * @throws UnknownSectionException if no section of that name is registered, or it is a map section
     */
    public LogSection log(String section) {
        spec(section, SectionKind.LOG);
        return new LogSection(this, section);
    }

    /** Expandable cards (the {@code cards} section), stored field by field: expanded, visible, last interaction, custom data. */
    public Cards cards() {
        return new Cards(map(StandardSections.CARDS));
    }

    /** Shown and hidden components (the {@code components} section). */
    public Components components() {
        return new Components(map(StandardSections.COMPONENTS));
    }

    /** Legal waivers and consents (the {@code consent} log): signed and revoked, never rewritten. */
    public Consent consent() {
        return new Consent(log(StandardSections.CONSENT), wall);
    }

    /** Onboarding and assessment progress (the {@code progress} section). */
    public Progress progress() {
        return new Progress(map(StandardSections.PROGRESS), wall);
    }

    /** Chat history (the {@code chat} log): messages appended per conversation, merged from every device. */
    public Chat chat() {
        return new Chat(log(StandardSections.CHAT), wall);
    }

    /** The AI assistant's memory (the {@code memory} section): facts by key. */
    public Memory memory() {
        return new Memory(map(StandardSections.MEMORY));
    }

    /** User preferences (the {@code preferences} section), such as theme and language. */
    public Preferences preferences() {
        return new Preferences(map(StandardSections.PREFERENCES));
    }

    /** UI state such as layout and navigation (the {@code ui} map section). */
    public MapSection ui() {
        return map(StandardSections.UI);
    }

    /** Which features the user has access to (the {@code features} map section). */
    public MapSection features() {
        return map(StandardSections.FEATURES);
    }

    // ------------------------------------------------------------------ whole-engine operations

    /**
     * Clears a section on every device of the user, online or offline: a map section with one
     * whole-section clear (a watermark that hides and purges every value and tombstone written
     * before it, here, on the server and on each device as it syncs, and keeps out older writes
     * of a device that was offline), a log section with a watermark per stream. Returns how many
     * live map keys or log streams it cleared.
     *
     * @throws UnknownSectionException if no section of that name is registered
     */
    public int clear(String section) {
        SectionSpec spec = spec(section, null);
        checkWritable(section);
        return writes.clear(spec);
    }

    /**
     * Clears one stream of a log section (one chat conversation).
     *
     * @throws UnknownSectionException if no section of that name is registered, or it is a map section
     */
    public void clear(String section, String stream) {
        spec(section, SectionKind.LOG);
        checkWritable(section);
        Names.checkKey(stream, "stream");
        writes.writeLocal(() -> new Change.Clear(section, stream, clock.tick()));
    }

    // ------------------------------------------------------------------ privacy switches

    /**
     * True if the section syncs from this device: registered with a syncing policy and not
     * switched off with {@link #disableSync}. (Keys given {@code sync(false)} stay local either way.)
     *
     * @throws UnknownSectionException if no section of that name is registered
     */
    public boolean isSyncing(String section) {
        return spec(section, null).policy().sync() && !privacy.isOff(section);
    }

    /**
     * Turns a section's sync off on this device (a privacy switch). From now on its writes stay
     * on this device (they never enter the outbox, so they never reach the server) and changes
     * of it from the server are not applied here. What happens to the copy the server already
     * holds is the user's choice:
     * <ul>
     *   <li>{@link ServerCopy#KEEP}: the server keeps it, and the user's other devices go on
     *       syncing it among themselves;</li>
     *   <li>{@link ServerCopy#DELETE}: a whole-section clear (a watermark per stream for a log
     *       section) is sent to the server, which purges its copy; <b>the user's other devices
     *       apply that clear too</b> and lose their copies, exactly as after {@link #clear(String)}
     *       on another device. This device keeps its own copy: the clear is pushed but not
     *       applied here.</li>
     * </ul>
     * Switching an off section off again with DELETE deletes the server's copy then; with KEEP it
     * changes nothing. The switch is saved and survives restarts. The returned future completes
     * when the switch (and for DELETE the clear, in the outbox) is durable, or fails with a
     * {@link StorageException} if it could not be saved.
     *
     * @throws UnknownSectionException if no section of that name is registered
     */
    public CompletableFuture<Void> disableSync(String section, ServerCopy serverCopy) {
        checkNotServerOnly(section);
        return privacy.disableSync(section, serverCopy);
    }

    /**
     * Turns a section's sync back on. This device's copy is pushed: entries keep their stamps, so
     * newer writes made elsewhere still win, except that after {@link ServerCopy#DELETE} the
     * entries the server-side clear removed are written again with new stamps (the user chose to
     * share this device's copy again). The sync cursor goes back to 0, so the next connection
     * catches up from the server's whole current state and brings in what changed in the section
     * while it was off (a connected {@link dev.cairn.engine.sync.SyncClient} reconnects for that).
     * The returned future completes when the pushed changes are in the durable outbox, or fails
     * with a {@link StorageException} if they could not be saved.
     *
     * @throws UnknownSectionException if no section of that name is registered
     */
    public CompletableFuture<Void> enableSync(String section) {
        checkNotServerOnly(section);
        return privacy.enableSync(section);
    }

    /** The whole state as a versioned JSON document that keeps stamps, so importing it merges. */
    public String exportData() {
        return transfer.exportData();
    }

    /**
     * The chosen sections as an export document.
     *
     * @throws UnknownSectionException if a chosen section is not registered
     */
    public String exportData(Collection<String> chosen) {
        return transfer.exportData(chosen);
    }

    /**
     * Streams the chosen sections as an export document to {@code out} (UTF-8; flushed, not
     * closed), reporting entries written to {@code progress}. Writers wait while it runs (it reads
     * one consistent state), so a very large export briefly pauses writes.
     *
     * @throws UnknownSectionException if a chosen section is not registered
     * @throws IOException if writing to {@code out} fails
     */
    public void exportData(OutputStream out, Collection<String> chosen, TransferProgress progress) throws IOException {
        transfer.exportData(out, chosen, progress);
    }

    /**
     * Merges an export document like changes from another replica: newer entries win, older ones
     * are ignored. The whole file is checked first; a corrupt or foreign file is refused with an
     * {@link ImportException} and nothing changes. Applied changes sync like local ones.
     */
    public ImportResult importData(String document) {
        return transfer.importData(document);
    }

    /**
     * {@link #importData(String)} from a stream read entry by entry; a file over {@code maxBytes}
     * (or truncated, corrupt, of another version) is refused and nothing changes. {@code progress}
     * gets bytes read of {@code totalBytes} (-1 if unknown).
     */
    public ImportResult importData(InputStream in, long maxBytes, long totalBytes, TransferProgress progress) {
        return transfer.importData(in, maxBytes, totalBytes, progress);
    }

    /**
     * Restores a backup: merges it as {@link #importData(String)} does, then writes again (with new
     * stamps) every entry of the file that a later delete or clear hides here, so "export, clear,
     * restore" brings the state back on every device. All or nothing, like an import.
     */
    public ImportResult restoreData(String document) {
        return transfer.restoreData(document);
    }

    /** {@link #restoreData(String)} from a stream, with the limits of {@link #importData(InputStream, long, long, TransferProgress)}. */
    public ImportResult restoreData(InputStream in, long maxBytes, long totalBytes, TransferProgress progress) {
        return transfer.restoreData(in, maxBytes, totalBytes, progress);
    }

    /** The highest server seq this replica has applied (PROTOCOL.md 1.3). */
    public long cursor() {
        return port.cursor();
    }

    /**
     * Saves everything queued to its tiers now, drafts ({@code autoSave(false)}) too, and so puts
     * the syncing ones in the outbox. The future completes when they are durable, or fails with a
     * {@link StorageException} if the store refused them (they stay queued for the next save).
     *
     * @throws IllegalStateException if the engine is closed
     */
    public CompletableFuture<Void> save() {
        checkOpen();
        return StorageException.translated(persister.flush());
    }

    /** Subscribes to every visible change. */
    public Subscription onChange(ChangeListener listener) {
        return listeners.onChange(listener);
    }

    /**
     * Subscribes to the errors no caller is waiting for, each given as it happens, on the thread
     * it happens on:
     * <ul>
     *   <li>a background save that failed: a {@link StorageException} (from the persistence
     *       thread). The values stay in memory and the save is tried again about a second later
     *       (a draft's at its next save); a {@code save()} future waiting for it fails with the
     *       same exception;</li>
     *   <li>a change listener ({@link #onChange}, {@link PersistentState#subscribe}) that threw:
     *       the exception it threw (from the writing thread, after the write). It is logged at
     *       WARNING with its stack trace too, and the other listeners still run;</li>
     *   <li>a stored value the app cannot read as its type, or one written by a newer version of
     *       the app, when the typed state that reads it reports one ({@code UnreadableValueException},
     *       {@code StoredByNewerVersionException}): the app gets its default or the value it can
     *       read, and the stored bytes stay.</li>
     * </ul>
     * While no onError listener is subscribed, background failures are logged at WARNING (logger
     * {@code dev.cairn.engine.Cairn}). A listener that throws is logged and does not keep the
     * next one from hearing the error. Sync problems are not reported here: they are in the sync
     * client's status ({@link dev.cairn.engine.sync.SyncClient#onStatus}) and its log.
     */
    public Subscription onError(Consumer<Throwable> listener) {
        return listeners.onError(listener);
    }

    /** Bytes held in each tier, live entries per section and what is not yet saved or acknowledged, now. */
    public Stats stats() {
        Map<Tier, Long> bytes = new EnumMap<>(Tier.class);
        long memory = 0;
        Map<String, Integer> entries = new TreeMap<>();
        for (SectionSpec spec : sections.values()) {
            if (serverOnly.contains(spec.name())) {
                continue;
            }
            entries.put(spec.name(), state.liveSize(spec.name()));
            memory += MemoryEstimate.of(state, spec);
        }
        bytes.put(Tier.MEMORY, memory);
        tiers.sizes(bytes);
        return new Stats(bytes, entries, pendingChanges(), persister.pendingCount());
    }

    /** Local changes the server has not acknowledged yet (committed outbox plus queued ones). */
    public int pendingChanges() {
        return persister.unacknowledgedCount();
    }

    /** This device's replica id: it names the device in every stamp it writes and in {@code hello}. */
    public String replicaId() {
        return replicaId;
    }

    /** The hybrid logical clock that stamps this engine's changes (it also observes every stamp received). */
    public HybridClock clock() {
        return clock;
    }

    /** Registered sections by name. */
    public Map<String, SectionSpec> sections() {
        TreeMap<String, SectionSpec> out = new TreeMap<>(sections);
        out.keySet().removeAll(serverOnly);
        return out;
    }

    /** Every section, the reserved ones too (the sync port's view). */
    Map<String, SectionSpec> allSections() {
        return new TreeMap<>(sections);
    }

    // ------------------------------------------------------------------ spaces

    /**
     * The local replica of the shared space {@code id} (PROTOCOL.md 8): the same section API as
     * this engine ({@link Space#state}, {@link Space#map}, {@link Space#log}, ...), with its own
     * durable store (under this engine's data directory, in {@code spaces/<id>}), its own sync
     * cursor and outbox. A running {@link dev.cairn.engine.sync.SyncClient} of this engine syncs
     * it over the same socket. Opening a space the user is not (yet) a member of is allowed: its
     * writes wait in its outbox and are refused by the server if the user is not a member then.
     * The same object is returned for the same id while this engine is open.
     *
     * @throws IllegalArgumentException if {@code id} is not a valid space id (1-64 of A-Z a-z 0-9 - _)
     * @throws IllegalStateException if this engine is a space replica itself, or closed
     * @throws StorageException if the space's store cannot be opened
     */
    public Space space(String id) {
        checkOpen();
        if (spaceReplicas == null) {
            throw new IllegalStateException("space " + spaceId + " holds no spaces of its own: call space(id) on the user's engine");
        }
        return spaceReplicas.open(id, true);
    }

    /**
     * The spaces the user belongs to, from the user's read-only {@code spaces} section as last
     * synced (so it works offline), sorted by id. Empty before the first sync, and for an engine
     * that is a space replica.
     */
    public List<SpaceMembership> spaces() {
        return spaceReplicas == null ? List.of() : spaceReplicas.memberships();
    }

    /** The canonical encoding of the whole state: equal on two replicas exactly when they have converged. */
    public String canonicalState() {
        return dev.cairn.engine.codec.CanonicalJson.encode(state);
    }

    /**
     * Stops the sync clients attached to this engine (each reports its final status and fails its
     * pending {@code syncNow()} calls with code {@code engine-closed}), saves everything queued
     * (drafts too), then releases the data directory and removes the shutdown hook of
     * {@link Builder#saveOnShutdown}. Idempotent.
     *
     * @throws StorageException if the last save or closing the store's files failed (the data
     *         directory is released all the same)
     */
    @Override
    public void close() {
        try {
            close(false);
        } catch (RuntimeException e) {
            throw StorageException.of(e);
        }
    }

    /** {@code exiting}: run by the shutdown hook, which saves what autoSave would save, not the drafts. */
    private void close(boolean exiting) {
        // Sync clients stop first, outside the write lock: a client's thread may be waiting for it.
        if (!lifecycle.startClosing()) {
            return;
        }
        if (spaceReplicas != null) {
            spaceReplicas.closeAll(exiting); // their sync lanes stopped with this engine's clients above
        }
        writeLock.lock();
        try {
            closed = true;
        } finally {
            writeLock.unlock();
        }
        tiers.close(exiting);
    }

    // ------------------------------------------------------------------ internals used by the handles

    ReplicaState state() {
        return state;
    }

    /** How app values become JSON and back (the builder's objectMapper or the default). */
    ValueMapper values() {
        return values;
    }

    /** Runs a read-modify-write atomically with respect to other writers. */
    <T> T locked(Supplier<T> action) {
        checkOpen();
        List<ChangeEvent> events;
        T result;
        writeLock.lock();
        try {
            checkOpen(); // again under the lock: close() may have run while this thread waited for it
            result = action.get();
        } finally {
            events = listeners.drainEvents();
            writeLock.unlock();
        }
        listeners.fire(events);
        return result;
    }

    /** Whether the key or one of its field entries ({@code key#...}) is not yet saved. */
    boolean isDirty(String section, String key) {
        return persister.isDirty(Persister.pendingKey(section, key), true);
    }

    boolean isSaving(String section, String key) {
        return persister.isSaving(Persister.pendingKey(section, key), true);
    }

    CompletableFuture<Void> save(String section, String key) {
        checkOpen();
        return StorageException.translated(persister.flushWith(Persister.pendingKey(section, key), true));
    }

    boolean isOpen() {
        return !closed;
    }

    /** Tells the error listeners (a typed value that does not read, or was stored by a newer app). */
    void report(Throwable error) {
        listeners.reportError(error);
    }

    WallClock wall() {
        return wall;
    }

    /** The frame limit writes are checked against: the builder's maxFrameBytes, then the server's (welcome). */
    public long maxFrameBytes() {
        return writes.maxFrameBytes;
    }

    SectionSpec spec(String section, SectionKind expected) {
        SectionSpec spec = sections.get(section);
        if (spec == null) {
            throw new UnknownSectionException("unknown section '" + section + "': register it with Cairn.builder().section(...)");
        }
        if (expected != null && spec.kind() != expected) {
            throw new UnknownSectionException("section '" + section + "' is a " + spec.kind().wireName() + " section, not a " + expected.wireName() + " section");
        }
        return spec;
    }

    /**
     * Refuses a local write of a server-only section ({@code spaces}, {@code members}), or of any
     * section of a space replica whose space was left (its kept copy is read-only).
     */
    void checkWritable(String section) {
        if (serverOnly.contains(section)) {
            throw new ValidationException("forbidden: section '" + section + "' is written by the server only (PROTOCOL.md 8): membership"
                    + " changes go through the spaces HTTP API (dev.cairn.engine.sync.SpacesClient); nothing was written");
        }
        String left = leftReason;
        if (left != null) {
            throw new ValidationException("space-left: space '" + spaceId + "' was left (" + left + "): its local copy is read-only; nothing was written");
        }
    }

    /** The membership sections have no privacy switch: the server writes them and every device needs them. */
    private void checkNotServerOnly(String section) {
        if (serverOnly.contains(section)) {
            throw new ValidationException("forbidden: section '" + section + "' is written by the server only (PROTOCOL.md 8)"
                    + " and has no privacy switch");
        }
    }

    /** This engine's data directory; null in memory. */
    Path dataDir() {
        return dataDir;
    }

    /** Opens the local replica of space {@code id} at {@code dir} (null: in memory), with this engine's settings. */
    Cairn openSpaceReplica(String id, Path dir) {
        return settings.forSpaceReplica(id, this, dir).open();
    }

    void checkOpen() {
        if (closed) {
            throw new IllegalStateException("engine is closed");
        }
    }

    /**
     * Opens a {@link Cairn} engine. Each setting may be given once; a bad or repeated setting
     * is an {@link IllegalArgumentException} or {@link IllegalStateException} naming it.
     */
    public static final class Builder {

        /** What the setters collect; it also does the opening. */
        private final EngineSettings settings = new EngineSettings();

        private Builder() {
        }

        /** The directory holding the durable store ({@code cairn.journal}) and its lock file ({@code cairn.lock}). */
        public Builder dataDir(Path dir) {
            settings.dataDir(dir);
            return this;
        }

        /** No data directory: the durable tier lives in memory (tests, ephemeral replicas). */
        public Builder inMemory() {
            settings.inMemory();
            return this;
        }

        /** This device's replica id (1-64 of A-Z a-z 0-9 - _); generated and stored if not given. */
        public Builder replicaId(String id) {
            settings.replicaId(id);
            return this;
        }

        /** The wall clock stamps are based on (tests inject a manual one). */
        public Builder wallClock(WallClock clock) {
            settings.wallClock(clock);
            return this;
        }

        /** How far ahead of this device's clock a remote stamp may be; default 1 minute. */
        public Builder maxClockAhead(Duration bound) {
            settings.maxClockAhead(bound);
            return this;
        }

        /**
         * The largest push frame a server takes (PROTOCOL.md 2), assumed until a sync client's
         * {@code welcome.maxFrameBytes} says otherwise; default 1 MiB. A syncing write whose push
         * frame alone is larger is refused with a {@link ChangeTooLargeException}, and so is an
         * import holding one.
         */
        public Builder maxFrameBytes(long bytes) {
            settings.maxFrameBytes(bytes);
            return this;
        }

        /**
         * The Jackson mapper that turns the app's values into JSON and back: {@link PersistentState},
         * {@link MapSection#put}/{@link MapSection#get}, {@link LogSection#append}, card and
         * component custom data. Default {@link Cairn#defaultObjectMapper()}; customize the mapper it
         * returns to keep its settings. The engine's own records (chat messages, consent events) always
         * use the default one, so every device reads them alike. The mapper must not be
         * reconfigured once the engine is open, and must write a value the same way on every
         * device of the user (the JSON is what syncs).
         */
        public Builder objectMapper(ObjectMapper mapper) {
            settings.objectMapper(mapper);
            return this;
        }

        /**
         * {@code true} registers a JVM shutdown hook that saves and closes the engine if the
         * application exits (e.g. {@code System.exit}, the end of {@code main}, SIGTERM) without
         * calling {@link Cairn#close()}: it stops the attached sync clients and saves what autoSave
         * would have saved later (writes still within their {@code saveDelay} included), but not the
         * drafts of keys with {@code autoSave(false)}, which stay unsaved as after a crash.
         * {@link Cairn#close()} removes the hook. Default {@code false}: without it, writes still
         * within their save delay at exit are lost. Nothing runs on {@code kill -9} or a crash.
         */
        public Builder saveOnShutdown(boolean enabled) {
            settings.saveOnShutdown(enabled);
            return this;
        }

        /** Registers an app section with the default policy (durable, syncing). */
        public Builder section(String name, SectionKind kind) {
            return section(name, kind, StoragePolicy.DEFAULT);
        }

        /** Registers an app section, or changes a standard section's policy (same kind only). */
        public Builder section(String name, SectionKind kind, StoragePolicy policy) {
            settings.section(name, kind, policy);
            return this;
        }

        /**
         * Opens the engine: loads the state from its tiers (the data directory is locked while
         * open) and returns it ready to read and write.
         *
         * @throws IllegalStateException if neither a data directory nor {@code inMemory()} was set
         * @throws StorageException if the data directory is open in another engine (of this or another
         *         process), belongs to another replica id, or cannot be read (a damaged file)
         */
        public Cairn open() {
            return settings.open();
        }

        /** Tests only: an engine without files whose durable tier is {@code store} (one that fails on purpose). */
        Builder durableStore(LocalStore store) {
            settings.durableStore(store);
            return this;
        }
    }
}
