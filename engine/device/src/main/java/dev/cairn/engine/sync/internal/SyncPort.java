package dev.cairn.engine.sync.internal;

import dev.cairn.engine.ChangeListener;
import dev.cairn.engine.Subscription;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.section.SectionSpec;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.concurrent.CompletableFuture;

/**
 * What a sync client needs from an engine, and apps never call: the outbox, remote changes, the
 * cursor and the connection hints. Obtained with {@link SyncPorts#of}; this package is not
 * exported by the engine's module.
 */
public interface SyncPort {

    String replicaId();

    /** Registered sections by name. */
    Map<String, SectionSpec> sections();

    /**
     * Merges changes received from another replica. All are checked first (known sections, clock
     * bound), so a bad batch changes nothing. Returns how many altered the state.
     */
    int applyRemote(List<Change> changes);

    /**
     * Applies a page of server changes and advances the cursor to {@code cursor}, saved no earlier
     * than the changes it covers (PROTOCOL.md 3.2). No clock-bound check: the server enforced its own.
     */
    int applyRemote(List<Change> changes, long cursor);

    /** The highest server seq this replica has applied. */
    long cursor();

    /** Forgets the cursor, so the next session catches up from the start (a server reset or restored). */
    void resetCursor();

    /** The cursor a new session sends in its {@code hello}; from then on its pages may move the cursor again. */
    long cursorForHello();

    /**
     * Outbox entries (sequence number to change), oldest first: committed, or in the commit running
     * now (pushed while the device forces them to disk; their removal after an ack waits for it).
     */
    NavigableMap<Long, Change> outbox(int limit);

    /**
     * Removes outbox entries the server acknowledged (or that were dropped for good); completes
     * when the removal is durable, which is never before the entries' own commit completed.
     */
    CompletableFuture<Void> acknowledge(Collection<Long> seqs);

    /** Local changes not acknowledged yet (outbox plus queued). */
    int pendingChanges();

    /** Saves everything queued now (including writes held for a save delay). */
    CompletableFuture<Void> save();

    /** Told (on the persistence thread) when changes enter the outbox, as their commit starts. */
    Subscription onOutbox(Runnable listener);

    /** Told when the replica must catch up from its (reset) cursor again: a connected client reconnects. */
    Subscription onResync(Runnable listener);

    /** Every visible change (local, imported or remote). */
    Subscription onChange(ChangeListener listener);

    /** While connected, changes without a save delay are committed to the outbox at once. */
    void setSyncConnected(boolean connected);

    /** The server's frame limit (welcome): from now on writes that could never fit it are refused. */
    void serverMaxFrameBytes(long bytes);

    /**
     * Told when the engine starts closing, before it stops saving: an attached client stops then.
     * {@link IllegalStateException} if the engine is closed already.
     */
    Subscription beforeClose(Runnable listener);

    // ---- spaces (PROTOCOL.md 8): on the user's port; a space's port has none of its own

    /** The spaces with a local replica here whose copy was not left, sorted: hello's {@code spaces}. */
    List<String> heldSpaces();

    /** The port of space {@code id}'s replica, opened (created if {@code create}); null if none here and not created. */
    SyncPort space(String id, boolean create);

    /** Whether the user's {@code spaces} section (as applied so far) lists {@code id}. */
    boolean isMemberOf(String id);

    /** The space ids the user's {@code spaces} section lists now. */
    java.util.Set<String> memberSpaces();

    /**
     * The user's membership of {@code id} ended ({@code space-left}): its cursor is dropped, and
     * its copy kept read-only ({@code keep}) or closed and deleted.
     */
    void spaceLeft(String id, String reason, boolean keep);

    /** The user is a member of {@code id} (again): a kept copy of an earlier membership becomes writable. */
    void spaceRejoined(String id);

    /** The server refused these changes of {@code id} for good: they stay visible as refused and are told to onError. */
    void spaceRefused(String id, String code, List<Change> changes, String message);

    /** How many refused changes space {@code id} lists now (0 if it is not open here). */
    int spaceRefusedCount(String id);

    /** Told when a space replica is opened, with its id (to sync it on the running session). */
    Subscription onSpaceOpened(java.util.function.Consumer<String> listener);

    /** This replica's own presence in space {@code id} (JSON text), or null if it has none. */
    String ownPresence(String id);

    /** Told when the app sets or withdraws its presence in a space, with the space id. */
    Subscription onOwnPresence(java.util.function.Consumer<String> listener);

    /** Another replica's presence in {@code id} changed ({@code stateJson} null: gone). */
    void peerPresence(String id, String user, String replica, String stateJson);

    /** Every peer's presence in every space is unknown now (the session ended). */
    void clearPresence();
}
