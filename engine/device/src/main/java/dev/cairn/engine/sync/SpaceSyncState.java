package dev.cairn.engine.sync;

/** Where one space's sync stands on a {@link SyncClient} (PROTOCOL.md 8.1, 8.4). */
public enum SpaceSyncState {
    /** Not on a session now (offline, or not yet told by the server). */
    OFFLINE,
    /** The session is catching the space up from its cursor. */
    CATCHING_UP,
    /** Caught up: the space's changes arrive live. */
    LIVE,
    /** The user's membership ended ({@link SpaceStatus#leftReason()} says why): nothing more of it syncs. */
    LEFT
}
