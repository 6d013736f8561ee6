package dev.cairn.server.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
                + "TRUNCATE user_heads, map_entries, log_entries, log_watermarks, map_watermarks; END IF; END $$");
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
