package dev.cairn.server.presence;

import dev.cairn.engine.protocol.Frame;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Who is present in each space on this node (PROTOCOL.md 8.6): per space, per user and replica,
 * the last state and when it was last refreshed. Never stored. A change (set, changed, withdrawn,
 * dropped when its socket closed, expired) is passed once to {@code broadcast}, which gives it to
 * the sessions of the space's members on this node; an unchanged state only refreshes the entry.
 *
 * <p>Across nodes: every change made here, and a refresh at most once a second, is forwarded to
 * the other nodes ({@link #forwardTo}: the fan-out), which apply it with {@link #applyRemote} and
 * expire it like their own entries when the refreshes stop.
 *
 * <p>Thread-safe (one lock; a few map operations per presence frame): sessions of every event loop
 * call it, and the expiry sweep runs on the node's home context.
 */
public final class PresenceBoard {

    /** Largest state, in UTF-8 bytes of its compact JSON text (8.6). */
    public static final int MAX_STATE_BYTES = 1024;
    /**
     * An entry not refreshed for this long is dropped. Clients refresh every 2 s and the sweep runs
     * every {@link #SWEEP_MILLIS}, so a replica whose socket died is gone within 5 s of its last refresh.
     */
    public static final long EXPIRE_MILLIS = 4_500;
    /** How often {@link #expire} should run. */
    public static final long SWEEP_MILLIS = 250;

    private record Key(String user, String replica) {
    }

    /** {@code forwardedAt}: when a local entry was last told to the other nodes (refreshes go at most once a second). */
    private record Entry(String state, long refreshedAt, Object origin, long forwardedAt) {
    }

    /** The origin of an entry another node set: its sessions are not ours, and its changes are not sent on again. */
    private record Remote(String node) {
    }

    /** Refreshes of an unchanged state are told to the other nodes at most this often (clients refresh every 2 s). */
    static final long FORWARD_REFRESH_MILLIS = 1_000;

    private final Map<String, Map<Key, Entry>> bySpace = new HashMap<>();
    private final Consumer<PresenceUpdate> broadcast;
    private volatile Consumer<JsonObject> forward = item -> { };

    /** @param broadcast told of every change, in order, under the board's lock (it only hands the update to the sessions' loops) */
    public PresenceBoard(Consumer<PresenceUpdate> broadcast) {
        this.broadcast = broadcast;
    }

    /**
     * Where changes and refreshes made on this node go for the other nodes (the fan-out), called
     * under the board's lock: it should only hand the item on. Items: {@code space}, {@code user},
     * {@code replica} and {@code state} (the state's JSON text, or null: withdrawn).
     */
    public void forwardTo(Consumer<JsonObject> forward) {
        this.forward = forward;
    }

    private void forward(String space, Key key, String state) {
        forward.accept(new JsonObject().put("space", space).put("user", key.user).put("replica", key.replica).put("state", state));
    }

    /**
     * Another node's presence change or refresh: applied like a local one (passed to this node's
     * sessions when it changes), never sent on, and expired here like any entry if its refreshes stop
     * (so the presence of a node that died goes too). A malformed item is ignored.
     */
    public synchronized void applyRemote(String node, JsonObject item, long nowMillis) {
        String space = item.getValue("space") instanceof String s ? s : null;
        String user = item.getValue("user") instanceof String u ? u : null;
        String replica = item.getValue("replica") instanceof String r ? r : null;
        Object state = item.getValue("state");
        if (space == null || user == null || replica == null || !(state == null || state instanceof String) || !Frame.isValidSpaceId(space)) {
            return;
        }
        Key key = new Key(user, replica);
        Map<Key, Entry> present = bySpace.get(space);
        Entry old = present == null ? null : present.get(key);
        Remote origin = new Remote(node);
        if (state == null) {
            if (old != null && old.origin instanceof Remote) {
                remove(space, present, key);
                broadcast.accept(gone(space, key, origin));
            }
            return;
        }
        if (present == null) {
            present = new HashMap<>();
            bySpace.put(space, present);
        }
        present.put(key, new Entry((String) state, nowMillis, origin, nowMillis));
        if (old == null || !old.state.equals(state)) {
            broadcast.accept(PresenceUpdate.of(new Frame.Presence(space, user, replica, (String) state), origin));
        }
    }

    /** True if the state (compact JSON text, or null) is small enough (8.6). */
    public static boolean fits(String state) {
        return state == null || state.length() <= MAX_STATE_BYTES && state.getBytes(StandardCharsets.UTF_8).length <= MAX_STATE_BYTES;
    }

    /**
     * A replica sets its presence in a space ({@code state} null: withdraws it).
     *
     * @param origin the session it came from: it is not sent back there, and its close drops it
     */
    public synchronized void set(String space, String user, String replica, String state, Object origin, long nowMillis) {
        PresenceUpdate update = null;
        synchronized (this) {
            Key key = new Key(user, replica);
            Map<Key, Entry> present = bySpace.get(space);
            Entry old = present == null ? null : present.get(key);
            if (state == null) {
                if (old != null) {
                    remove(space, present, key);
                    update = gone(space, key, origin);
                    forward(space, key, null);
                }
            } else {
                if (present == null) {
                    present = new HashMap<>();
                    bySpace.put(space, present);
                }
                boolean changed = old == null || !old.state.equals(state);
                boolean tell = changed || nowMillis - old.forwardedAt >= FORWARD_REFRESH_MILLIS;
                present.put(key, new Entry(state, nowMillis, origin, tell ? nowMillis : old.forwardedAt));
                if (tell) {
                    forward(space, key, state);
                }
                if (changed) {
                    update = PresenceUpdate.of(new Frame.Presence(space, user, replica, state), origin);
                }
            }
        }
        if (update != null) {
            broadcast.accept(update);
        }
    }

    /** The socket {@code origin} closed: its presence in every space is withdrawn. */
    public synchronized void dropAll(Object origin) {
        List<PresenceUpdate> updates = new ArrayList<>();
        synchronized (this) {
            for (Iterator<Map.Entry<String, Map<Key, Entry>>> spaces = bySpace.entrySet().iterator(); spaces.hasNext(); ) {
                Map.Entry<String, Map<Key, Entry>> space = spaces.next();
                for (Iterator<Map.Entry<Key, Entry>> it = space.getValue().entrySet().iterator(); it.hasNext(); ) {
                    Map.Entry<Key, Entry> e = it.next();
                    if (e.getValue().origin == origin) {
                        it.remove();
                        updates.add(gone(space.getKey(), e.getKey(), origin));
                        forward(space.getKey(), e.getKey(), null);
                    }
                }
                if (space.getValue().isEmpty()) {
                    spaces.remove();
                }
            }
        }
        updates.forEach(broadcast);
    }

    /** The user left the space (or was removed): their replicas' presence there is withdrawn. */
    public synchronized void dropUser(String space, String user) {
        List<PresenceUpdate> updates = new ArrayList<>();
        synchronized (this) {
            Map<Key, Entry> present = bySpace.get(space);
            if (present == null) {
                return;
            }
            for (Iterator<Map.Entry<Key, Entry>> it = present.entrySet().iterator(); it.hasNext(); ) {
                Map.Entry<Key, Entry> e = it.next();
                if (e.getKey().user.equals(user)) {
                    it.remove();
                    updates.add(gone(space, e.getKey(), e.getValue().origin));
                    forward(space, e.getKey(), null);
                }
            }
            if (present.isEmpty()) {
                bySpace.remove(space);
            }
        }
        updates.forEach(broadcast);
    }

    /** Drops every entry not refreshed for {@link #EXPIRE_MILLIS}. */
    public synchronized void expire(long nowMillis) {
        List<PresenceUpdate> updates = new ArrayList<>();
        synchronized (this) {
            for (Iterator<Map.Entry<String, Map<Key, Entry>>> spaces = bySpace.entrySet().iterator(); spaces.hasNext(); ) {
                Map.Entry<String, Map<Key, Entry>> space = spaces.next();
                for (Iterator<Map.Entry<Key, Entry>> it = space.getValue().entrySet().iterator(); it.hasNext(); ) {
                    Map.Entry<Key, Entry> e = it.next();
                    if (nowMillis - e.getValue().refreshedAt >= EXPIRE_MILLIS) {
                        it.remove();
                        updates.add(gone(space.getKey(), e.getKey(), e.getValue().origin));
                        if (!(e.getValue().origin instanceof Remote)) {
                            forward(space.getKey(), e.getKey(), null); // another node's entry expires there too
                        }
                    }
                }
                if (space.getValue().isEmpty()) {
                    spaces.remove();
                }
            }
        }
        updates.forEach(broadcast);
    }

    /** Everyone present in a space now, as the frames a session that becomes live there gets first. */
    public synchronized List<PresenceUpdate> present(String space) {
        Map<Key, Entry> present = bySpace.get(space);
        if (present == null) {
            return List.of();
        }
        List<PresenceUpdate> out = new ArrayList<>(present.size());
        present.forEach((k, e) -> out.add(PresenceUpdate.of(new Frame.Presence(space, k.user, k.replica, e.state), e.origin)));
        out.sort((a, b) -> {
            int c = a.frame().user().compareTo(b.frame().user());
            return c != 0 ? c : a.frame().replica().compareTo(b.frame().replica());
        });
        return out;
    }

    private void remove(String space, Map<Key, Entry> present, Key key) {
        present.remove(key);
        if (present.isEmpty()) {
            bySpace.remove(space);
        }
    }

    private static PresenceUpdate gone(String space, Key key, Object origin) {
        return PresenceUpdate.of(new Frame.Presence(space, key.user, key.replica, null), Objects.requireNonNull(origin));
    }
}
