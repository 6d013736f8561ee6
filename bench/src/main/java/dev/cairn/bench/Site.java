package dev.cairn.bench;

import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The server side of one run: 1..n server JVMs on one store. For {@code pg} a fresh database is
 * created and dropped afterwards; several nodes share it and fan out with LISTEN/NOTIFY, as in
 * TwoNodeSyncIT. For {@code embedded} one node keeps its journal in a temp data dir.
 *
 * <p>Settings that differ from the server's defaults, and why: {@code CAIRN_MAX_FRAMES_PER_SECOND}
 * is raised to 1,000,000 because W1 sends one push per change, more than the default 500 a second
 * per socket; {@code CAIRN_MAX_SOCKETS_PER_USER} to 100,000 because W5 connects 1,000 devices of
 * one user (the default allows 32), and {@code CAIRN_MAX_CHANGES_PER_SECOND} to 1,000,000 so the
 * per-socket push limit never throttles W2; {@code CAIRN_LOG_LEVEL=WARN}; a known JWT secret and
 * no dev tokens.
 */
final class Site implements AutoCloseable {

    final String store;
    final List<ServerProcess> nodes = new ArrayList<>();
    private final Ctx ctx;
    private String dbUrl;
    private Path dataDir;

    private Site(Ctx ctx, String store) {
        this.ctx = ctx;
        this.store = store;
    }

    static Site start(Ctx ctx, String store, int nodeCount) {
        return start(ctx, store, nodeCount, Map.of(), List.of());
    }

    /** As above with more environment variables (they win) and JVM options (after {@code --server-jvm}). */
    static Site start(Ctx ctx, String store, int nodeCount, Map<String, String> moreEnv, List<String> moreJvm) {
        Site site = new Site(ctx, store);
        try {
            Map<String, String> env = new LinkedHashMap<>();
            env.put("CAIRN_HOST", "127.0.0.1");
            env.put("CAIRN_PORT", "0");
            env.put("CAIRN_JWT_SECRET", Tokens.SECRET);
            env.put("CAIRN_DEV_TOKENS", "false");
            env.put("CAIRN_MAX_FRAMES_PER_SECOND", "1000000");
            env.put("CAIRN_MAX_SOCKETS_PER_USER", "100000");
            env.put("CAIRN_MAX_CHANGES_PER_SECOND", "1000000");
            env.put("CAIRN_LOG_LEVEL", "WARN");
            if (store.equals("pg")) {
                site.dbUrl = ctx.createDatabase();
                env.put("CAIRN_DATABASE_URL", site.dbUrl);
            } else if (store.equals("embedded")) {
                if (nodeCount != 1) {
                    throw new IllegalArgumentException("the embedded store has one node");
                }
                site.dataDir = ctx.newDir("server-data-");
                env.put("CAIRN_DATA_DIR", site.dataDir.toString());
            } else {
                throw new IllegalArgumentException("store " + store);
            }
            env.putAll(moreEnv);
            List<String> jvm = new ArrayList<>(ctx.args.string("server-jvm").isBlank() ? List.of()
                    : Arrays.asList(ctx.args.string("server-jvm").trim().split("\\s+")));
            jvm.addAll(moreJvm);
            for (int i = 0; i < nodeCount; i++) {
                env.put("CAIRN_NODE_ID", "node-" + i);
                Path log = ctx.work.resolve("logs/server-" + store + "-" + System.nanoTime() + "-node" + i + ".log");
                site.nodes.add(ServerProcess.startJar(ctx.serverJar, env, jvm, log));
            }
            return site;
        } catch (RuntimeException e) {
            site.close();
            throw e;
        }
    }

    /** The sync endpoint for device {@code i}: nodes round-robin. */
    URI syncUri(int i) {
        return nodes.get(i % nodes.size()).syncUri();
    }

    ServerProcess node(int i) {
        return nodes.get(i);
    }

    /** Sum of the nodes' VmRSS in KiB. */
    long rssKiB() {
        return nodes.stream().mapToLong(ServerProcess::rssKiB).sum();
    }

    /** Bytes the embedded store's data dir takes (0 for pg). */
    long dataDirBytes() {
        return dataDir == null ? 0 : Dirs.treeSize(dataDir);
    }

    @Override
    public void close() {
        for (ServerProcess n : nodes) {
            try {
                n.close();
            } catch (RuntimeException e) {
                Ctx.log("stopping a server failed: %s", e);
            }
        }
        if (dbUrl != null) {
            try {
                ctx.dropDatabase(dbUrl);
            } catch (RuntimeException e) {
                Ctx.log("dropping %s failed: %s", dbUrl, e.getMessage());
            }
        }
        if (dataDir != null) {
            Dirs.deleteTree(dataDir);
        }
    }
}
