package dev.cairn.server.sync;

import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.cairn.server.TestServer;
import dev.cairn.server.store.TestDatabase;
import io.vertx.core.Vertx;

/**
 * The sync scenarios on two server nodes (distinct node ids, each its own Vert.x) sharing one
 * PostgreSQL database. Device {@code i} talks to node {@code i % 2}, so device A's changes reach
 * device B only through the other node: commit on node 0, NOTIFY, node 1 reads the store.
 */
class TwoNodeSyncIT extends SyncScenarios {

    private Vertx admin;
    private TestDatabase db;
    private final TestServer[] servers = new TestServer[2];

    @Override
    protected void startNodes() {
        admin = Vertx.vertx();
        db = TestDatabase.create(admin);
        for (int i = 0; i < servers.length; i++) {
            servers[i] = nodeBuilder(TestServer.postgres(db.url())).nodeId("node-" + i).start();
        }
        assertNotEquals(servers[0].port(), servers[1].port());
    }

    @Override
    protected void stopNodes() {
        try {
            for (TestServer s : servers) {
                if (s != null) {
                    s.close();
                }
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
        return 2;
    }

    @Override
    protected TestServer node(int i) {
        return servers[i];
    }

    @Override
    protected TestDatabase database() {
        return db;
    }
}
