package dev.cairn.server.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgBuilder;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Migrations on a real PostgreSQL: one transaction per script, and scripts that must run outside one. */
class MigrationsIT {

    private Vertx vertx;
    private TestDatabase database;
    private Pool pool;

    @BeforeEach
    void setUp() {
        vertx = Vertx.vertx();
        database = TestDatabase.create(vertx);
        pool = PgBuilder.pool().with(new PoolOptions().setMaxSize(2)).connectingTo(database.connectOptions()).using(vertx).build();
    }

    @AfterEach
    void tearDown() throws Exception {
        try {
            await(pool.close());
            database.close();
        } finally {
            await(vertx.close());
        }
    }

    @Test
    void aConcurrentIndexOnATableWithRowsIsBuiltAtStart() throws Exception {
        List<Migrations.Migration> shipped = Migrations.fromClasspath();
        assertEquals(shipped.size(), await(Migrations.apply(pool, shipped)));
        await(pool.query("INSERT INTO map_entries (user_id, section, key, value, hlc, replica, seq) "
                + "SELECT 'u' || (i % 100), 'state', 'k' || i, '1', i, 'r', i FROM generate_series(1, 50000) AS i").execute());

        List<Migrations.Migration> next = new ArrayList<>(shipped);
        next.add(Migrations.Migration.of(shipped.size() + 1, "map_entries_by_stamp", Migrations.NO_TRANSACTION + "\n"
                + "CREATE INDEX CONCURRENTLY IF NOT EXISTS map_entries_by_stamp ON map_entries (user_id, hlc);\n"));
        assertFalse(next.get(shipped.size()).transactional());
        assertEquals("pending", await(Migrations.info(pool, next)).get(shipped.size()).state());

        assertEquals(1, await(Migrations.apply(pool, next)), "the new script runs (inside a transaction PostgreSQL would refuse it)");
        assertTrue(await(pool.query("SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                + "WHERE c.relname = 'map_entries_by_stamp'").execute()).iterator().next().getBoolean(0), "a valid index");
        assertEquals(0, await(Migrations.apply(pool, next)), "each script runs once");

        List<Migrations.Info> info = await(Migrations.info(pool, next));
        assertEquals(next.size(), info.size());
        assertTrue(info.stream().allMatch(i -> i.state().equals("applied") && i.appliedAt() != null), info.toString());
        assertFalse(info.get(shipped.size()).transactional());
    }

    @Test
    void aFailingScriptKeepsTheScriptsBeforeItAndLeavesNothingOfItself() throws Exception {
        List<Migrations.Migration> next = new ArrayList<>(Migrations.fromClasspath());
        int good = next.size() + 1;
        next.add(Migrations.Migration.of(good, "good", "CREATE TABLE good_one (x int);"));
        next.add(Migrations.Migration.of(good + 1, "bad", "CREATE TABLE half_done (x int);\nSELECT no_such_function();"));

        Exception e = assertThrows(Exception.class, () -> await(Migrations.apply(pool, next)));
        assertTrue(e.getMessage().contains("V" + (good + 1) + "__bad.sql failed"), e.getMessage());
        assertTrue(exists("good_one"), "the script before it stays applied");
        assertFalse(exists("half_done"), "nothing of the failed script is kept");
        List<Migrations.Info> info = await(Migrations.info(pool, next));
        assertEquals("applied", info.get(good - 1).state());
        assertEquals("pending", info.get(good).state());
    }

    @Test
    void aScriptOutsideATransactionMustBeOneStatement() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Migrations.Migration.of(9, "two",
                Migrations.NO_TRANSACTION + "\nCREATE INDEX CONCURRENTLY a ON map_entries (hlc);\nCREATE INDEX CONCURRENTLY b ON map_entries (seq);"));
        assertTrue(e.getMessage().contains("exactly one statement"), e.getMessage());
        // comments and a missing final semicolon do not count
        assertFalse(Migrations.Migration.of(9, "one", Migrations.NO_TRANSACTION + "\n-- why; because\nCREATE INDEX CONCURRENTLY a ON t (x)").transactional());
    }

    private boolean exists(String table) throws Exception {
        return await(pool.query("SELECT to_regclass('" + table + "') IS NOT NULL").execute()).iterator().next().getBoolean(0);
    }

    private static <T> T await(Future<T> future) throws Exception {
        return future.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    }
}
