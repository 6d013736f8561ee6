package dev.cairn.engine;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cairn.engine.codec.ChangeJson;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.LwwEntry;
import dev.cairn.engine.section.SpaceSections;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The local replica of one shared space (PROTOCOL.md 8), got with {@link Cairn#space(String)}:
 * sections of the same names and kinds as the user's own, read and written with the same API,
 * stored in their own durable store with their own sync cursor and outbox, and synced over the
 * user's {@link dev.cairn.engine.sync.SyncClient} socket.
 *
 * <pre>{@code
 * Space trip = cairn.space("sp-7f3k");
 * trip.map("state").put("destination", "Lisbon");      // syncs to every member
 * trip.members();                                       // who is in it, read-only
 * }</pre>
 *
 * <p>The space's {@code members} section is the server's: {@link #members()} reads it, and a
 * local write of it throws a {@link ValidationException}. The server checks the user's role when
 * it commits a push: changes it refuses ({@code forbidden}, {@code not-a-member}) are not sent
 * again and stay visible here, see {@link #refusedChanges()}. When the user leaves the space (or
 * is removed, or the space is deleted) the copy is kept read-only or dropped, as the sync client's
 * {@link LeftSpaceCopy} option says.
 *
 * <p>Space data is readable by the server: end-to-end encryption
 * ({@link dev.cairn.engine.sync.SyncClient.Builder#endToEnd}) covers the user's own sections only.
 * Thread-safe, like {@link Cairn}.
 */
public final class Space {

    private final String id;
    private final Cairn user;
    private final Cairn engine;
    private final List<RefusedChange> refused = new ArrayList<>(); // guarded by this
    private volatile String droppedReason;
    /** This replica's presence (compact JSON), or null. */
    private volatile String ownPresence;
    /** Other replicas present, by "user\u0000replica", sorted. */
    private final java.util.TreeMap<String, SpacePresence> peers = new java.util.TreeMap<>(); // guarded by this
    private final java.util.concurrent.CopyOnWriteArrayList<java.util.function.Consumer<List<SpacePresence>>> presenceListeners =
            new java.util.concurrent.CopyOnWriteArrayList<>();

    Space(String id, Cairn user, Cairn engine) {
        this.id = id;
        this.user = user;
        this.engine = engine;
        loadRefused();
    }

    /** The space id. */
    public String id() {
        return id;
    }

    /**
     * The user's membership of this space from the user's {@code spaces} section as last synced,
     * or null if it has none (not a member, not synced yet, or left).
     */
    public SpaceMembership membership() {
        return user.spaces().stream().filter(m -> m.id().equals(id)).findFirst().orElse(null);
    }

    /** The space's members, from its read-only {@code members} section as last synced, sorted by user id. */
    public List<SpaceMember> members() {
        List<SpaceMember> out = new ArrayList<>();
        for (Map.Entry<String, LwwEntry> e : engine().state().map(SpaceSections.MEMBERS).sorted().entrySet()) {
            if (!e.getValue().isTombstone()) {
                out.add(new SpaceMember(e.getKey(), SpaceReplicas.parse(e.getValue().value()).path("role").asText("")));
            }
        }
        return List.copyOf(out);
    }

    // ------------------------------------------------------------------ the section API, as on Cairn

    /** As {@link Cairn#state(String, Class, Object)}, in this space. */
    public <T> PersistentState<T> state(String key, Class<T> type, T defaultValue) {
        return engine().state(key, type, defaultValue);
    }

    /** As {@link Cairn#state(String, Class, Object, StateOptions)}, in this space. */
    public <T> PersistentState<T> state(String key, Class<T> type, T defaultValue, StateOptions<T> options) {
        return engine().state(key, type, defaultValue, options);
    }

    /** As {@link Cairn#state(String, TypeReference, Object, StateOptions)}, in this space. */
    public <T> PersistentState<T> state(String key, TypeReference<T> type, T defaultValue, StateOptions<T> options) {
        return engine().state(key, type, defaultValue, options);
    }

    /** As {@link Cairn#map(String)}, in this space ({@code members} reads, but its writes throw). */
    public MapSection map(String section) {
        return engine().map(section);
    }

    /** As {@link Cairn#log(String)}, in this space. */
    public LogSection log(String section) {
        return engine().log(section);
    }

    /** As {@link Cairn#cards()}, in this space. */
    public Cards cards() {
        return engine().cards();
    }

    /** As {@link Cairn#components()}, in this space. */
    public Components components() {
        return engine().components();
    }

    /** As {@link Cairn#chat()}, in this space: a conversation every member sees. */
    public Chat chat() {
        return engine().chat();
    }

    /** As {@link Cairn#memory()}, in this space. */
    public Memory memory() {
        return engine().memory();
    }

    /** As {@link Cairn#progress()}, in this space. */
    public Progress progress() {
        return engine().progress();
    }

    /** As {@link Cairn#clear(String)}, in this space: clears the section for every member. */
    public int clear(String section) {
        return engine().clear(section);
    }

    /** As {@link Cairn#clear(String, String)}, in this space. */
    public void clear(String section, String stream) {
        engine().clear(section, stream);
    }

    /** Subscribes to every visible change of this space (local, or from any member). */
    public Subscription onChange(ChangeListener listener) {
        return engine().onChange(listener);
    }

    /** The highest seq of this space this replica has applied (its own cursor, PROTOCOL.md 8.1). */
    public long cursor() {
        return engine().cursor();
    }

    /** Saves everything queued in this space now; as {@link Cairn#save()}. */
    public CompletableFuture<Void> save() {
        return engine().save();
    }

    /** Local changes of this space the server has not acknowledged yet. */
    public int pendingChanges() {
        return engine().pendingChanges();
    }

    /** The canonical encoding of this space's state: equal on two replicas exactly when they have converged. */
    public String canonicalState() {
        return engine().canonicalState();
    }

    /** This space's sections as an export document (as {@link Cairn#exportData()}). */
    public String exportData() {
        return engine().exportData();
    }

    // ------------------------------------------------------------------ refusals and leaving

    /**
     * The changes of this space the server refused for good ({@code forbidden}: e.g. the user is
     * a viewer; {@code not-a-member}), oldest first. They are not sent again, and stay in this
     * device's copy until newer data overwrites them; the list survives restarts until
     * {@link #dropRefused()}. Each refusal is also told to {@link Cairn#onError} listeners as a
     * {@link SpaceRefusedException}.
     */
    public synchronized List<RefusedChange> refusedChanges() {
        return List.copyOf(refused);
    }

    /**
     * Forgets the refused changes (the app has shown them) and rolls their values back: each that
     * still holds its key here leaves this copy (memory and disk), and the space is taken from the
     * server again from cursor 0 (at once when connected: the session starts over), so the value
     * it replaced comes back and the copy shows the space as the server has it. A kept copy of a
     * left space only loses them. Returns how many there were.
     */
    public int dropRefused() {
        List<RefusedChange> dropped;
        synchronized (this) {
            dropped = List.copyOf(refused);
            refused.clear();
        }
        saveRefused();
        Cairn e = engine();
        boolean forgot = e.locked(() -> {
            boolean any = false;
            for (RefusedChange r : dropped) {
                any |= forget(e, r.change());
            }
            if (any && e.leftReason == null) {
                e.port.resyncFromZero();
            }
            return any;
        });
        if (forgot && e.leftReason == null) {
            user.spaceReplicas.resync();
        }
        return dropped.size();
    }

    /** Forgets a refused change that still wins in {@code e} (under its write lock); true if it did. */
    private static boolean forget(Cairn e, Change c) {
        boolean gone;
        if (c instanceof Change.Put put) {
            gone = e.state.map(put.section()).forget(put.key(), put.stamp());
            if (gone) { // the key's value is gone: listeners see it as a delete until the server's comes back
                e.listeners.queued().add(new ChangeEvent(new Change.Put(put.section(), put.key(), null, put.stamp()), ChangeEvent.Origin.REMOTE));
            }
        } else if (c instanceof Change.Append a) {
            gone = e.state.log(a.section()).forget(a.stream(), a.stamp());
        } else {
            gone = false; // a clear is not rolled back: what it hid comes back only with newer data
        }
        if (gone) {
            e.persister.forget(c);
        }
        return gone;
    }

    /**
     * Why the user's membership of this space ended ({@code removed}, {@code left}, {@code deleted},
     * {@code not-a-member}) when its copy was kept read-only; null while the user is a member.
     */
    public String leftReason() {
        String dropped = droppedReason;
        return dropped != null ? dropped : engine.leftReason;
    }

    /** Whether this copy was dropped ({@link LeftSpaceCopy#DROP}): then every method but {@link #id()} and {@link #leftReason()} throws. */
    public boolean isDropped() {
        return droppedReason != null;
    }

    // ------------------------------------------------------------------ presence (PROTOCOL.md 8.6)

    /** Most bytes of a presence state's compact JSON. */
    public static final int MAX_PRESENCE_BYTES = 1024;

    /**
     * Sets this replica's presence in the space (e.g. {@code {"cursor":"item-3"}}), or withdraws it
     * with {@code null}. Ephemeral: never stored; a connected sync client sends it at once and
     * again every 2 s while it is set, and sends it when it connects.
     *
     * @throws ValidationException if the state is not JSON, or over {@value #MAX_PRESENCE_BYTES} bytes compact
     */
    public void setPresence(String json) {
        engine();
        String state = null;
        if (json != null) {
            state = WritePath.checkedValue(json);
            if (state.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > MAX_PRESENCE_BYTES) {
                throw new ValidationException("a presence state may have at most " + MAX_PRESENCE_BYTES + " bytes of compact JSON");
            }
        }
        ownPresence = state;
        user.spaceReplicas.ownPresenceChanged(id);
    }

    /** This replica's own presence (compact JSON), or null if it has none. */
    public String ownPresence() {
        return ownPresence;
    }

    /** The other replicas present in the space now, as the sync client last heard, sorted by user then replica. */
    public synchronized List<SpacePresence> presence() {
        return List.copyOf(peers.values());
    }

    /** Calls {@code listener} (on the sync thread) with {@link #presence()} whenever it changes. */
    public Subscription onPresence(java.util.function.Consumer<List<SpacePresence>> listener) {
        java.util.Objects.requireNonNull(listener, "listener");
        presenceListeners.add(listener);
        return () -> presenceListeners.remove(listener);
    }

    void peerPresence(String peerUser, String replica, String state) {
        List<SpacePresence> now;
        synchronized (this) {
            String key = peerUser + "\u0000" + replica;
            boolean changed = state == null ? peers.remove(key) != null
                    : !new SpacePresence(peerUser, replica, state).equals(peers.put(key, new SpacePresence(peerUser, replica, state)));
            if (!changed) {
                return;
            }
            now = List.copyOf(peers.values());
        }
        firePresence(now);
    }

    void clearPresence() {
        synchronized (this) {
            if (peers.isEmpty()) {
                return;
            }
            peers.clear();
        }
        firePresence(List.of());
    }

    private void firePresence(List<SpacePresence> now) {
        for (var l : presenceListeners) {
            try {
                l.accept(now);
            } catch (RuntimeException e) {
                user.report(e);
            }
        }
    }

    // ------------------------------------------------------------------ for the engine and the sync client

    /** The space's engine; {@link IllegalStateException} once the copy was dropped. */
    Cairn engine() {
        String dropped = droppedReason;
        if (dropped != null) {
            throw new IllegalStateException("space '" + id + "' was left (" + dropped + ") and its local copy dropped");
        }
        return engine;
    }

    void addRefused(String code, List<Change> changes, String message) {
        List<RefusedChange> added = changes.stream().map(c -> new RefusedChange(code, c)).toList();
        synchronized (this) {
            refused.addAll(added);
        }
        saveRefused();
        user.report(new SpaceRefusedException(id, code, added, message));
    }

    /** The space was left and the copy kept: read-only from now on, cursor dropped. */
    void markLeft(String reason) {
        engine.leftReason = reason;
        engine.persister.queueMeta(SpaceReplicas.LEFT_META, reason);
        engine.port.resetCursor();
    }

    /** The user is a member again (a kept copy of a space left before): writable, catching up from 0. */
    void rejoined() {
        if (engine.leftReason != null) {
            engine.leftReason = null;
            engine.persister.queueMeta(SpaceReplicas.LEFT_META, "");
        }
    }

    /** The space was left and its copy dropped: the engine closes (its files are deleted next). */
    void dropped(String reason) {
        droppedReason = reason;
        engine.close();
    }

    private void saveRefused() {
        ArrayNode list = Json.MAPPER.createArrayNode();
        synchronized (this) {
            for (RefusedChange r : refused) {
                ObjectNode o = list.addObject();
                o.put("code", r.code());
                o.put("change", ChangeJson.encode(r.change()));
            }
        }
        engine.persister.queueMeta(SpaceReplicas.REFUSED_META, Json.write(list));
    }

    private void loadRefused() {
        String stored = engine.persister.meta(SpaceReplicas.REFUSED_META);
        if (stored == null || stored.isEmpty()) {
            return;
        }
        try {
            for (JsonNode o : Json.MAPPER.readTree(stored)) {
                refused.add(new RefusedChange(o.path("code").asText(), ChangeJson.decode(o.path("change").asText())));
            }
        } catch (IOException | RuntimeException e) {
            user.report(new StorageException("the refused changes of space '" + id + "' could not be read: " + e.getMessage(), e));
        }
    }
}
