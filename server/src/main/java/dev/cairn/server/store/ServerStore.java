package dev.cairn.server.store;

import dev.cairn.engine.crdt.Change;
import io.vertx.core.Future;
import java.util.List;
import java.util.Map;

/**
 * Port for the server's durable store of every user's merged state. Two adapters run one
 * conformance suite ({@code ServerStoreContract}): {@link PgServerStore} (production, several
 * nodes on one database) and {@link JournalServerStore} (embedded default, nothing to install).
 *
 * <p>Guarantees every adapter gives (PROTOCOL.md section 1.3 and 4):
 * <ul>
 *   <li>{@link #commit} merges all batches with the CRDT rules in one durable transaction
 *       (group commit) and completes only after it is durable; on failure nothing of it is kept.</li>
 *   <li>Each change that alters a user's state gets a seq; seqs are strictly increasing in commit
 *       order per user. A change that alters nothing (re-sent, outdated) gets none.</li>
 *   <li>Map sections keep only the winning entry per key with the seq that made it win; log
 *       sections keep visible entries and watermarks, and purge entries a watermark hides.</li>
 *   <li>{@link #readSince} never misses a change committed before it started.</li>
 *   <li>No operation reads or writes more than the users it names (every key starts with the user id).</li>
 * </ul>
 * User ids must be non-empty and hold no NUL character, cursors are {@code >= 0} and limits
 * {@code >= 1}; other arguments fail the future with {@link IllegalArgumentException}. Store
 * failures (database down, I/O error) fail it with {@link StoreUnavailableException}.
 * Methods may be called from any thread; returned futures complete on a Vert.x context.
 */
public interface ServerStore {

    /** "postgres" or "journal", for /health and logs. */
    String kind();

    /** Opens the store (applying schema migrations); completes when it is ready. */
    Future<Void> start();

    /**
     * Merges the batches in one transaction. Several batches may name the same user. Returns one
     * result per user named, with the changes that altered that user's state and their seqs.
     *
     * <p>{@code limits} (issue 7): the same transaction keeps each user's usage (see
     * {@link #usage}) and, when {@code historyMillis > 0}, moves every map entry a change replaces
     * (value or tombstone, with its stamp) to the key's history, marked replaced at
     * {@code nowMillis}. If any user's changes together would leave that user above
     * {@code quotaBytes} (when {@code > 0}) with more than they used before, the whole commit
     * fails with {@link QuotaExceededException} naming that user and nothing of it is kept:
     * callers retry the other users' batches without it ({@code GroupCommitter}). Changes that do
     * not grow a user's usage are never refused, so a user over quota can always free space.
     */
    Future<Map<String, CommitResult>> commit(List<UserBatch> batches, Limits limits);

    /** {@link #commit(List, Limits)} with no quota and no history. */
    default Future<Map<String, CommitResult>> commit(List<UserBatch> batches) {
        return commit(batches, Limits.NONE);
    }

    /**
     * The bytes a user holds on the server: the UTF-8 bytes of key and value (JSON text) of every
     * live map entry, plus of stream name and value of every visible log entry. Tombstones,
     * watermarks, history and bookkeeping count nothing. Kept by {@link #commit} in the same
     * transaction as the data, so it is exact.
     *
     * <p>Shared spaces (PROTOCOL.md 8.5): a space's store key holds its own bytes; a user's usage
     * also counts the bytes of every space they own (the member of the space's {@code members}
     * section whose role is {@code "owner"}, as of each commit of the space), and the quota of
     * {@link #commit} applies to that total: a commit that grows a space is refused
     * ({@link QuotaExceededException} naming the space's store key) when it takes the space's owner
     * over the quota. When the owner changes (a transfer), the commit that changes it moves the
     * whole charge; a space without an owner (deleted) is charged to nobody.
     */
    Future<Long> usage(String user);

    /**
     * Earlier entries of one map key, newest first: those replaced at or after {@code sinceMillis},
     * at most {@code limit}.
     */
    Future<List<HistoryEntry>> history(String user, String section, String key, long sinceMillis, int limit);

    /** Removes the history of every user replaced before {@code beforeMillis}; completes with how many entries went. */
    Future<Long> pruneHistory(long beforeMillis);

    /**
     * Up to {@code limit} entries of a user with seq greater than {@code cursor}, in seq order,
     * each as the change that recreates it (set/delete, append, clear).
     */
    Future<Page> readSince(String user, long cursor, int limit);

    /**
     * One map section of a user, or the keys of it that start with {@code prefix} (empty: all):
     * up to {@code limit} entries after {@code afterKey} (exclusive; null: from the first), in an
     * order the store keeps from page to page (code point order of the keys). Tombstones are
     * included (value null); entries a section clear purged are not. A read of one section costs
     * that section's rows, never the user's others (the HTTP views, issue 17).
     */
    Future<MapPage> readMap(String user, String section, String prefix, String afterKey, int limit);

