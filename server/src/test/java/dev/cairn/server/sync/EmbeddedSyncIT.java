package dev.cairn.server.sync;

import dev.cairn.server.TestServer;

/** The sync scenarios on one node with the embedded journal store. */
class EmbeddedSyncIT extends SyncScenarios {

    private TestServer server;

    @Override
    protected void startNodes() {
        server = nodeBuilder(TestServer.embedded()).start();
    }

    @Override
    protected void stopNodes() {
        if (server != null) {
            server.close();
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
}
