package dev.cairn.engine.sync;

/** Where a {@link SyncClient} stands. */
public enum SyncState {
    /** Not connected: not started, switched off, or waiting to reconnect. */
    OFFLINE,
    /** Opening a connection and waiting for the server's {@code welcome}. */
    CONNECTING,
    /** Connected; receiving the changes made since this replica's cursor. */
    CATCHING_UP,
    /** Connected and caught up: changes flow both ways as they happen. */
    LIVE,
    /**
     * Stopped for good: the server holds end-to-end encrypted values that do not open with this
     * client's key (a wrong passphrase). Nothing was applied or pushed; {@link SyncStatus#lastError()}
     * says so. Build a new client with the right passphrase.
     */
    LOCKED
}
