package dev.cairn.engine;

import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.persist.Persister;
import dev.cairn.engine.section.SectionSpec;
import dev.cairn.engine.section.StoragePolicy;
import dev.cairn.engine.sync.internal.SyncPort;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.concurrent.CompletableFuture;

/**
 * The sync plumbing of one engine, for the sync client only (not part of the API: see
 * SyncPorts): server pages merged and the cursor saved no earlier than the changes it covers, the
 * outbox and its acknowledgements, and the connection hints. The twin of the browser client's
 * sync-port.js.
 */
final class EnginePort implements SyncPort {

    private final Cairn cairn;
    private volatile long cursor;
    /**
     * Set when turning a section's sync back on reset the cursor to 0: pages of a session that
     * started before must not move it up again, only a new session's catch-up from 0 may.
     */
    private volatile boolean cursorHeld;

    EnginePort(Cairn cairn) {
        this.cairn = cairn;
    }

    /** The cursor saved in the store, at open (before any sync client can call). */
    void loadCursor(long stored) {
        this.cursor = stored;
    }

    public String replicaId() {
        return cairn.replicaId();
    }

    public Map<String, SectionSpec> sections() {
        return cairn.allSections();
    }

    /**
     * Merges changes received from another replica (the sync client's entry point). All are
     * checked first (known sections, clock bound), so a bad batch changes nothing. Returns how
     * many altered the state; remote-change listeners see those.
     */
    public int applyRemote(List<Change> changes) {
        cairn.checkOpen();
        changes = cairn.privacy.withoutSyncOff(changes);
        for (Change change : changes) {
            cairn.state.check(change);
            cairn.clock.check(change.stamp());
        }
        return cairn.writes.merge(changes, ChangeEvent.Origin.REMOTE, false);
    }

