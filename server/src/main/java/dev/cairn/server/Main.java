package dev.cairn.server;

import ch.qos.logback.classic.LoggerContext;
import dev.cairn.server.monitoring.Monitoring;
import dev.cairn.server.store.PgServerStore;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Vertx;
import java.util.function.UnaryOperator;
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
        if (args.length > 0) {
            System.exit(command(args, config));
            return;
        }
        // every log line carries the node (JSON: context.properties.node) so a cluster's logs can be merged
        if (LoggerFactory.getILoggerFactory() instanceof LoggerContext logs) {
            logs.putProperty("node", config.nodeId());
        }
        PrometheusMeterRegistry registry = Monitoring.registry();
        Vertx vertx = Monitoring.vertx(registry);
        SyncServer server = new SyncServer(config, UnaryOperator.identity(), registry);
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

    /** {@code java -jar cairn-server.jar migrations}: the schema migrations of CAIRN_DATABASE_URL, then exit. */
    private static int command(String[] args, ServerConfig config) {
        if (args.length != 1 || !args[0].equals("migrations")) {
            System.err.println("usage: java -jar cairn-server.jar [migrations]");
            return 2;
        }
        if (config.embedded()) {
            System.err.println("cairn: migrations needs CAIRN_DATABASE_URL (the embedded store has no schema)");
            return 2;
        }
        Vertx vertx = Vertx.vertx();
        try {
            PgServerStore store = PgServerStore.create(vertx, config.databaseUrl(), 1);
            store.migrationReport().await().forEach(System.out::println);
            return 0;
        } catch (RuntimeException e) {
            LOG.error("cannot read the schema migrations: {}", e.toString());
            System.err.println("cairn: cannot read the schema migrations (see the log)");
            return 1;
        } finally {
            vertx.close().await();
        }
    }
}
