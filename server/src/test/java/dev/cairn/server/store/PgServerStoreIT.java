package dev.cairn.server.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.crdt.Change;
import dev.cairn.server.store.ServerStore.UserBatch;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgBuilder;
import io.vertx.sqlclient.Pool;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link PgServerStore} against the shared contract on a throw-away database of the local
 * PostgreSQL (see {@link TestDatabase}; the test fails if PostgreSQL is not running), plus
 * migrations, rollback and connection failures.
 */
class PgServerStoreIT extends ServerStoreContract {

    // One database for the class (creating and dropping one per test costs a checkpoint each);
    // every test starts from empty tables.
    private static Vertx adminVertx;
    private static TestDatabase database;

    @BeforeAll
    static void createDatabase() {
        adminVertx = Vertx.vertx();
        database = TestDatabase.create(adminVertx);
    }

    @AfterAll
    static void dropDatabase() throws Exception {
        try {
            if (database != null) {
                database.close();
            }
        } finally {
            await(adminVertx.close());
        }
    }

    @Override
    protected void createBacking(Vertx vertx) throws Exception {
        sql("DO $$ BEGIN IF to_regclass('user_heads') IS NOT NULL THEN "
                + "TRUNCATE user_heads, map_entries, log_entries, log_watermarks, map_watermarks; END IF; "
                + "IF to_regclass('user_usage') IS NOT NULL THEN TRUNCATE user_usage, map_history; END IF; END $$");
    }

    @Override
    protected ServerStore openStore(Vertx vertx) {
        return PgServerStore.create(vertx, database.url(), 8);
    }

    @Override
    protected void destroyBacking() {
        // The class's database is dropped after the last test.
    }

    private static void sql(String statement) throws Exception {
        Pool pool = PgBuilder.pool().connectingTo(database.connectOptions()).using(adminVertx).build();
        try {
            await(pool.query(statement).execute());
        } finally {
            await(pool.close());
        }
    }

    /**
     * PROTOCOL.md 8.2 on several nodes: a push's guard and a removal committed by another node are
     * serialized; a guard that waited for the removal's row lock sees the removal. The same for a
     * guard of writes only (a push), whose failure is raised at the end of its key's statements.
     */
    @Test
    void aGuardWaitsForAConcurrentRemovalAndSeesIt() throws Exception {
        String space = "space:s9";
        commit(space, set("members", "bob", "{\"role\":\"editor\"}", 1, "server"));
        for (int round = 0; round < 4; round++) {
            boolean writesOnly = round >= 2, removalCommits = round % 2 == 0;
            long hlc = 10 + 200L * round;   // a new change each round: one already stored would be acknowledged
            ServerStore.Guard guard = new ServerStore.Guard(space, "members", "bob", java.util.Set.of("owner", "editor"), writesOnly);
            Pool other = PgBuilder.pool().connectingTo(database.connectOptions()).using(adminVertx).build();
            try {
                io.vertx.sqlclient.SqlConnection conn = await(other.getConnection());
                await(conn.query("BEGIN").execute());
                // the other node's removal, not yet committed: it holds the member row's lock
                await(conn.query("UPDATE map_entries SET value = NULL, hlc = hlc + 1 WHERE user_id = '" + space
                        + "' AND section = 'members' AND key = 'bob'").execute());
                Future<java.util.Map<String, ServerStore.CommitResult>> push = store.commit(List.of(
                        new UserBatch(space, List.of(set("cards", "c", "1", hlc, "bob-phone")), guard)));
                Thread.sleep(300);
                assertFalse(push.isComplete(), "the guard waits for the removal's lock");
                await(conn.query(removalCommits ? "COMMIT" : "ROLLBACK").execute());
                if (removalCommits) {
                    GuardFailedException refused = assertInstanceOf(GuardFailedException.class, failureOf(push));
                    assertEquals(null, refused.foundRole(), "the guard sees the removal that committed while it waited");
                    commit(space, set("members", "bob", "{\"role\":\"editor\"}", hlc + 100, "server"));
                } else {
                    assertEquals(1, await(push).get(space).applied().size(), "a rolled back removal lets the push through");
                }
                await(conn.close());
            } finally {
                await(other.close());
            }
        }
    }

