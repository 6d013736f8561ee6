package dev.cairn.server.store;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * {@link ServerStore} on PostgreSQL through vertx-pg-client: the production adapter, shared by
 * several server nodes. Schema in {@code db/V*.sql}, applied by {@link #start()}.
 *
 * <p>A {@link #commit} is one transaction for all its batches (group commit). Users are handled in
 * sorted order, so two group commits lock users in the same order and cannot deadlock. Per user:
 * <ol>
 *   <li>the user's changes are merged in memory ({@link UserChanges#merge}: one change per row);</li>
 *   <li>{@code user_heads} is bumped by the merged count with an upsert; its row lock is held to
 *       the end of the transaction, so a user's commits are serialized and seqs increase in commit
 *       order (a plain sequence would not: a lower nextval can commit after a higher one);</li>
 *   <li>map section clears, log watermarks, log appends and map puts are each one multi-row {@code unnest} upsert whose
 *       {@code WHERE} is the CRDT merge rule, {@code RETURNING} the seqs of the rows it changed.
 *       Seqs are computed in SQL from the reserved head, so none of these statements waits for
 *       an earlier answer: every statement of the whole group commit, with BEGIN before and
 *       COMMIT after, is pipelined on the connection, so a commit costs one round trip (a failed
 *       statement aborts the transaction and the pipelined COMMIT then rolls it back);</li>
 *   <li>each of those statements also adds its net change of the user's bytes to {@code user_usage}
 *       (reading the rows it replaces in a CTE, which sees the table as before the statement) and
 *       notes its highest seq and its growth in two transaction-local settings the reserve started;
 *       the map upsert moves the entries it replaces to {@code map_history};</li>
 *   <li>a last statement, {@code cairn_finish_commit}, reads the notes: it raises SQLSTATE
 *       {@value #GUARD_SQLSTATE} for a failed guard of writes only if the key's statements wrote
 *       something ({@link GuardFailedException}: a re-sent push that alters nothing is committed),
 *       lowers the head to the highest seq written, charges a space's growth to its owner, and
 *       raises SQLSTATE {@value #QUOTA_SQLSTATE} for growth past the quota; either rolls the whole
 *       transaction back ({@link QuotaExceededException}).</li>
 * </ol>
 * Any failure rolls the whole transaction back and fails the future with
 * {@link StoreUnavailableException}.
 *
 * <p>Thread-safety: all methods may be called from any thread.
 */
public final class PgServerStore implements ServerStore {

    /** How many statements one connection may have in flight (a group commit sends up to 6 per user, and its guards). */
    static final int PIPELINING_LIMIT = 256;

    private static final String HEAD = "SELECT seq FROM user_heads WHERE user_id = $1";

    /**
     * Reserves $2 (the merged count) seqs for the user and starts the transaction-local notes the
     * data statements and guards keep and {@link #FINISH} reads: {@code cairn.written}, the highest
     * seq written (the previous head until one is), {@code cairn.grown}, the bytes added,
     * {@code cairn.base}, the previous head, and {@code cairn.refused}, a failed guard of writes
     * only (empty: none).
     */
    private static final String RESERVE = """
            INSERT INTO user_heads (user_id, seq) VALUES ($1, $2)
            ON CONFLICT (user_id) DO UPDATE SET seq = user_heads.seq + excluded.seq
            RETURNING seq, set_config('cairn.written', (seq - $2)::text, true), set_config('cairn.grown', '0', true),
                set_config('cairn.base', (seq - $2)::text, true), set_config('cairn.refused', '', true)""";

    /** The seq just below the ones this commit reserved for the user ($1 = user, $2 = merged count). */
    private static final String BASE = "WITH base AS (SELECT seq - $2 AS seq FROM user_heads WHERE user_id = $1)\n";

    /**
     * The end of a data statement: {@code delta} (a query of one bigint: the statement's net change
     * of the user's bytes) is added to {@code user_usage}, and one row answers: the seqs of
     * {@code rows} (a CTE with a {@code seq} column: what the statement wrote) as an array, after
     * noting the highest of them and the delta for {@link #FINISH}. A query without FROM yields
     * exactly one row, so the notes are taken exactly once, whatever the plan.
     */
    private static String addUsageAndNote(String delta, String rows) {
        return """
                , delta AS (%s)
                , usage AS (
                    INSERT INTO user_usage AS u (user_id, used_bytes)
                    SELECT $1, d FROM delta AS x(d) WHERE d <> 0
                    ON CONFLICT (user_id) DO UPDATE SET used_bytes = u.used_bytes + excluded.used_bytes
                )
                SELECT ARRAY(SELECT seq FROM %2$s),
                    set_config('cairn.written', greatest(current_setting('cairn.written')::int8, (SELECT max(seq) FROM %2$s))::text, true),
                    set_config('cairn.grown', (current_setting('cairn.grown')::int8 + (SELECT d FROM delta AS x(d)))::text, true)""".formatted(delta, rows);
    }

    /** Raise watermarks that are older than the new ones, purge the entries they hide. */
    private static final String CLEARS = BASE + """
            , marks AS (
                INSERT INTO log_watermarks AS w (user_id, section, stream, hlc, replica, seq)
                SELECT $1, x.section, x.stream, x.hlc, x.replica, base.seq + x.o
                FROM unnest($3::text[], $4::text[], $5::int8[], $6::text[], $7::int8[]) AS x(section, stream, hlc, replica, o), base
                ON CONFLICT (user_id, section, stream) DO UPDATE
                    SET hlc = excluded.hlc, replica = excluded.replica, seq = excluded.seq
                    WHERE (excluded.hlc, excluded.replica) > (w.hlc, w.replica)
                RETURNING w.section, w.stream, w.hlc, w.replica, w.seq
            ), purged AS (
                DELETE FROM log_entries e USING marks m
                WHERE e.user_id = $1 AND e.section = m.section AND e.stream = m.stream
                  AND (e.hlc, e.replica) <= (m.hlc, m.replica)
                RETURNING octet_length(e.stream) + octet_length(e.value) AS bytes
            )
            """ + addUsageAndNote("SELECT -coalesce(sum(bytes), 0) FROM purged", "marks");

    /**
     * Raise map sections' clear watermarks that are older than the new ones, purge every value
     * and tombstone of the section they cover (schema V2).
     */
    private static final String MAP_CLEARS = BASE + """
            , marks AS (
                INSERT INTO map_watermarks AS w (user_id, section, hlc, replica, seq)
                SELECT $1, x.section, x.hlc, x.replica, base.seq + x.o
                FROM unnest($3::text[], $4::int8[], $5::text[], $6::int8[]) AS x(section, hlc, replica, o), base
                ON CONFLICT (user_id, section) DO UPDATE
                    SET hlc = excluded.hlc, replica = excluded.replica, seq = excluded.seq
                    WHERE (excluded.hlc, excluded.replica) > (w.hlc, w.replica)
                RETURNING w.section, w.hlc, w.replica, w.seq
            ), purged AS (
                DELETE FROM map_entries e USING marks m
                WHERE e.user_id = $1 AND e.section = m.section
                  AND (e.hlc, e.replica) <= (m.hlc, m.replica)
                RETURNING CASE WHEN e.value IS NULL THEN 0 ELSE octet_length(e.key) + octet_length(e.value) END AS bytes
            )
            """ + addUsageAndNote("SELECT -coalesce(sum(bytes), 0) FROM purged", "marks");

    /** Add entries above their stream's watermark; at an equal stamp the greater value text wins (as GrowOnlyLog). */
    private static final String APPENDS = BASE + """
            , old AS (
                -- one primary-key probe per entry (LIMIT 1 keeps the planner from hashing all the user's rows)
                SELECT e.section, e.stream, e.hlc, e.replica, e.value
                FROM unnest($3::text[], $4::text[], $5::int8[], $6::text[]) AS k(section, stream, hlc, replica)
                CROSS JOIN LATERAL (SELECT * FROM log_entries l
                    WHERE l.user_id = $1 AND l.section = k.section AND l.stream = k.stream AND l.hlc = k.hlc
                      AND l.replica = k.replica COLLATE "C" LIMIT 1) AS e
            ), added AS (
            INSERT INTO log_entries AS e (user_id, section, stream, hlc, replica, value, seq)
            SELECT $1, x.section, x.stream, x.hlc, x.replica, x.value, base.seq + x.o
            FROM unnest($3::text[], $4::text[], $5::int8[], $6::text[], $7::text[], $8::int8[]) AS x(section, stream, hlc, replica, value, o), base
            WHERE NOT EXISTS (
                SELECT 1 FROM log_watermarks w
                WHERE w.user_id = $1 AND w.section = x.section AND w.stream = x.stream
                  AND (x.hlc, x.replica COLLATE "C") <= (w.hlc, w.replica))
            ON CONFLICT (user_id, section, stream, hlc, replica) DO UPDATE
                SET value = excluded.value, seq = excluded.seq
                WHERE excluded.value > e.value
            RETURNING e.section, e.stream, e.hlc, e.replica, e.value, e.seq
            )
            """ + addUsageAndNote("""
                SELECT coalesce(sum(octet_length(a.stream) + octet_length(a.value)
                                    - coalesce(octet_length(o.stream) + octet_length(o.value), 0)), 0)
                FROM added a LEFT JOIN old o
                  ON o.section = a.section AND o.stream = a.stream AND o.hlc = a.hlc AND o.replica = a.replica""", "added");

    /** Replace a key's entry only if the new one beats it, exactly as LwwEntry.beats; nothing at or below the section's clear. */
    private static final String PUTS = BASE + """
            , old AS (
                -- one primary-key probe per key (LIMIT 1 keeps the planner from hashing all the user's rows)
                SELECT m.section, m.key, m.value, m.hlc, m.replica, m.seq
                FROM unnest($3::text[], $4::text[]) AS k(section, key)
                CROSS JOIN LATERAL (SELECT * FROM map_entries e
                    WHERE e.user_id = $1 AND e.section = k.section AND e.key = k.key LIMIT 1) AS m
            ), won AS (
            INSERT INTO map_entries AS m (user_id, section, key, value, hlc, replica, seq)
            SELECT $1, x.section, x.key, x.value, x.hlc, x.replica, base.seq + x.o
            FROM unnest($3::text[], $4::text[], $5::text[], $6::int8[], $7::text[], $8::int8[]) AS x(section, key, value, hlc, replica, o), base
            WHERE NOT EXISTS (
                SELECT 1 FROM map_watermarks w
                WHERE w.user_id = $1 AND w.section = x.section
                  AND (x.hlc, x.replica COLLATE "C") <= (w.hlc, w.replica))
            ON CONFLICT (user_id, section, key) DO UPDATE
                SET value = excluded.value, hlc = excluded.hlc, replica = excluded.replica, seq = excluded.seq
                WHERE (excluded.hlc, excluded.replica) > (m.hlc, m.replica)
                   OR ((excluded.hlc, excluded.replica) = (m.hlc, m.replica)
                       AND excluded.value IS NOT NULL
                       AND (m.value IS NULL OR excluded.value > m.value))
            RETURNING m.section, m.key, m.value, m.seq
            ), kept AS (
                -- $9 replaced at (millis), $10 keep history: the entries this statement replaced
                INSERT INTO map_history (user_id, section, key, seq, value, hlc, replica, replaced_at)
                SELECT $1, o.section, o.key, o.seq, o.value, o.hlc, o.replica, $9::int8
                FROM won w JOIN old o ON o.section = w.section AND o.key = w.key
                WHERE $10::boolean
                ON CONFLICT DO NOTHING
            )
            """ + addUsageAndNote("""
                SELECT coalesce(sum(CASE WHEN w.value IS NULL THEN 0 ELSE octet_length(w.key) + octet_length(w.value) END
                                    - CASE WHEN o.value IS NULL THEN 0 ELSE octet_length(o.key) + octet_length(o.value) END), 0)
                FROM won w LEFT JOIN old o ON o.section = w.section AND o.key = w.key""", "won");

    /**
     * Last statement of a key's part of a commit (V6 migration): lowers the head to the highest seq
     * written (a change that alters nothing takes no seq), settles a space's charge to its owner,
     * refuses growth past the quota.
     */
    private static final String FINISH = "SELECT cairn_finish_commit($1, $2)";

    /** A batch's guard (V4 migration): raises {@value #GUARD_SQLSTATE} when it does not hold. */
    private static final String GUARD = "SELECT cairn_guard($1, $2, $3, $4, $5)";

    /**
     * A guard of writes only (V6 migration): reads and locks as {@link #GUARD}, but only notes a
     * failure; {@link #FINISH} raises {@value #GUARD_SQLSTATE} if the key's statements wrote something.
     */
    private static final String GUARD_WRITE = "SELECT cairn_guard_write($1, $2, $3, $4, $5)";

    /** SQLSTATE cairn_guard raises for a guard that does not hold. */
    static final String GUARD_SQLSTATE = "CG001";

    /** SQLSTATE cairn_finish_commit raises for a refused growth. */
    static final String QUOTA_SQLSTATE = "CQ001";

    /** A user's own bytes plus those of the spaces they own (V5); a space's own bytes. */
    private static final String USAGE = "SELECT used_bytes + space_bytes FROM user_usage WHERE user_id = $1";

    /** One map section's entries, or those of a key prefix, a page at a time (code point order: COLLATE "C"). */
    private static final String MAP_SECTION = """
            SELECT key, value, hlc, replica FROM map_entries
            WHERE user_id = $1 AND section = $2 AND starts_with(key, $3) AND ($4::text IS NULL OR key COLLATE "C" > $4)
            ORDER BY key COLLATE "C" LIMIT $5""";

    private static final String HISTORY = """
            SELECT value, hlc, replica, replaced_at FROM map_history
            WHERE user_id = $1 AND section = $2 AND key = $3 AND replaced_at >= $4
            ORDER BY seq DESC LIMIT $5""";

    private static final String PRUNE_HISTORY = "DELETE FROM map_history WHERE replaced_at < $1";

    /** kind: 0 map entry, 1 log entry, 2 watermark, 3 map section watermark. Each branch is limited too, so each uses its (user_id, seq) index. */
    private static final String READ_SINCE = """
            SELECT kind, section, target, value, hlc, replica, seq FROM (
                (SELECT 0 AS kind, section, key AS target, value, hlc, replica, seq FROM map_entries
                 WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3)
                UNION ALL
                (SELECT 1, section, stream, value, hlc, replica, seq FROM log_entries
                 WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3)
                UNION ALL
                (SELECT 2, section, stream, NULL, hlc, replica, seq FROM log_watermarks
                 WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3)
                UNION ALL
                (SELECT 3, section, '', NULL, hlc, replica, seq FROM map_watermarks
                 WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3)
            ) AS changes
            ORDER BY seq LIMIT $3""";

    private final PgConnectOptions connectOptions;
    private final Pool pool;

    private PgServerStore(PgConnectOptions connectOptions, Pool pool) {
        this.connectOptions = connectOptions;
        this.pool = pool;
    }

    /**
     * A store on the database at {@code url} (e.g. {@code postgresql://postgres@127.0.0.1:5432/cairn})
     * with at most {@code poolSize} connections. Nothing connects until {@link #start()}.
     */
    public static PgServerStore create(Vertx vertx, String url, int poolSize) {
        Objects.requireNonNull(vertx, "vertx");
        if (poolSize < 1) {
            throw new IllegalArgumentException("PostgreSQL pool size must be at least 1: " + poolSize);
        }
        PgConnectOptions options;
        try {
            options = PgConnectOptions.fromUri(Objects.requireNonNull(url, "url"));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("invalid PostgreSQL URL '" + url
                    + "': expected e.g. postgresql://user@host:5432/database (" + e.getMessage() + ")", e);
        }
        options.setPipeliningLimit(PIPELINING_LIMIT)
                .setCachePreparedStatements(true)
                .setPreparedStatementCacheSqlLimit(8192);
        Pool pool = PgBuilder.pool()
                .with(new PoolOptions().setMaxSize(poolSize).setName("cairn-pg"))
                .connectingTo(options)
                .using(vertx)
                .build();
        return new PgServerStore(options, pool);
    }

    /** Where this store connects (for components that need their own connection, e.g. LISTEN). */
    public PgConnectOptions connectOptions() {
        return new PgConnectOptions(connectOptions);
    }

    @Override
    public String kind() {
        return "postgres";
    }

    @Override
    public Future<Void> start() {
        List<Migrations.Migration> migrations;
        try {
            migrations = Migrations.fromClasspath();
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
        return Migrations.apply(pool, migrations)
                .recover(e -> e instanceof IllegalStateException ? Future.failedFuture(e) : unavailable("schema migration", e))
                .mapEmpty();
    }

    /**
     * Every schema migration known to this server or recorded in the database, one line each:
     * version, name, state (applied, pending, changed, or unknown: newer than this server), when it
     * ran, and whether it runs outside a transaction.
     */
    public Future<List<String>> migrationReport() {
        List<Migrations.Migration> migrations;
        try {
            migrations = Migrations.fromClasspath();
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
        return Migrations.info(pool, migrations).map(infos -> infos.stream()
                .map(i -> String.format(java.util.Locale.ROOT, "V%-4d %-28s %-8s %-25s%s", i.version(), i.name(), i.state(),
                        i.appliedAt() == null ? "-" : i.appliedAt().toString(), i.transactional() ? "" : " no-transaction"))
                .toList());
    }

    @Override
    public Future<Map<String, CommitResult>> commit(List<UserBatch> batches, Limits limits) {
        Objects.requireNonNull(limits, "limits");
        List<UserWrite> writes = new ArrayList<>();
        try {
            TreeMap<String, List<Change>> byUser = UserChanges.byUser(batches);
            UserChanges.checkGuards(batches);
            byUser.forEach((user, changes) -> writes.add(new UserWrite(user, UserChanges.merge(changes))));
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
        if (writes.isEmpty()) {
            return Future.succeededFuture(Map.of());
        }
        return pool.withConnection(conn -> {
            // One round trip: BEGIN, every statement and COMMIT go out together (pipelining). Not
            // withTransaction, which waits for BEGIN's answer before sending anything and for the
            // answers before sending COMMIT: two more round trips per commit (W1, BENCHMARKS.md).
            List<Future<?>> pending = new ArrayList<>();
            // Generic plans for this transaction only: PostgreSQL otherwise re-plans the commit's upserts on every
            // execution (custom plans), 0.26-0.42 ms for the map upsert alone; reads keep custom plans (BENCHMARKS.md).
            pending.add(conn.query("BEGIN; SET LOCAL plan_cache_mode = force_generic_plan").execute());
            // A guard whose owner writes nothing in this commit goes first; the others right after
            // their owner's head statement, so they take the owner's user_heads lock first (the lock a
            // removal takes too: no deadlock between the two) and read the state before this commit.
            java.util.Set<String> written = new java.util.HashSet<>();
            writes.forEach(w -> written.add(w.user));
            sendGuards(conn, pending, batches, owner -> !written.contains(owner));
            for (UserWrite write : writes) {
                write.send(conn, pending, limits, () -> sendGuards(conn, pending, batches, write.user::equals));
            }
            // After a failed statement the transaction is aborted and COMMIT rolls it back (PostgreSQL
            // answers ROLLBACK), so nothing of a failed commit stays; the failure is reported below.
            pending.add(conn.query("COMMIT").execute());
            // join, not all: wait for every answer, so a refused quota is found whichever failed first
            // (the statements after it fail as "transaction aborted").
            return Future.join(pending).recover(e -> {
                for (Future<?> f : pending) {
                    GuardFailedException guard = guardRefusal(f.cause(), batches);
                    if (guard != null) {
                        return Future.failedFuture(guard);
                    }
                    QuotaExceededException quota = quotaRefusal(f.cause());
                    if (quota != null) {
                        return Future.failedFuture(quota);
                    }
                }
                return Future.failedFuture(e);
            }).map(all -> {
                Map<String, CommitResult> results = new LinkedHashMap<>();
                for (UserWrite write : writes) {
                    results.put(write.user, write.result());
                }
                return Collections.unmodifiableMap(results);
            });
        }).recover(e -> e instanceof QuotaExceededException || e instanceof GuardFailedException
                ? Future.failedFuture(e) : unavailable("commit", e));
    }

    private static void sendGuards(SqlConnection conn, List<Future<?>> pending, List<UserBatch> batches,
                                   java.util.function.Predicate<String> owners) {
        for (int i = 0; i < batches.size(); i++) {
            Guard g = batches.get(i).guard();
            if (g != null && owners.test(g.owner())) {
                // A guard of writes only is on its batch's own key (UserChanges.checkGuards), so it runs
                // after that key's reserve, which starts the note it leaves for the key's FINISH.
                pending.add(conn.preparedQuery(g.writesOnly() ? GUARD_WRITE : GUARD).execute(Tuple.tuple().addString(g.owner())
                        .addString(g.section()).addString(g.key()).addArrayOfString(g.roles().toArray(new String[0])).addInteger(i)));
            }
        }
    }

    /** The refusal cairn_guard (or, for a guard of writes only, cairn_finish_commit) raised, or null. */
    private static GuardFailedException guardRefusal(Throwable e, List<UserBatch> batches) {
        if (e instanceof io.vertx.pgclient.PgException pg && GUARD_SQLSTATE.equals(pg.getSqlState()) && pg.getDetail() != null) {
            try {
                int index = Integer.parseInt(pg.getDetail().trim());
                String hint = pg.getHint();
                String role = hint != null && hint.startsWith("role:") ? hint.substring("role:".length()) : null;
                return new GuardFailedException(batches.get(index).guard(), role, index);
            } catch (RuntimeException ignored) {
                return null;
            }
        }
        return null;
    }

    /** The refusal cairn_finish_commit raised, or null. */
    private static QuotaExceededException quotaRefusal(Throwable e) {
        if (e instanceof io.vertx.pgclient.PgException pg && QUOTA_SQLSTATE.equals(pg.getSqlState()) && pg.getDetail() != null) {
            String[] n = pg.getDetail().trim().split(" ");
            if (n.length == 3) {
                try {
                    return new QuotaExceededException(pg.getHint(), Long.parseLong(n[0]), Long.parseLong(n[1]), Long.parseLong(n[2]));
                } catch (NumberFormatException ignored) {
                    return null;
                }
            }
        }
        return null;
    }

    /** One user's part of a group commit: its statements, sent without waiting, and their answers. */
    private static final class UserWrite {
        final String user;
        final List<Change> changes;
        Future<RowSet<Row>> head;
        final List<Future<RowSet<Row>>> data = new ArrayList<>();

        UserWrite(String user, List<Change> changes) {
            this.user = user;
            this.changes = changes;
        }

        void send(SqlConnection conn, List<Future<?>> pending, Limits limits, Runnable guards) {
            long n = changes.size();
            if (n == 0) {
                head = conn.preparedQuery(HEAD).execute(Tuple.of(user));
                pending.add(head);
                guards.run();
                return;
            }
            head = conn.preparedQuery(RESERVE).execute(Tuple.of(user, n));
            pending.add(head);
            guards.run();
            List<String> cSections = new ArrayList<>(), cStreams = new ArrayList<>(), cReplicas = new ArrayList<>();
            List<Long> cHlcs = new ArrayList<>(), cOffsets = new ArrayList<>();
            List<String> mSections = new ArrayList<>(), mReplicas = new ArrayList<>();
            List<Long> mHlcs = new ArrayList<>(), mOffsets = new ArrayList<>();
            List<String> aSections = new ArrayList<>(), aStreams = new ArrayList<>(), aReplicas = new ArrayList<>(), aValues = new ArrayList<>();
            List<Long> aHlcs = new ArrayList<>(), aOffsets = new ArrayList<>();
            List<String> pSections = new ArrayList<>(), pKeys = new ArrayList<>(), pValues = new ArrayList<>(), pReplicas = new ArrayList<>();
            List<Long> pHlcs = new ArrayList<>(), pOffsets = new ArrayList<>();
            for (int i = 0; i < changes.size(); i++) {
                Change change = changes.get(i);
                long offset = i + 1L;
                if (change instanceof Change.Put put) {
                    pSections.add(put.section());
                    pKeys.add(put.key());
                    pValues.add(put.value());
                    pHlcs.add(put.stamp().hlc());
                    pReplicas.add(put.stamp().replica());
                    pOffsets.add(offset);
                } else if (change instanceof Change.Append append) {
                    aSections.add(append.section());
                    aStreams.add(append.stream());
                    aHlcs.add(append.stamp().hlc());
                    aReplicas.add(append.stamp().replica());
                    aValues.add(append.value());
                    aOffsets.add(offset);
                } else if (((Change.Clear) change).isWholeSection()) {
                    mSections.add(change.section());
                    mHlcs.add(change.stamp().hlc());
                    mReplicas.add(change.stamp().replica());
                    mOffsets.add(offset);
                } else {
                    Change.Clear clear = (Change.Clear) change;
                    cSections.add(clear.section());
                    cStreams.add(clear.stream());
                    cHlcs.add(clear.stamp().hlc());
                    cReplicas.add(clear.stamp().replica());
                    cOffsets.add(offset);
                }
            }
            // Order matters: appends and puts must see this commit's watermarks.
            if (!mSections.isEmpty()) {
                data.add(conn.preparedQuery(MAP_CLEARS).execute(Tuple.tuple().addString(user).addLong(n)
                        .addArrayOfString(strings(mSections)).addArrayOfLong(longs(mHlcs))
                        .addArrayOfString(strings(mReplicas)).addArrayOfLong(longs(mOffsets))));
            }
            if (!cSections.isEmpty()) {
                data.add(conn.preparedQuery(CLEARS).execute(Tuple.tuple().addString(user).addLong(n)
                        .addArrayOfString(strings(cSections)).addArrayOfString(strings(cStreams)).addArrayOfLong(longs(cHlcs))
                        .addArrayOfString(strings(cReplicas)).addArrayOfLong(longs(cOffsets))));
            }
            if (!aSections.isEmpty()) {
                data.add(conn.preparedQuery(APPENDS).execute(Tuple.tuple().addString(user).addLong(n)
                        .addArrayOfString(strings(aSections)).addArrayOfString(strings(aStreams)).addArrayOfLong(longs(aHlcs))
                        .addArrayOfString(strings(aReplicas)).addArrayOfString(strings(aValues)).addArrayOfLong(longs(aOffsets))));
            }
            if (!pSections.isEmpty()) {
                data.add(conn.preparedQuery(PUTS).execute(Tuple.tuple().addString(user).addLong(n)
                        .addArrayOfString(strings(pSections)).addArrayOfString(strings(pKeys)).addArrayOfString(strings(pValues))
                        .addArrayOfLong(longs(pHlcs)).addArrayOfString(strings(pReplicas)).addArrayOfLong(longs(pOffsets))
                        .addLong(limits.nowMillis()).addBoolean(limits.historyMillis() > 0)));
            }
            pending.addAll(data);
            // After the user's data statements (same connection, so in order), from what they noted:
            // PROTOCOL.md 1.3, a change that alters nothing takes no seq (the reservation's unused tail
            // is given back, so re-pushed or outdated changes do not move the head); usage and quota.
            pending.add(conn.preparedQuery(FINISH).execute(Tuple.of(user, limits.quotaBytes())));
        }

        /** The highest seq this write used, or the previous head if it altered nothing. */
        private long usedHead() {
            long reserved = firstLong(head.result());
            long used = reserved - changes.size();
            for (long seq : written()) {
                used = Math.max(used, seq);
            }
            return used;
        }

        /** The seqs the data statements wrote (each answers one row: their array). */
        private List<Long> written() {
            List<Long> seqs = new ArrayList<>();
            for (Future<RowSet<Row>> f : data) {
                for (Row row : f.result()) {
                    Collections.addAll(seqs, row.getArrayOfLongs(0));
                }
            }
            return seqs;
        }

        CommitResult result() {
            long reserved = firstLong(head.result());
            long previousHead = reserved - changes.size();
            long newHead = changes.isEmpty() ? reserved : usedHead();
            List<Long> seqs = written();
            Collections.sort(seqs);
            List<Sequenced> applied = new ArrayList<>(seqs.size());
            for (long seq : seqs) {
                long index = seq - previousHead - 1;
                if (index < 0 || index >= changes.size()) {
                    throw new IllegalStateException("postgres returned seq " + seq + " outside the range reserved for user '"
                            + user + "' (" + (previousHead + 1) + ".." + newHead + ")");
                }
                applied.add(new Sequenced(seq, changes.get((int) index)));
            }
            return new CommitResult(user, previousHead, newHead, Collections.unmodifiableList(applied));
        }
    }

    @Override
    public Future<Page> readSince(String user, long cursor, int limit) {
        try {
            UserChanges.checkRead(user, cursor, limit);
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
        // Both statements pipelined on one connection: the head is read strictly before the rows.
        return pool.withConnection(conn -> {
            Future<RowSet<Row>> head = conn.preparedQuery(HEAD).execute(Tuple.of(user));
            Future<RowSet<Row>> rows = conn.preparedQuery(READ_SINCE).execute(Tuple.of(user, cursor, limit + 1L));
            return Future.all(head, rows).map(all -> page(firstLong(head.result()), rows.result(), limit));
        }).recover(e -> unavailable("read", e));
    }

    private static Page page(long head, RowSet<Row> rows, int limit) {
        List<Sequenced> changes = new ArrayList<>(Math.min(rows.size(), limit));
        boolean more = false;
        for (Row row : rows) {
            if (changes.size() == limit) {
                more = true;
                break;
            }
            changes.add(new Sequenced(row.getLong(6), toChange(row)));
        }
        long last = changes.isEmpty() ? 0L : changes.get(changes.size() - 1).seq();
        return new Page(Collections.unmodifiableList(changes), more ? last : Math.max(head, last), more);
    }

    private static Change toChange(Row row) {
        Stamp stamp = new Stamp(row.getLong(4), row.getString(5));
        return switch (row.getInteger(0)) {
            case 0 -> new Change.Put(row.getString(1), row.getString(2), row.getString(3), stamp);
            case 1 -> new Change.Append(row.getString(1), row.getString(2), row.getString(3), stamp);
            case 2 -> new Change.Clear(row.getString(1), row.getString(2), stamp);
            case 3 -> Change.Clear.wholeSection(row.getString(1), stamp);
            default -> throw new IllegalStateException("unknown row kind " + row.getInteger(0));
        };
    }

    @Override
    public Future<Long> usage(String user) {
        try {
            UserChanges.checkUser(user);
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
        return pool.preparedQuery(USAGE).execute(Tuple.of(user))
                .map(PgServerStore::firstLong)
                .recover(e -> unavailable("usage read", e));
    }

    @Override
    public Future<List<HistoryEntry>> history(String user, String section, String key, long sinceMillis, int limit) {
        try {
            UserChanges.checkHistory(user, section, key, limit);
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
        return pool.preparedQuery(HISTORY).execute(Tuple.of(user, section, key, sinceMillis, (long) limit)).map(rows -> {
            List<HistoryEntry> out = new ArrayList<>(rows.size());
            for (Row row : rows) {
                out.add(new HistoryEntry(row.getString(0), new Stamp(row.getLong(1), row.getString(2)), row.getLong(3)));
            }
            return Collections.unmodifiableList(out);
        }).recover(e -> unavailable("history read", e));
    }

    @Override
    public Future<MapPage> readMap(String user, String section, String prefix, String afterKey, int limit) {
        try {
            UserChanges.checkMapRead(user, section, prefix, limit);
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
        return pool.preparedQuery(MAP_SECTION).execute(Tuple.of(user, section, prefix, afterKey, limit + 1L)).map(rows -> {
            List<MapEntry> out = new ArrayList<>(Math.min(rows.size(), limit));
            for (Row row : rows) {
                if (out.size() == limit) {
                    break;
                }
                out.add(new MapEntry(row.getString(0), row.getString(1), new Stamp(row.getLong(2), row.getString(3))));
            }
            return new MapPage(Collections.unmodifiableList(out), rows.size() > limit);
        }).recover(e -> unavailable("section read", e));
    }

    @Override
    public Future<Long> pruneHistory(long beforeMillis) {
        return pool.preparedQuery(PRUNE_HISTORY).execute(Tuple.of(beforeMillis))
                .map(rows -> (long) rows.rowCount())
                .recover(e -> unavailable("history prune", e));
    }

    @Override
    public Future<Long> head(String user) {
        try {
            UserChanges.checkUser(user);
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
        return pool.preparedQuery(HEAD).execute(Tuple.of(user))
                .map(PgServerStore::firstLong)
                .recover(e -> unavailable("head read", e));
    }

    private static long firstLong(RowSet<Row> rows) {
        var it = rows.iterator();
        return it.hasNext() ? it.next().getLong(0) : 0L;
    }

    @Override
    public Future<Void> ping() {
        return pool.query("SELECT 1").execute().<Void>mapEmpty().recover(e -> unavailable("ping", e));
    }

    @Override
    public Future<Void> close() {
        return pool.close();
    }

    private static <T> Future<T> unavailable(String what, Throwable e) {
        if (e instanceof StoreUnavailableException) {
            return Future.failedFuture(e);
        }
        return Future.failedFuture(new StoreUnavailableException("postgres " + what + " failed: " + e.getMessage(), e));
    }

    private static String[] strings(List<String> list) {
        return list.toArray(new String[0]);
    }

    private static Long[] longs(List<Long> list) {
        return list.toArray(new Long[0]);
    }
}
