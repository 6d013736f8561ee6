package dev.cairn.server.faults;

import dev.cairn.server.ServerConfig;
import dev.cairn.server.SyncServer;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.util.Map;

/**
 * A sync server in its own JVM, for tests that kill it ({@link ServerKillIT}):
 * {@code ServerChild <port> <secret> <embedded data dir | postgresql://...> <applied log> <haltAfterCommit or 0> [maxFrameBytes]}.
 * Prints {@code READY <port>} once it listens. Its store is wrapped in {@link AppliedLogStore}.
 */
public final class ServerChild {

    private ServerChild() {
    }

    public static void main(String[] args) {
        int port = Integer.parseInt(args[0]);
        String secret = args[1];
        String where = args[2];
        Path appliedLog = Path.of(args[3]);
        int haltAfter = Integer.parseInt(args[4]);
        boolean postgres = where.startsWith("postgresql://");
        Map<String, String> env = new java.util.HashMap<>(Map.of("CAIRN_HOST", "127.0.0.1", "CAIRN_DB_POOL_SIZE", "4"));
        if (args.length > 5) {
            env.put("CAIRN_MAX_FRAME_BYTES", args[5]); // BrowserClientFaultIT: a small limit, for its 1009 storms
        }
        ServerConfig config = ServerConfig.fromEnv(env)
                .withPort(port)
                .withDatabaseUrl(postgres ? where : null)
                .withDataDir(postgres ? Path.of("unused-cairn-data") : Path.of(where))
                .withJwtSecret(secret, false);
        Vertx vertx = Vertx.vertx();
        SyncServer server = new SyncServer(config, store -> new AppliedLogStore(store, appliedLog, haltAfter));
        vertx.deployVerticle(server).onSuccess(id -> {
            System.out.println("READY " + server.port());
            System.out.flush();
        }).onFailure(e -> {
            System.out.println("FAILED " + e);
            System.out.flush();
            Runtime.getRuntime().halt(3);
        });
    }
}