    @Test
    void nodesStartingAtOnceApplyEachMigrationOnce() throws Exception {
        try (TestDatabase fresh = TestDatabase.create(vertx)) {
            List<ServerStore> nodes = new ArrayList<>();
            List<Future<Void>> starts = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                ServerStore node = PgServerStore.create(vertx, fresh.url(), 2);
                nodes.add(node);
                starts.add(node.start());
            }
            try {
                for (Future<Void> start : starts) {
                    await(start);
                }
                int migrations = Migrations.fromClasspath().size();
                Pool pool = PgBuilder.pool().connectingTo(fresh.connectOptions()).using(vertx).build();
                try {
                    assertEquals(migrations, (long) await(pool.query("SELECT count(*) FROM cairn_migrations").execute())
                            .iterator().next().getLong(0));
                } finally {
                    await(pool.close());
                }
                assertEquals(1, await(nodes.get(3).commit(List.of(new UserBatch("alice",
                        List.of(set("prefs", "theme", "\"dark\"", 1, "phone")))))).get("alice").applied().size());
            } finally {
                for (ServerStore node : nodes) {
                    await(node.close());
                }
            }
        }
    }

    @Test
    void anEditedMigrationIsRejected() throws Exception {
        try (TestDatabase fresh = TestDatabase.create(vertx)) {
            ServerStore first = PgServerStore.create(vertx, fresh.url(), 1);
            await(first.start());
            await(first.close());
            Pool pool = PgBuilder.pool().connectingTo(fresh.connectOptions()).using(vertx).build();
            try {
                await(pool.query("UPDATE cairn_migrations SET checksum = 'edited' WHERE version = 1").execute());
            } finally {
                await(pool.close());
            }
            ServerStore other = PgServerStore.create(vertx, fresh.url(), 1);
            try {
                Throwable failure = failureOf(other.start());
                assertInstanceOf(IllegalStateException.class, failure);
                assertTrue(failure.getMessage().contains("V1__init.sql was changed"), failure.getMessage());
            } finally {
                await(other.close());
            }
        }
    }

    @Test
    void aMapSectionClearDeletesTheSectionsRows() throws Exception {
        List<Change> writes = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            writes.add(set("prefs", "k" + i, "\"" + "v".repeat(100) + "\"", 10 + i, "phone"));
        }
        for (int i = 0; i < 50; i++) {
            writes.add(delete("prefs", "gone" + i, 300 + i, "phone"));
        }
        writes.add(set("cards", "x", "true", 5, "phone"));
        commit(new UserBatch("alice", writes));
        commit("bob", set("prefs", "k1", "1", 10, "phone"));
        assertEquals(250, count("SELECT count(*) FROM map_entries WHERE user_id = 'alice' AND section = 'prefs'"));

        commit("alice", clearSection("prefs", 1_000, "phone"));
        assertEquals(0, count("SELECT count(*) FROM map_entries WHERE user_id = 'alice' AND section = 'prefs'"),
                "a cleared section's values and tombstones are deleted at once");
        assertEquals(1, count("SELECT count(*) FROM map_watermarks WHERE user_id = 'alice' AND section = 'prefs'"));
        assertEquals(1, count("SELECT count(*) FROM map_entries WHERE user_id = 'alice' AND section = 'cards'"), "other sections stay");
        assertEquals(1, count("SELECT count(*) FROM map_entries WHERE user_id = 'bob'"), "other users stay");
        // an offline device's older write cannot create a row again
        commit("alice", set("prefs", "k1", "\"offline\"", 999, "phone"));
        assertEquals(0, count("SELECT count(*) FROM map_entries WHERE user_id = 'alice' AND section = 'prefs'"));
    }

    private static long count(String sql) throws Exception {
        Pool pool = PgBuilder.pool().connectingTo(database.connectOptions()).using(adminVertx).build();
        try {
            return await(pool.query(sql).execute()).iterator().next().getLong(0);
        } finally {
            await(pool.close());
        }
    }

    @Test
    void aFailedGroupCommitRollsBackEveryUser() throws Exception {
        commit("alice", set("prefs", "theme", "\"dark\"", 1, "phone"));
        // PostgreSQL text cannot hold NUL: the second user's statement fails after alice's ran.
        Throwable failure = failureOf(store.commit(List.of(
                new UserBatch("alice", List.of(set("prefs", "theme", "\"light\"", 2, "phone"), append("chat", "c", "\"hi\"", 2, "phone"))),
                new UserBatch("zed", List.of(set("prefs", "theme", "\"a\u0000b\"", 2, "phone"))))));
        assertInstanceOf(StoreUnavailableException.class, failure);
        assertEquals(1L, await(store.head("alice")));
        assertEquals(0L, await(store.head("zed")));
        assertEquals(List.of(set("prefs", "theme", "\"dark\"", 1, "phone")),
                readAll("alice", 0, 10).stream().map(ServerStore.Sequenced::change).toList());
        // The pool is healthy afterwards.
        assertEquals(1, commit("alice", set("prefs", "theme", "\"light\"", 2, "phone")).applied().size());
    }

    private static List<io.vertx.sqlclient.Row> rows(String query) throws Exception {
        Pool pool = PgBuilder.pool().connectingTo(database.connectOptions()).using(adminVertx).build();
        try {
            List<io.vertx.sqlclient.Row> out = new ArrayList<>();
            await(pool.query(query).execute()).forEach(out::add);
            return out;
        } finally {
            await(pool.close());
        }
    }

    @Test
    void usageAndHistoryAreRowsWrittenInTheCommitsTransaction() throws Exception {
        ServerStore.Limits quota = new ServerStore.Limits(50, 60_000, 7_000);
        commit(quota, batch("alice", set("prefs", "theme", "\"light\"", 1, "phone"), append("chat", "c", "\"hé\"", 1, "phone")));
        commit(quota, batch("alice", set("prefs", "theme", "\"dark\"", 2, "phone")));
        long expected = utf8("theme") + utf8("\"dark\"") + utf8("c") + utf8("\"hé\"");
        List<io.vertx.sqlclient.Row> usage = rows("SELECT used_bytes, pending_bytes FROM user_usage WHERE user_id = 'alice'");
        assertEquals(1, usage.size());
        assertEquals(expected, usage.get(0).getLong(0));
        assertEquals(0L, usage.get(0).getLong(1), "pending_bytes is settled to 0 by the end of every commit");
        assertEquals(expected, (long) await(store.usage("alice")));
        // the table agrees with a recount from the data
        assertEquals(expected, rows("SELECT sum(octet_length(key) + octet_length(value)) FROM map_entries WHERE user_id = 'alice' AND value IS NOT NULL")
                .get(0).getLong(0) + rows("SELECT sum(octet_length(stream) + octet_length(value)) FROM log_entries WHERE user_id = 'alice'")
                .get(0).getLong(0));
        List<io.vertx.sqlclient.Row> history = rows("SELECT section, key, value, hlc, replica, replaced_at FROM map_history WHERE user_id = 'alice'");
        assertEquals(1, history.size());
        assertEquals("\"light\"", history.get(0).getString(2));
        assertEquals(1L, history.get(0).getLong(3));
        assertEquals("phone", history.get(0).getString(4));
        assertEquals(7_000L, history.get(0).getLong(5));
        // a refused commit leaves every table as it was
        String big = "\"" + "x".repeat(60) + "\"";
        assertInstanceOf(QuotaExceededException.class, failureOf(store.commit(List.of(
                batch("alice", set("prefs", "theme", big, 3, "phone"))), quota)));
        usage = rows("SELECT used_bytes, pending_bytes FROM user_usage WHERE user_id = 'alice'");
        assertEquals(expected, usage.get(0).getLong(0));
        assertEquals(0L, usage.get(0).getLong(1));
        assertEquals(1, rows("SELECT 1 FROM map_history WHERE user_id = 'alice'").size());
        assertEquals("\"dark\"", rows("SELECT value FROM map_entries WHERE user_id = 'alice' AND key = 'theme'").get(0).getString(0));
        // the pool is healthy afterwards
        commit(quota, batch("alice", delete("prefs", "theme", 4, "phone")));
        assertEquals(utf8("c") + utf8("\"hé\""), rows("SELECT used_bytes FROM user_usage WHERE user_id = 'alice'").get(0).getLong(0));
        assertEquals(2, rows("SELECT 1 FROM map_history WHERE user_id = 'alice'").size());
    }

    @Test
    void theMigrationCountsDataWrittenBeforeIt() throws Exception {
        try (TestDatabase fresh = TestDatabase.create(vertx)) {
            ServerStore first = PgServerStore.create(vertx, fresh.url(), 1);
            await(first.start());
            await(first.commit(List.of(batch("alice", set("prefs", "thème", "\"ü\"", 1, "phone"), append("chat", "c", "\"x\"", 1, "phone")))));
            await(first.close());
            Pool pool = PgBuilder.pool().connectingTo(fresh.connectOptions()).using(vertx).build();
            try {
                // as a V1/V2 database with data: no usage rows, V3 not applied yet (nor V5, which extends its table)
                await(pool.query("DROP TABLE user_usage; DROP TABLE map_history; DROP FUNCTION cairn_settle_usage(text, bigint); "
                        + "DELETE FROM cairn_migrations WHERE version IN (3, 5)").execute());
            } finally {
                await(pool.close());
            }
            ServerStore again = PgServerStore.create(vertx, fresh.url(), 1);
            try {
                await(again.start());
                assertEquals(utf8("thème") + utf8("\"ü\"") + utf8("c") + utf8("\"x\""), (long) await(again.usage("alice")));
            } finally {
                await(again.close());
            }
        }
    }

    @Test
    void anUnreachableDatabaseFailsAsUnavailable() throws Exception {
        ServerStore nowhere = PgServerStore.create(vertx, "postgresql://postgres@127.0.0.1:1/cairn", 1);
        try {
            assertInstanceOf(StoreUnavailableException.class, failureOf(nowhere.start()));
            assertInstanceOf(StoreUnavailableException.class, failureOf(nowhere.ping()));
            assertInstanceOf(StoreUnavailableException.class, failureOf(nowhere.commit(List.of(
                    new UserBatch("alice", List.of(set("prefs", "theme", "\"dark\"", 1, "phone")))))));
            assertInstanceOf(StoreUnavailableException.class, failureOf(nowhere.readSince("alice", 0, 10)));
        } finally {
            await(nowhere.close());
        }
    }

    @Test
    void badSettingsAreRejectedWithTheirName() {
        IllegalArgumentException size = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> PgServerStore.create(vertx, database.url(), 0));
        assertTrue(size.getMessage().contains("pool size"), size.getMessage());
        IllegalArgumentException url = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> PgServerStore.create(vertx, "mysql://nowhere", 1));
        assertTrue(url.getMessage().contains("PostgreSQL URL"), url.getMessage());
    }
}
