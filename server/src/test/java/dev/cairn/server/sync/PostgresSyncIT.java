package dev.cairn.server.sync;

import dev.cairn.server.TestServer;
import dev.cairn.server.store.TestDatabase;
import io.vertx.core.Vertx;

/** The sync scenarios on one node with PostgreSQL (a throw-away test database; fails if PostgreSQL is down). */
class PostgresSyncIT extends SyncScenarios {

    private Vertx admin;
    private TestDatabase db;
    private TestServer server;

    @Override
    protected void startNodes() {
        admin = Vertx.vertx();
        db = TestDatabase.create(admin);
        server = nodeBuilder(TestServer.postgres(db.url())).nodeId("pg-single").start();
    }

    @Override
    protected void stopNodes() {
        try {
            if (server != null) {
                server.close();
            }
        } finally {
            try {
                if (db != null) {
                    db.close();
                }
            } finally {
                if (admin != null) {
                    TestServer.await(admin.close());
                }
            }
        }
    }

    @Override
    protected int nodes() {
        return 1;
    }

    @Override
    protected TestServer node(int i) {
        return server;
    }

    @Override
    protected TestDatabase database() {
        return db;
    }
}
