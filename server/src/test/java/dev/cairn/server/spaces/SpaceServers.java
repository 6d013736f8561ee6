package dev.cairn.server.spaces;

import dev.cairn.server.TestServer;
import dev.cairn.server.store.TestDatabase;
import io.vertx.core.Vertx;

/** A test server on either store, for tests that run on both: {@code "embedded"} or {@code "postgres"} (a fresh database). */
final class SpaceServers implements AutoCloseable {

    final TestServer server;
    private final Vertx admin;
    private final TestDatabase database;

    private SpaceServers(TestServer server, Vertx admin, TestDatabase database) {
        this.server = server;
        this.admin = admin;
        this.database = database;
    }

    static SpaceServers start(String store) {
        if ("embedded".equals(store)) {
            return new SpaceServers(TestServer.embedded().start(), null, null);
        }
        Vertx admin = Vertx.vertx();
        TestDatabase db = TestDatabase.create(admin);
        return new SpaceServers(TestServer.postgres(db.url()).start(), admin, db);
    }

    @Override
    public void close() {
        try {
            server.close();
        } finally {
            if (database != null) {
                database.close();
            }
            if (admin != null) {
                TestServer.await(admin.close());
            }
        }
    }
}