    /**
     * Applies a page of server changes and advances the sync cursor to {@code cursor}. The cursor
     * is saved no earlier than the changes it covers (PROTOCOL.md 3.2).
     */
    public int applyRemote(List<Change> changes, long cursor) {
        cairn.checkOpen();
        changes = cairn.privacy.withoutSyncOff(changes);
        for (Change change : changes) {
            cairn.state.check(change);
        }
        // No skew check here: the server already refused stamps too far ahead of ITS clock, and a
        // device whose own clock lags must not stall on changes everyone else has accepted.
        List<Change> page = changes;
        return cairn.locked(() -> {
            if (page.stream().anyMatch(c -> c instanceof Change.Clear)) {
                // Clears purge stored records and outbox entries: the one-by-one path does that.
                int applied = cairn.writes.merge(page, ChangeEvent.Origin.REMOTE, true);
                if (advanceCursor(cursor)) {
                    cairn.persister.recordCursor(cursor);
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
        List<ChangeEvent> events = cairn.listeners.queued();
        for (Change change : page) {
            cairn.clock.advance(change.stamp());
            if (cairn.state.apply(change)) {
                won.add(change);
                policies.add(cairn.writes.policyFor(change));
                events.add(new ChangeEvent(change, ChangeEvent.Origin.REMOTE));
            } else {
                cairn.persister.coverRemote(change);
            }
        }
        cairn.persister.recordRemotePage(won, policies, advanceCursor(cursor) ? cursor : -1);
        return won.size();
    }

    /** The highest server seq this replica has applied (PROTOCOL.md 1.3). */
    public long cursor() {
        return cursor;
    }

    /**
     * Forgets the sync cursor, so the next connection catches up from the start (used when the
     * server's data was reset and it is behind this replica's cursor).
     */
    public void resetCursor() {
        cairn.locked(() -> {
            this.cursor = 0;
            this.cursorHeld = false;
            cairn.persister.recordCursor(0);
            return null;
        });
    }

    /**
     * Turning a section's sync back on: the cursor goes back to 0 and is held there until a new
     * session's hello (see {@link #cursorForHello}). Under the write lock.
     */
    void resyncFromZero() {
        this.cursor = 0;
        this.cursorHeld = true;
        cairn.persister.recordCursor(0);
    }

    /**
     * The cursor a new sync session sends in its {@code hello}; from then on that session's pages
     * may move the cursor again (see {@link Cairn#enableSync}).
     */
    public long cursorForHello() {
        cursorHeld = false;
        return cursor;
    }

    /** Outbox entries (sequence number to change), oldest first: committed or being committed. */
    public NavigableMap<Long, Change> outbox(int limit) {
        return cairn.persister.outbox(limit);
    }

    /** Removes outbox entries the server has acknowledged. */
    public CompletableFuture<Void> acknowledge(Collection<Long> seqs) {
        cairn.checkOpen();
        return cairn.persister.acknowledge(seqs);
    }

    public int pendingChanges() {
        return cairn.pendingChanges();
    }

    public CompletableFuture<Void> save() {
        return cairn.save();
    }

    /** Told (on the persistence thread) when changes enter the outbox, while their commit runs. */
    public Subscription onOutbox(Runnable listener) {
        Runnable remove = cairn.persister.onOutboxGrew(listener);
        Runnable spaces = cairn.spaceReplicas == null ? () -> { } : cairn.spaceReplicas.onOutbox(listener);
        return () -> {
            remove.run();
            spaces.run();
        };
    }

    public Subscription onResync(Runnable listener) {
        Subscription privacy = cairn.privacy.onResync(listener);
        Runnable spaces = cairn.spaceReplicas == null ? () -> { } : cairn.spaceReplicas.onResync(listener);
        return () -> {
            privacy.close();
            spaces.run();
        };
    }

    public Subscription onChange(ChangeListener listener) {
        return cairn.onChange(listener);
    }

    /** While a sync client is connected, changes to push are committed at once instead of after saveDelay. */
    public void setSyncConnected(boolean connected) {
        cairn.persister.setUrgentOutbox(connected);
        if (connected) {
            cairn.persister.flushAutoSaved(); // drafts with autoSave off stay local until the app saves them
        }
    }

    public void serverMaxFrameBytes(long bytes) {
        if (bytes > 0) {
            cairn.writes.maxFrameBytes = bytes;
        }
    }

    public Subscription beforeClose(Runnable listener) {
        return cairn.lifecycle.beforeClose(listener);
    }

    // ------------------------------------------------------------------ spaces

    private SpaceReplicas replicas() {
        if (cairn.spaceReplicas == null) {
            throw new IllegalStateException("a space replica holds no spaces");
        }
        return cairn.spaceReplicas;
    }

    public List<String> heldSpaces() {
        if (cairn.spaceReplicas == null) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        for (String id : cairn.spaceReplicas.held()) {
            Space space = cairn.spaceReplicas.open(id, false);
            if (space != null && space.leftReason() == null) {
                out.add(id);
            }
        }
        return out;
    }

    public SyncPort space(String id, boolean create) {
        Space space = replicas().open(id, create);
        return space == null ? null : space.engine().port;
    }

    public boolean isMemberOf(String id) {
        return cairn.spaceReplicas != null && cairn.spaceReplicas.isMember(id);
    }

    public java.util.Set<String> memberSpaces() {
        java.util.Set<String> ids = new java.util.TreeSet<>();
        if (cairn.spaceReplicas != null) {
            cairn.spaceReplicas.memberships().forEach(m -> ids.add(m.id()));
        }
        return ids;
    }

    public void spaceLeft(String id, String reason, boolean keep) {
        replicas().left(id, reason, keep);
    }

    public void spaceRejoined(String id) {
        Space space = replicas().open(id, false);
        if (space != null) {
            space.rejoined();
        }
    }

    public void spaceRefused(String id, String code, List<Change> changes, String message) {
        Space space = replicas().open(id, false);
        if (space != null) {
            space.addRefused(code, changes, message);
        }
    }

    public int spaceRefusedCount(String id) {
        Space space = replicas().open(id, false);
        return space == null || space.isDropped() ? 0 : space.refusedChanges().size();
    }

    public Subscription onSpaceOpened(java.util.function.Consumer<String> listener) {
        if (cairn.spaceReplicas == null) {
            return () -> { };
        }
        Runnable remove = cairn.spaceReplicas.onOpened(space -> listener.accept(space.id()));
        return remove::run;
    }

    public String ownPresence(String id) {
        Space space = cairn.spaceReplicas == null ? null : cairn.spaceReplicas.open(id, false);
        return space == null || space.isDropped() ? null : space.ownPresence();
    }

    public Subscription onOwnPresence(java.util.function.Consumer<String> listener) {
        if (cairn.spaceReplicas == null) {
            return () -> { };
        }
        Runnable remove = cairn.spaceReplicas.onOwnPresence(listener);
        return remove::run;
    }

    public void peerPresence(String id, String user, String replica, String stateJson) {
        Space space = cairn.spaceReplicas == null ? null : cairn.spaceReplicas.open(id, false);
        if (space != null && !space.isDropped()) {
            space.peerPresence(user, replica, stateJson);
        }
    }

    public void clearPresence() {
        if (cairn.spaceReplicas != null) {
            cairn.spaceReplicas.openSpaces().forEach(Space::clearPresence);
        }
    }
}
