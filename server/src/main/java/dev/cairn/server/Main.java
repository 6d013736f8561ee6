package dev.cairn.server;

import ch.qos.logback.classic.LoggerContext;
import io.vertx.core.Vertx;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** {@code java -jar cairn-server.jar}: configuration from the environment (README "Configuration"). */
public final class Main {

    private static final Logger LOG = LoggerFactory.getLogger(Main.class);

    private Main() {
    }

    public static void main(String[] args) {
        ServerConfig config;
        try {
            config = ServerConfig.fromEnv(System.getenv());
        } catch (IllegalArgumentException e) {
            System.err.println("cairn: bad configuration: " + e.getMessage());
            System.exit(2);
            return;
        }
        // every log line carries the node (JSON: context.properties.node) so a cluster's logs can be merged
        if (LoggerFactory.getILoggerFactory() instanceof LoggerContext logs) {
            logs.putProperty("node", config.nodeId());
        }
        Vertx vertx = Vertx.vertx();
        SyncServer server = new SyncServer(config);
        vertx.deployVerticle(server).onSuccess(id -> {
            String where = config.embedded() ? "embedded store in " + config.dataDir().toAbsolutePath() : "PostgreSQL";
            System.out.println("Cairn server on http://localhost:" + server.port() + "/ (" + where + ")");
        }).onFailure(e -> {
            LOG.error("cairn server failed to start: {}", e.getMessage());
            vertx.close();
            System.exit(1);
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> vertx.close().await(), "cairn-shutdown"));
    }
}
