package dev.cairn.engine.sync;

import java.time.Instant;
import java.util.Objects;

/**
 * A snapshot of a {@link SyncClient}.
 *
 * @param state          where the client stands
 * @param lastSyncedAt   when the client last was caught up with the server (set on
 *                       {@code caught-up}, then on every ack or change received while live);
 *                       null until the first time
 * @param pendingChanges local changes the server has not acknowledged yet, in the outbox or still
 *                       waiting for their save (a save delay, a draft): the browser's {@code pending}
 *                       ({@link dev.cairn.engine.Cairn#pendingChanges()})
 * @param lastError      the last problem (connection failure, a change the server rejected, a
 *                       server page that could not be applied, ...), or null; cleared when a new
 *                       connection is welcomed
 * @param cursor         the highest server seq this replica has applied
 * @param lastErrorCode  the machine-readable code of {@code lastError} (a server error code of
 *                       PROTOCOL.md 3.5, or one of the client's own: {@code frame-too-large},
 *                       {@code change-too-large}, {@code unauthorized}, {@code unknown-section},
 *                       {@code not-a-sync-endpoint}, {@code connection-lost}, {@code silent-socket},
 *                       {@code wrong-passphrase}; spec/vectors/sync/README.md), or null
 */
public record SyncStatus(SyncState state, Instant lastSyncedAt, int pendingChanges, String lastError, long cursor, String lastErrorCode) {

    /** NullPointerException if {@code state} is null; {@code lastSyncedAt}, {@code lastError} and {@code lastErrorCode} may be null. */
    public SyncStatus {
        Objects.requireNonNull(state, "state");
    }

    /** A status without a {@code lastErrorCode}. */
    public SyncStatus(SyncState state, Instant lastSyncedAt, int pendingChanges, String lastError, long cursor) {
        this(state, lastSyncedAt, pendingChanges, lastError, cursor, null);
    }

    /** Whether the client is connected and caught up ({@link SyncState#LIVE}): changes flow both ways as they happen. */
    public boolean isLive() {
        return state == SyncState.LIVE;
    }
}