    /** The user's highest seq (0 for a user with no data). */
    Future<Long> head(String user);

    /** Completes if the store can serve requests now (used by /health). */
    Future<Void> ping();

    Future<Void> close();

    /**
     * What a commit enforces and records (issue 7).
     *
     * @param quotaBytes    most bytes a user may hold ({@link #usage}); 0 is no limit
     * @param historyMillis map history is kept when {@code > 0} (pruning is {@link #pruneHistory})
     * @param nowMillis     the commit's wall-clock time, recorded as the replacement time of history entries
     */
    record Limits(long quotaBytes, long historyMillis, long nowMillis) {
        public static final Limits NONE = new Limits(0, 0, 0);

        public Limits {
            if (quotaBytes < 0 || historyMillis < 0) {
                throw new IllegalArgumentException("quotaBytes and historyMillis must be >= 0: " + quotaBytes + ", " + historyMillis);
            }
        }
    }

    /**
     * An earlier entry of a map key: its value ({@code null}: the key was deleted), the stamp it
     * was written with, and when a later change replaced it (Unix millis, server clock).
     */
    record HistoryEntry(String value, dev.cairn.engine.clock.Stamp stamp, long replacedAtMillis) {
    }

    /** One entry of a map section: its key, value (JSON text; null for a tombstone) and stamp. */
    record MapEntry(String key, String value, dev.cairn.engine.clock.Stamp stamp) {
    }

    /** A page of {@link #readMap}; when {@code more}, the next page starts after the last entry's key. */
    record MapPage(List<MapEntry> entries, boolean more) {
    }

    /**
     * Changes pushed by one socket (or one HTTP request) for one user or space ({@code user} is the
     * store key: a user id, or {@code SpaceKeys.storeKey(spaceId)}), committed only if its
     * {@code guard} holds at commit (null: no condition).
     */
    record UserBatch(String user, List<Change> changes, Guard guard) {
        /** A batch without a guard. */
        public UserBatch(String user, List<Change> changes) {
            this(user, changes, null);
        }
    }

    /**
     * A condition checked inside the transaction that would commit a batch (PROTOCOL.md 8.2:
     * authorization as of the commit): the map entry {@code key} of section {@code section} of
     * store key {@code owner} must be live (not deleted, not hidden by a clear) and its JSON value
     * an object whose {@code "role"} member is one of {@code roles}. When it does not hold, the
     * batch fails with {@link GuardFailedException} and nothing of it is kept; the other batches
     * of the commit are committed without it. A guard and a removal that change the same entry are
     * serialized: a batch that commits after the entry changed sees the change.
     *
     * <p>{@code writesOnly} (a push, which a client may send again after a lost ack): the guard
     * holds back only writes. Its batch fails only if the commit writes something to the batch's
     * store key (a change that takes a seq); a commit that alters nothing there (every change
     * already stored or superseded) succeeds whatever the guard found, so a re-sent batch whose
     * first push committed is acknowledged, not refused. Such a guard must be on the batch's own
     * store key ({@code owner} equal to the batch's {@code user}); the entry is read, and locked,
     * exactly as for any guard. Without it (a membership change) the batch fails whenever the guard
     * does not hold, even if it writes nothing.
     */
    record Guard(String owner, String section, String key, java.util.Set<String> roles, boolean writesOnly) {
        /** {@code roles} is copied; every argument is required. */
        public Guard {
            java.util.Objects.requireNonNull(owner, "owner");
            java.util.Objects.requireNonNull(section, "section");
            java.util.Objects.requireNonNull(key, "key");
            roles = java.util.Set.copyOf(roles);
        }

        /** A guard that holds back its batch whenever it does not hold ({@code writesOnly} false). */
        public Guard(String owner, String section, String key, java.util.Set<String> roles) {
            this(owner, section, key, roles, false);
        }
    }

    /** A change with the seq the server gave it. */
    record Sequenced(long seq, Change change) {
    }

    /**
     * What a commit did to one user: the head before and after, and the changes that altered the
     * state (in seq order). Seqs in {@code (previousHead, head]} not in {@code applied} are gaps.
     */
    record CommitResult(String user, long previousHead, long head, List<Sequenced> applied) {
    }

    /**
     * One page of {@link #readSince}. {@code cursor} is the highest seq the page covers: the last
     * change's seq when {@code more} is true; otherwise at least the user's head when the read
     * started, so gaps after the last change are covered too.
     */
    record Page(List<Sequenced> changes, long cursor, boolean more) {
    }
}
