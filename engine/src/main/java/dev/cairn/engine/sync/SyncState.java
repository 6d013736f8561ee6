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
    LIVE
}
