package dev.cairn.engine;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cairn.engine.clock.HybridClock;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.clock.WallClock;
import dev.cairn.engine.codec.ChangeJson;
import dev.cairn.engine.codec.ExportDocument;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.codec.MalformedDocumentException;
import dev.cairn.engine.codec.TransferProgress;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.GrowOnlyLog;
import dev.cairn.engine.crdt.LwwMap;
import dev.cairn.engine.crdt.Names;
import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.persist.Persister;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.FrameCodec;
import dev.cairn.engine.persist.Tier;
import dev.cairn.engine.section.SectionSpec;
import dev.cairn.engine.section.StandardSections;
import dev.cairn.engine.section.StoragePolicy;
import dev.cairn.engine.store.InMemoryLocalStore;
import dev.cairn.engine.store.LocalStore;
import dev.cairn.engine.store.TieredLocalStore;
import dev.cairn.engine.sync.internal.SyncPort;
import dev.cairn.engine.sync.internal.SyncPorts;
import dev.cairn.engine.value.FieldWrite;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
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

    private static final System.Logger LOG = System.getLogger(Cairn.class.getName());

    private final String replicaId;
    /** The builder's limit until a server's welcome says otherwise (SyncPort#serverMaxFrameBytes). */
    private volatile long maxFrameBytes;
    private final WallClock wall;
    private final HybridClock clock;
    private final Map<String, SectionSpec> sections;
    private final ReplicaState state;
    private final LocalStore durable;
    private final LocalStore session;
    private final Persister persister;
    private final FileLock dirLock;
    private final ConcurrentHashMap<String, StoragePolicy> keyPolicies = new ConcurrentHashMap<>();
    /** Keys whose app set a saveDelay: pushed when the user pauses, not per write (see Persister#recordHeld). */
    private final java.util.Set<String> heldKeys = ConcurrentHashMap.newKeySet();
    private final CopyOnWriteArrayList<ChangeListener> listeners = new CopyOnWriteArrayList<>();
    private final CopyOnWriteArrayList<Consumer<Throwable>> errorListeners = new CopyOnWriteArrayList<>();
    private final ReentrantLock writeLock = new ReentrantLock();
    private volatile boolean closed;
    /** App values to JSON and back: the builder's objectMapper, or the default one. */
    private final ValueMapper values;
    private final Lifecycle lifecycle = new Lifecycle(this::reportError);
    private volatile long cursor;
    /**
     * Set when turning a section's sync back on reset the cursor to 0: pages of a session that
     * started before must not move it up again, only a new session's catch-up from 0 may.
     */
    private volatile boolean cursorHeld;
    /** Sections whose sync the user switched off on this device (privacy switch), with the server-copy choice. */
    private final ConcurrentHashMap<String, SyncOff> syncOff = new ConcurrentHashMap<>();
    private final CopyOnWriteArrayList<Runnable> resyncListeners = new CopyOnWriteArrayList<>();

    /** A privacy switch in the off position; {@code deletedUpTo} is the stamp of the server-side clear (DELETE), else null. */
    private record SyncOff(ServerCopy serverCopy, Stamp deletedUpTo) {
    }

    private static final String SYNC_OFF_META = "sync-off";

    static {
        SyncPorts.install(cairn -> cairn.port);
    }

    /** The sync plumbing, for the sync client only (not part of the API: see SyncPorts). */
    private final SyncPort port = new Port();

    private final class Port implements SyncPort {
        public String replicaId() {
            return replicaId;
        }

        public Map<String, SectionSpec> sections() {
            return Cairn.this.sections();
        }

        public int applyRemote(List<Change> changes) {
            return Cairn.this.applyRemote(changes);
        }

        public int applyRemote(List<Change> changes, long cursor) {
            return Cairn.this.applyRemote(changes, cursor);
        }

        public long cursor() {
            return cursor;
        }

        public void resetCursor() {
            Cairn.this.resetCursor();
        }

        public long cursorForHello() {
            return Cairn.this.cursorForHello();
        }

        public NavigableMap<Long, Change> outbox(int limit) {
            return Cairn.this.outbox(limit);
        }

        public CompletableFuture<Void> acknowledge(Collection<Long> seqs) {
            return Cairn.this.acknowledge(seqs);
        }

        public int pendingChanges() {
            return Cairn.this.pendingChanges();
        }

        public CompletableFuture<Void> save() {
            return Cairn.this.save();
        }

        public Subscription onOutbox(Runnable listener) {
            return Cairn.this.onOutbox(listener);
        }

        public Subscription onResync(Runnable listener) {
            return Cairn.this.onResync(listener);
        }

        public Subscription onChange(ChangeListener listener) {
            return Cairn.this.onChange(listener);
        }

        public void setSyncConnected(boolean connected) {
            Cairn.this.setSyncConnected(connected);
        }

        public void serverMaxFrameBytes(long bytes) {
            if (bytes > 0) {
                maxFrameBytes = bytes;
            }
        }

        public Subscription beforeClose(Runnable listener) {
            return lifecycle.beforeClose(listener);
        }
    }

    private Cairn(Builder b, LocalStore durable, FileLock dirLock) {
        this.wall = b.wall;
        this.maxFrameBytes = b.maxFrameBytes;
        this.values = b.objectMapper == null ? ValueMapper.DEFAULT : new ValueMapper(b.objectMapper);
        this.sections = Map.copyOf(b.sections);
        this.state = new ReplicaState(name -> {
            SectionSpec spec = sections.get(name);
            return spec == null ? null : spec.kind();
        });
        this.durable = durable;
        this.session = new InMemoryLocalStore();
        this.dirLock = dirLock;
        HybridClock[] clockRef = new HybridClock[1];
        this.persister = new Persister(durable, session, () -> clockRef[0].last(), this::reportError);
        this.replicaId = resolveReplicaId(b.replicaId);
        this.clock = new HybridClock(wall, replicaId, b.maxClockAhead.toMillis());
        clockRef[0] = clock;
        long highWater = persister.load(change -> {
            if (sections.containsKey(change.section())) {
                state.apply(change);
                clock.restore(change.stamp().hlc());
            }
        });
        clock.restore(highWater);
        this.cursor = persister.storedCursor();
        loadSyncOff(persister.meta(SYNC_OFF_META));
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
        return state(key, values.type(type), defaultValue, StateOptions.defaults());
    }

    /**
     * A typed state handle whose storage, save timing, sync and validation come from
     * {@code options} (section {@code state} unless the options name another map section).
     *
     * @throws UnknownSectionException if the options name a section that is not registered, or a log section
     * @throws IllegalArgumentException if the key is not a valid key name
     */
    public <T> PersistentState<T> state(String key, Class<T> type, T defaultValue, StateOptions<T> options) {
        return state(key, values.type(type), defaultValue, options);
    }

    /**
     * {@link #state(String, Class, Object, StateOptions)} for a generic type, such as {@code List<Note>}.
     *
     * @throws UnknownSectionException if the options name a section that is not registered, or a log section
     * @throws IllegalArgumentException if the key is not a valid key name
     */
    public <T> PersistentState<T> state(String key, TypeReference<T> type, T defaultValue, StateOptions<T> options) {
        return state(key, values.type(type), defaultValue, options);
    }

    private <T> PersistentState<T> state(String key, JavaType type, T defaultValue, StateOptions<T> options) {
        Objects.requireNonNull(options, "options");
        String section = options.section() == null ? StandardSections.STATE : options.section();
        SectionSpec spec = spec(section, SectionKind.MAP);
        Names.checkKey(key, "key");
        if (key.indexOf('#') >= 0) {
            throw new IllegalArgumentException("invalid key '" + key + "': a state handle's key may not hold '#', because the keys '"
                    + key.substring(0, key.indexOf('#')) + "#...' hold the fields of the value stored under '" + key.substring(0, key.indexOf('#')) + "'");
        }
        StoragePolicy policy = options.applyTo(spec.policy());
        keyPolicies.put(Persister.pendingKey(section, key), policy);
        if (options.holdsPush()) {
            heldKeys.add(Persister.pendingKey(section, key));
        }
        return new PersistentState<>(this, section, key, type, defaultValue, options.validator(),
                options.mergeMode(), options.versionNumber(), options.migration());
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
        return locked(() -> {
            if (spec.kind() == SectionKind.MAP) {
                int live = state.map(section).liveSize();
                applyLocal(Change.Clear.wholeSection(section, clock.tick()));
                return live;
            }
            List<Change> changes = new ArrayList<>();
            for (String stream : state.log(section).streams()) {
                if (state.log(section).size(stream) > 0) {
                    changes.add(new Change.Clear(section, stream, clock.tick()));
                }
            }
            changes.forEach(c -> applyLocal(c));
            return changes.size();
        });
    }

    /**
     * Clears one stream of a log section (one chat conversation).
     *
     * @throws UnknownSectionException if no section of that name is registered, or it is a map section
     */
    public void clear(String section, String stream) {
        spec(section, SectionKind.LOG);
        Names.checkKey(stream, "stream");
        writeLocal(() -> new Change.Clear(section, stream, clock.tick()));
    }

    // ------------------------------------------------------------------ privacy switches

    /**
     * True if the section syncs from this device: registered with a syncing policy and not
     * switched off with {@link #disableSync}. (Keys given {@code sync(false)} stay local either way.)
     *
     * @throws UnknownSectionException if no section of that name is registered
     */
    public boolean isSyncing(String section) {
        return spec(section, null).policy().sync() && !syncOff.containsKey(section);
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
        Objects.requireNonNull(serverCopy, "serverCopy");
        SectionSpec spec = spec(section, null);
        return locked(() -> {
            SyncOff previous = syncOff.get(section);
            if (previous != null && (serverCopy == ServerCopy.KEEP || previous.serverCopy() == ServerCopy.DELETE)) {
                return CompletableFuture.<Void>completedFuture(null);
            }
            List<CompletableFuture<Void>> saved = new ArrayList<>();
            Stamp deletedUpTo = null;
            if (serverCopy == ServerCopy.DELETE) {
                List<Change> clears = new ArrayList<>();
                if (spec.kind() == SectionKind.MAP) {
                    clears.add(Change.Clear.wholeSection(section, clock.tick()));
                } else {
                    for (String stream : state.log(section).streams()) {
                        clears.add(new Change.Clear(section, stream, clock.tick()));
                    }
                }
                for (Change clear : clears) {
                    deletedUpTo = clear.stamp();
                    saved.add(persister.recordOutboxOnly(clear));
                }
                if (deletedUpTo == null) {
                    deletedUpTo = clock.tick(); // nothing here to clear; still the point "before the switch"
                }
            }
            syncOff.put(section, new SyncOff(serverCopy, deletedUpTo));
            saved.add(persister.queueMeta(SYNC_OFF_META, syncOffJson()));
            return StorageException.translated(CompletableFuture.allOf(saved.toArray(CompletableFuture[]::new)));
        });
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
        SectionSpec spec = spec(section, null);
        boolean[] resync = {false};
        CompletableFuture<Void> done = locked(() -> {
            SyncOff off = syncOff.remove(section);
            if (off == null) {
                return CompletableFuture.<Void>completedFuture(null);
            }
            CompletableFuture<Void> meta = persister.queueMeta(SYNC_OFF_META, syncOffJson());
            if (!spec.policy().sync()) {
                return StorageException.translated(meta); // registered local-only: the switch alone never made it sync
            }
            Stamp upTo = off.deletedUpTo();
            StoragePolicy policy = spec.policy();
            if (spec.kind() == SectionKind.MAP) {
                LwwMap map = state.map(section);
                for (Map.Entry<String, dev.cairn.engine.crdt.LwwEntry> e : map.sorted().entrySet()) {
                    Change.Put put = new Change.Put(section, e.getKey(), e.getValue().value(), e.getValue().stamp());
                    StoragePolicy keyPolicy = policyFor(put);
                    if (!keyPolicy.sync()) {
                        continue; // a key of its own local-only policy
                    }
                    if (upTo != null && put.stamp().compareTo(upTo) <= 0) {
                        if (!put.isDelete()) {
                            applyLocal(new Change.Put(section, put.key(), put.value(), clock.tick()));
                        }
                    } else {
                        persister.record(put, keyPolicy, true);
                    }
                }
                if (map.watermark() != null && (upTo == null || map.watermark().compareTo(upTo) > 0)) {
                    persister.record(Change.Clear.wholeSection(section, map.watermark()), policy, true);
                }
                if (upTo != null) {
                    applyServerClear(Change.Clear.wholeSection(section, upTo), policy);
                }
            } else {
                GrowOnlyLog log = state.log(section);
                for (String stream : log.streams()) {
                    Stamp mark = log.watermark(stream);
                    if (mark != null && (upTo == null || mark.compareTo(upTo) > 0)) {
                        persister.record(new Change.Clear(section, stream, mark), policy, true);
                    }
                    for (dev.cairn.engine.crdt.LogEntry entry : log.entries(stream)) {
                        if (upTo != null && entry.stamp().compareTo(upTo) <= 0) {
                            applyLocal(new Change.Append(section, stream, entry.value(), clock.tick()));
                        } else {
                            persister.record(new Change.Append(section, stream, entry.value(), entry.stamp()), policy, true);
                        }
                    }
                    if (upTo != null) {
                        applyServerClear(new Change.Clear(section, stream, upTo), policy);
                    }
                }
            }
            this.cursor = 0;
            this.cursorHeld = true;
            persister.recordCursor(0);
            resync[0] = true;
            return StorageException.translated(CompletableFuture.allOf(meta, persister.flush()));
        });
        if (resync[0]) {
            for (Runnable listener : resyncListeners) {
                try {
                    listener.run();
                } catch (RuntimeException e) {
                    reportError(e);
                }
            }
        }
        return done;
    }

    /**
     * Told when this replica must catch up from its (reset) cursor again, e.g. after
     * {@link #enableSync}: a connected sync client reconnects.
     */
    private Subscription onResync(Runnable listener) {
        Objects.requireNonNull(listener, "listener");
        resyncListeners.add(listener);
        return () -> resyncListeners.remove(listener);
    }

    /**
     * The cursor a new sync session sends in its {@code hello}; from then on that session's pages
     * may move the cursor again (see {@link #enableSync}).
     */
    private long cursorForHello() {
        cursorHeld = false;
        return cursor;
    }

    /** Applies here the server-side clear of a DELETE switch (the server has it already): hides the old copies. Lock held. */
    private void applyServerClear(Change.Clear clear, StoragePolicy policy) {
        if (state.apply(clear)) {
            persister.record(clear, policy, false);
            queuedEvents.get().add(new ChangeEvent(clear, ChangeEvent.Origin.LOCAL));
        }
    }

    private String syncOffJson() {
        Map<String, Map<String, String>> out = new TreeMap<>();
        syncOff.forEach((section, off) -> {
            Map<String, String> v = new TreeMap<>();
            v.put("serverCopy", off.serverCopy().name());
            if (off.deletedUpTo() != null) {
                v.put("deletedUpTo", off.deletedUpTo().toString());
            }
            out.put(section, v);
        });
        return Json.write(out);
    }

    private void loadSyncOff(String json) {
        if (json == null) {
            return;
        }
        try {
            Map<String, Map<String, String>> saved = Json.MAPPER.readValue(json,
                    new TypeReference<Map<String, Map<String, String>>>() { });
            saved.forEach((section, v) -> {
                if (sections.containsKey(section)) {
                    String mark = v.get("deletedUpTo");
                    syncOff.put(section, new SyncOff(ServerCopy.valueOf(v.get("serverCopy")), mark == null ? null : Stamp.parse(mark)));
                }
            });
        } catch (IOException | RuntimeException e) {
            throw new StorageException("damaged privacy switches in the local store: " + e.getMessage(), e);
        }
    }

    /** The whole state as a versioned JSON document that keeps stamps, so importing it merges. */
    public String exportData() {
        return ExportDocument.write(replicaId, Instant.ofEpochMilli(wall.millis()), state, sections.keySet());
    }

    /**
     * The chosen sections as an export document.
     *
     * @throws UnknownSectionException if a chosen section is not registered
     */
    public String exportData(Collection<String> chosen) {
        chosen.forEach(s -> spec(s, null));
        return ExportDocument.write(replicaId, Instant.ofEpochMilli(wall.millis()), state, chosen);
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
        checkOpen();
        chosen.forEach(s -> spec(s, null));
        Instant at = Instant.ofEpochMilli(wall.millis());
        writeLock.lock();
        try {
            ExportDocument.write(out, replicaId, at, state, chosen, progress);
        } finally {
            writeLock.unlock();
        }
    }

    /**
     * Merges an export document like changes from another replica: newer entries win, older ones
     * are ignored. The whole file is checked first; a corrupt or foreign file is refused with an
     * {@link ImportException} and nothing changes. Applied changes sync like local ones.
     */
    public ImportResult importData(String document) {
        checkOpen();
        List<Change> changes = checkImport(() -> ExportDocument.read(document, state::kind));
        return new ImportResult(changes.size(), merge(changes, ChangeEvent.Origin.IMPORT, false));
    }

    /**
     * {@link #importData(String)} from a stream read entry by entry; a file over {@code maxBytes}
     * (or truncated, corrupt, of another version) is refused and nothing changes. {@code progress}
     * gets bytes read of {@code totalBytes} (-1 if unknown).
     */
    public ImportResult importData(InputStream in, long maxBytes, long totalBytes, TransferProgress progress) {
        checkOpen();
        List<Change> changes = checkImport(() -> ExportDocument.read(in, maxBytes, totalBytes, state::kind, progress));
        return new ImportResult(changes.size(), merge(changes, ChangeEvent.Origin.IMPORT, false));
    }

    /**
     * Restores a backup: merges it as {@link #importData(String)} does, then writes again (with new
     * stamps) every entry of the file that a later delete or clear hides here, so "export, clear,
     * restore" brings the state back on every device. All or nothing, like an import.
     */
    public ImportResult restoreData(String document) {
        checkOpen();
        return restore(checkImport(() -> ExportDocument.read(document, state::kind)));
    }

    /** {@link #restoreData(String)} from a stream, with the limits of {@link #importData(InputStream, long, long, TransferProgress)}. */
    public ImportResult restoreData(InputStream in, long maxBytes, long totalBytes, TransferProgress progress) {
        checkOpen();
        return restore(checkImport(() -> ExportDocument.read(in, maxBytes, totalBytes, state::kind, progress)));
    }

    private ImportResult restore(List<Change> changes) {
        // One lock for merge and re-writes, so no write of another thread lands in between.
        return locked(() -> {
            int applied = merge(changes, ChangeEvent.Origin.IMPORT, false);
            int restored = 0;
            for (Change change : changes) {
                if (change instanceof Change.Put p && !p.isDelete()) {
                    if (state.map(p.section()).value(p.key()) == null) {
                        put(p.section(), p.key(), p.value());
                        restored++;
                    }
                } else if (change instanceof Change.Append append) {
                    // The same text already there is the same entry restored before (entries carry their own time).
                    boolean present = state.log(append.section()).entries(append.stream()).stream()
                            .anyMatch(e -> e.stamp().equals(append.stamp()) || e.value().equals(append.value()));
                    if (!present) {
                        append(append.section(), append.stream(), append.value());
                        restored++;
                    }
                }
            }
            return new ImportResult(changes.size(), applied, restored);
        });
    }

    /** Reads an import and checks every stamp against the clock bound, before anything is applied. */
    private List<Change> checkImport(Supplier<List<Change>> read) {
        List<Change> changes;
        try {
            changes = read.get();
        } catch (MalformedDocumentException e) {
            throw new ImportException(e.getMessage(), e);
        }
        for (Change change : changes) {
            try {
                clock.check(change.stamp());
            } catch (RuntimeException e) {
                throw new ImportException("import refused: " + e.getMessage(), e);
            }
            try {
                checkFits(change);
            } catch (ChangeTooLargeException e) {
                throw new ImportException("import refused: " + e.getMessage(), e);
            }
        }
        return changes;
    }

    /**
     * Merges changes received from another replica (the sync client's entry point). All are
     * checked first (known sections, clock bound), so a bad batch changes nothing. Returns how
     * many altered the state; remote-change listeners see those.
     */
    private int applyRemote(List<Change> changes) {
        checkOpen();
        changes = withoutSyncOff(changes);
        for (Change change : changes) {
            state.check(change);
            clock.check(change.stamp());
        }
        return merge(changes, ChangeEvent.Origin.REMOTE, false);
    }

    /**
     * Applies a page of server changes and advances the sync cursor to {@code cursor}. The cursor
     * is saved no earlier than the changes it covers (PROTOCOL.md 3.2).
     */
    private int applyRemote(List<Change> changes, long cursor) {
        checkOpen();
        changes = withoutSyncOff(changes);
        for (Change change : changes) {
            state.check(change);
        }
        // No skew check here: the server already refused stamps too far ahead of ITS clock, and a
        // device whose own clock lags must not stall on changes everyone else has accepted.
        List<Change> page = changes;
        return locked(() -> {
            if (page.stream().anyMatch(c -> c instanceof Change.Clear)) {
                // Clears purge stored records and outbox entries: the one-by-one path does that.
                int applied = merge(page, ChangeEvent.Origin.REMOTE, true);
                if (advanceCursor(cursor)) {
                    persister.recordCursor(cursor);
                }
                return applied;
            }
            return mergePage(page, cursor);
        });
    }

    /** Moves the cursor forward unless a resync holds it at 0; true if it moved. Under the write lock. */
    private boolean advanceCursor(long to) {
        if (to > this.cursor && !cursorHeld) {
            this.cursor = to;
            return true;
        }
        return false;
    }

    /**
     * A page of server changes without clears: merged into memory, and the winners written to
     * their tiers with the cursor by one commit ({@link Persister#recordRemotePage}), with no
     * queued record per change. Under the write lock.
     */
    private int mergePage(List<Change> page, long cursor) {
        List<Change> won = new ArrayList<>(page.size());
        List<StoragePolicy> policies = new ArrayList<>(page.size());
        List<ChangeEvent> events = queuedEvents.get();
        for (Change change : page) {
            clock.advance(change.stamp());
            if (state.apply(change)) {
                won.add(change);
                policies.add(policyFor(change));
                events.add(new ChangeEvent(change, ChangeEvent.Origin.REMOTE));
            } else {
                persister.coverRemote(change);
            }
        }
        persister.recordRemotePage(won, policies, advanceCursor(cursor) ? cursor : -1);
        return won.size();
    }

    /** Server changes of sections whose sync is switched off here are not applied (see {@link #disableSync}). */
    private List<Change> withoutSyncOff(List<Change> changes) {
        if (syncOff.isEmpty()) {
            return changes;
        }
        List<Change> out = new ArrayList<>(changes.size());
        for (Change change : changes) {
            if (!syncOff.containsKey(change.section())) {
                out.add(change);
            }
        }
        return out;
    }

    /** The highest server seq this replica has applied (PROTOCOL.md 1.3). */
    public long cursor() {
        return cursor;
    }

    /**
     * Forgets the sync cursor, so the next connection catches up from the start (used when the
     * server's data was reset and it is behind this replica's cursor).
     */
    private void resetCursor() {
        locked(() -> {
            this.cursor = 0;
            this.cursorHeld = false;
            persister.recordCursor(0);
            return null;
        });
    }

    /** Told (on the persistence thread) when changes enter the outbox, while their commit runs. */
    private Subscription onOutbox(Runnable listener) {
        Runnable remove = persister.onOutboxGrew(listener);
        return remove::run;
    }

    /** While a sync client is connected, changes to push are committed at once instead of after saveDelay. */
    private void setSyncConnected(boolean connected) {
        persister.setUrgentOutbox(connected);
        if (connected) {
            persister.flushAutoSaved(); // drafts with autoSave off stay local until the app saves them
        }
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
        Objects.requireNonNull(listener, "listener");
        listeners.add(listener);
        return () -> listeners.remove(listener);
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
        Objects.requireNonNull(listener, "listener");
        errorListeners.add(listener);
        return () -> errorListeners.remove(listener);
    }

    /** Bytes held in each tier, live entries per section and what is not yet saved or acknowledged, now. */
    public Stats stats() {
        Map<Tier, Long> bytes = new EnumMap<>(Tier.class);
        long memory = 0;
        Map<String, Integer> entries = new TreeMap<>();
        for (SectionSpec spec : sections.values()) {
            entries.put(spec.name(), state.liveSize(spec.name()));
            memory += MemoryEstimate.of(state, spec);
        }
        bytes.put(Tier.MEMORY, memory);
        bytes.put(Tier.SESSION, session.sizeBytes());
        bytes.put(Tier.DURABLE, durable.sizeBytes());
        return new Stats(bytes, entries, pendingChanges(), persister.pendingCount());
    }

    /** Local changes the server has not acknowledged yet (committed outbox plus queued ones). */
    public int pendingChanges() {
        return persister.unacknowledgedCount();
    }

    /** Outbox entries (sequence number to change), oldest first: committed or being committed. */
    private NavigableMap<Long, Change> outbox(int limit) {
        return persister.outbox(limit);
    }

    /** Removes outbox entries the server has acknowledged. */
    private CompletableFuture<Void> acknowledge(Collection<Long> seqs) {
        checkOpen();
        return persister.acknowledge(seqs);
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
        return new TreeMap<>(sections);
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
        writeLock.lock();
        try {
            closed = true;
        } finally {
            writeLock.unlock();
        }
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
                releaseLock(dirLock);
            }
        }
    }

    // ------------------------------------------------------------------ internals used by the handles

    ReplicaState state() {
        return state;
    }

    /** How app values become JSON and back (the builder's objectMapper or the default). */
    ValueMapper values() {
        return values;
    }

    /** Writes (or with {@code json == null} deletes) one map key with a fresh stamp. */
    Change.Put put(String section, String key, String json) {
        Names.checkKey(key, "key");
        String value = json == null ? null : checkedValue(json);
        return (Change.Put) writeLocal(() -> new Change.Put(section, key, value, clock.tick()));
    }

    /**
     * Writes (null: deletes) several keys of one section as one local write: every change is
     * checked before any applies, each gets its own fresh stamp in the given order, and they are
     * saved and pushed together (a typed value's field entries, spec/vectors/values/README.md).
     */
    void putAll(String section, List<FieldWrite.Op> ops) {
        locked(() -> {
            List<Change> changes = new ArrayList<>(ops.size());
            for (FieldWrite.Op op : ops) {
                Names.checkKey(op.key(), "key");
                Change.Put put = new Change.Put(section, op.key(), op.json() == null ? null : checkedValue(op.json()), clock.tick());
                if (policyFor(put).sync()) {
                    checkFits(put);
                }
                changes.add(put);
            }
            changes.forEach(this::applyLocal);
            persister.alignDeadlines(changes);
            return null;
        });
    }

    /**
     * PROTOCOL.md 1.2 at write time: a value must come back exactly as written, so one holding a
     * number the server would refuse (NaN, an infinity, -0, a long or decimal a double would change)
     * is refused here, before it reaches the outbox. Returns the canonical text.
     */
    private static String checkedValue(String json) {
        try {
            return Json.canonicalValue(json);
        } catch (IllegalArgumentException e) {
            throw new ValidationException(e.getMessage());
        }
    }

    Change.Append append(String section, String stream, String json) {
        Names.checkKey(stream, "stream");
        String value = checkedValue(json);
        return (Change.Append) writeLocal(() -> new Change.Append(section, stream, value, clock.tick()));
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
            events = drainEvents();
            writeLock.unlock();
        }
        fire(events);
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
        reportError(error);
    }

    WallClock wall() {
        return wall;
    }

    // ------------------------------------------------------------------ write path

    /** Events produced under the write lock, fired after it is released (same thread). */
    private final ThreadLocal<List<ChangeEvent>> queuedEvents = ThreadLocal.withInitial(ArrayList::new);

    private Change writeLocal(Supplier<Change> make) {
        return locked(() -> {
            Change change = make.get();
            if (policyFor(change).sync()) {
                checkFits(change);
            }
            applyLocal(change);
            return change;
        });
    }

    /** The bytes of an empty push frame with the longest batch id. */
    private static final long PUSH_OVERHEAD_BYTES =
            FrameCodec.encode(new Frame.Push(Long.MIN_VALUE, List.of())).getBytes(StandardCharsets.UTF_8).length;

    /** Refuses a change that no push frame of maxFrameBytes could carry: it would block the outbox. */
    private void checkFits(Change change) {
        String json = ChangeJson.encode(change);
        if (PUSH_OVERHEAD_BYTES + json.length() * 3L <= maxFrameBytes) {
            return; // 3 bytes per UTF-16 char bound the UTF-8 size: no counting needed
        }
        long bytes = PUSH_OVERHEAD_BYTES + json.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > maxFrameBytes) {
            throw new ChangeTooLargeException("change-too-large: " + change.section() + "/" + change.target() + " needs a push frame of "
                    + bytes + " bytes, more than the " + maxFrameBytes + " bytes a server frame may hold; nothing was written",
                    bytes, maxFrameBytes);
        }
    }

    /** The frame limit writes are checked against: the builder's maxFrameBytes, then the server's (welcome). */
    public long maxFrameBytes() {
        return maxFrameBytes;
    }

    /** Applies a fresh local change (it always wins: its stamp is newer than anything seen). Lock held. */
    private void applyLocal(Change change) {
        if (state.apply(change)) {
            StoragePolicy policy = policyFor(change);
            if (policy.sync() && change instanceof Change.Put put && heldKeys.contains(Persister.pendingKey(put.section(), handleKey(put.key())))) {
                persister.recordHeld(change, policy);
            } else {
                persister.record(change, policy, policy.sync());
            }
            queuedEvents.get().add(new ChangeEvent(change, ChangeEvent.Origin.LOCAL));
        }
    }

    private int merge(List<Change> changes, ChangeEvent.Origin origin, boolean trustedStamps) {
        return locked(() -> {
            int applied = 0;
            for (Change change : changes) {
                if (trustedStamps) {
                    clock.advance(change.stamp());
                } else {
                    clock.observe(change.stamp());
                }
                if (state.apply(change)) {
                    applied++;
                    StoragePolicy policy = policyFor(change);
                    if (origin == ChangeEvent.Origin.REMOTE) {
                        persister.recordRemote(change, policy);
                    } else {
                        // Imports reach the server like local writes.
                        persister.record(change, policy, policy.sync());
                    }
                    queuedEvents.get().add(new ChangeEvent(change, origin));
                } else if (origin == ChangeEvent.Origin.REMOTE) {
                    persister.coverRemote(change);
                }
            }
            return applied;
        });
    }

    private StoragePolicy policyFor(Change change) {
        StoragePolicy policy = null;
        if (change instanceof Change.Put put && !keyPolicies.isEmpty()) {
            policy = keyPolicies.get(Persister.pendingKey(put.section(), put.key()));
            if (policy == null && put.key().indexOf('#') > 0) {
                policy = keyPolicies.get(Persister.pendingKey(put.section(), handleKey(put.key())));
            }
        }
        if (policy == null) {
            policy = sections.get(change.section()).policy();
        }
        // A privacy switch turned off: the write stays on this device.
        return syncOff.containsKey(change.section()) ? policy.withSync(false) : policy;
    }

    /** The handle key a field entry {@code K#a#b} belongs to ({@code K}); any other key itself. */
    private static String handleKey(String key) {
        int hash = key.indexOf('#');
        return hash > 0 ? key.substring(0, hash) : key;
    }

    private List<ChangeEvent> drainEvents() {
        if (writeLock.getHoldCount() > 1) {
            return List.of(); // nested: the outermost call fires
        }
        List<ChangeEvent> queued = queuedEvents.get();
        if (queued.isEmpty()) {
            return List.of();
        }
        List<ChangeEvent> events = new ArrayList<>(queued);
        queued.clear();
        return events;
    }

    private void fire(List<ChangeEvent> events) {
        for (ChangeEvent event : events) {
            for (ChangeListener listener : listeners) {
                try {
                    listener.onChange(event);
                } catch (RuntimeException e) {
                    listenerFailed(e);
                }
            }
        }
    }

    /** A background failure (a save, a before-close step): to the onError listeners, or logged if there are none. */
    private void reportError(Throwable error) {
        Throwable reported = StorageException.of(error);
        if (errorListeners.isEmpty()) {
            LOG.log(System.Logger.Level.WARNING, "cairn: " + reported.getMessage());
        }
        tellErrorListeners(reported);
    }

    /**
     * A change listener threw: a bug in the app, so it is logged with its stack trace whether or
     * not onError listeners hear it too; the other listeners still run.
     */
    private void listenerFailed(RuntimeException error) {
        LOG.log(System.Logger.Level.WARNING, "cairn: a change listener failed: " + error, error);
        tellErrorListeners(error);
    }

    private void tellErrorListeners(Throwable error) {
        for (Consumer<Throwable> l : errorListeners) {
            try {
                l.accept(error);
            } catch (RuntimeException e) {
                // logged, and it must not hide the next one
                LOG.log(System.Logger.Level.WARNING, "cairn: an error listener failed: " + e, e);
            }
        }
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

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("engine is closed");
        }
    }

    private String resolveReplicaId(String requested) {
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

    /**
     * Data directories this process has locked. Checked before the lock file is opened again:
     * OS file locks belong to the process, so closing a second channel on the lock file (after a
     * refused open) would silently release the first engine's lock for other processes.
     */
    private static final Map<Path, FileLock> LOCKED_DIRS = new java.util.HashMap<>();

    private static void releaseLock(FileLock lock) {
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

    /**
     * Opens a {@link Cairn} engine. Each setting may be given once; a bad or repeated setting
     * is an {@link IllegalArgumentException} or {@link IllegalStateException} naming it.
     */
    public static final class Builder {

        private Path dataDir;
        private boolean inMemory;
        private String replicaId;
        private WallClock wall;
        private Duration maxClockAhead;
        private long maxFrameBytes;
        private ObjectMapper objectMapper;
        private boolean saveOnShutdown;
        private boolean saveOnShutdownSet;
        private LocalStore durableStore; // tests only: see durableStore(LocalStore)
        private final Map<String, SectionSpec> sections = new LinkedHashMap<>();
        private final java.util.Set<String> customized = new java.util.HashSet<>();

        private Builder() {
            StandardSections.ALL.forEach(s -> sections.put(s.name(), s));
        }

        /** The directory holding the durable store ({@code cairn.journal}) and its lock file ({@code cairn.lock}). */
        public Builder dataDir(Path dir) {
            once(this.dataDir == null && !inMemory, "dataDir (or inMemory)");
            this.dataDir = Objects.requireNonNull(dir, "dataDir");
            return this;
        }

        /** No data directory: the durable tier lives in memory (tests, ephemeral replicas). */
        public Builder inMemory() {
            once(this.dataDir == null && !inMemory, "dataDir (or inMemory)");
            this.inMemory = true;
            return this;
        }

        /** This device's replica id (1-64 of A-Z a-z 0-9 - _); generated and stored if not given. */
        public Builder replicaId(String id) {
            once(this.replicaId == null, "replicaId");
            if (id == null || !Stamp.isValidReplicaId(id)) {
                throw new IllegalArgumentException("replicaId '" + id + "' is invalid: use 1-64 characters of A-Z, a-z, 0-9, '-' and '_'");
            }
            this.replicaId = id;
            return this;
        }

        /** The wall clock stamps are based on (tests inject a manual one). */
        public Builder wallClock(WallClock clock) {
            once(this.wall == null, "wallClock");
            this.wall = Objects.requireNonNull(clock, "wallClock");
            return this;
        }

        /** How far ahead of this device's clock a remote stamp may be; default 1 minute. */
        public Builder maxClockAhead(Duration bound) {
            once(this.maxClockAhead == null, "maxClockAhead");
            if (bound == null || bound.isNegative()) {
                throw new IllegalArgumentException("maxClockAhead must be zero or positive: " + bound);
            }
            this.maxClockAhead = bound;
            return this;
        }

        /**
         * The largest push frame a server takes (PROTOCOL.md 2), assumed until a sync client's
         * {@code welcome.maxFrameBytes} says otherwise; default 1 MiB. A syncing write whose push
         * frame alone is larger is refused with a {@link ChangeTooLargeException}, and so is an
         * import holding one.
         */
        public Builder maxFrameBytes(long bytes) {
            once(this.maxFrameBytes == 0, "maxFrameBytes");
            if (bytes < 256) {
                throw new IllegalArgumentException("maxFrameBytes must be at least 256, was " + bytes);
            }
            this.maxFrameBytes = bytes;
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
            once(this.objectMapper == null, "objectMapper");
            this.objectMapper = Objects.requireNonNull(mapper, "objectMapper");
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
            once(!saveOnShutdownSet, "saveOnShutdown");
            this.saveOnShutdownSet = true;
            this.saveOnShutdown = enabled;
            return this;
        }

        /** Registers an app section with the default policy (durable, syncing). */
        public Builder section(String name, SectionKind kind) {
            return section(name, kind, StoragePolicy.DEFAULT);
        }

        /** Registers an app section, or changes a standard section's policy (same kind only). */
        public Builder section(String name, SectionKind kind, StoragePolicy policy) {
            SectionSpec spec = new SectionSpec(name, kind, policy);
            once(customized.add(name), "section '" + name + "'");
            SectionSpec existing = sections.get(name);
            if (existing != null && existing.kind() != kind) {
                throw new IllegalArgumentException("section '" + name + "' is a standard " + existing.kind().wireName()
                        + " section; it cannot be registered as a " + kind.wireName() + " section");
            }
            sections.put(name, spec);
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
            if (dataDir == null && !inMemory) {
                throw new IllegalStateException("set dataDir(path) for a durable engine, or inMemory() for one without files");
            }
            if (wall == null) {
                wall = WallClock.system();
            }
            if (maxClockAhead == null) {
                maxClockAhead = Duration.ofMinutes(1);
            }
            if (maxFrameBytes == 0) {
                maxFrameBytes = Frame.Welcome.DEFAULT_MAX_FRAME_BYTES;
            }
            if (inMemory) {
                try {
                    return new Cairn(this, durableStore != null ? durableStore : new InMemoryLocalStore(), null);
                } catch (RuntimeException e) {
                    throw StorageException.of(e);
                }
            }
            FileLock lock = lockDirectory(dataDir);
            LocalStore store = null;
            try {
                store = TieredLocalStore.open(dataDir);
                return new Cairn(this, store, lock);
            } catch (RuntimeException e) {
                if (store != null) {
                    store.close();
                }
                releaseLock(lock);
                throw StorageException.of(e);
            }
        }

        /** Tests only: an engine without files whose durable tier is {@code store} (one that fails on purpose). */
        Builder durableStore(LocalStore store) {
            inMemory();
            this.durableStore = Objects.requireNonNull(store, "store");
            return this;
        }

        private static FileLock lockDirectory(Path dir) {
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

        private static void once(boolean firstTime, String setting) {
            if (!firstTime) {
                throw new IllegalStateException(setting + " was already set");
            }
        }
    }
}
