package dev.cairn.server.fanout;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.pgclient.PgConnection;
import io.vertx.sqlclient.Tuple;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Cross-node fan-out over PostgreSQL LISTEN/NOTIFY.
 *
 * <p>A NOTIFY inside each write transaction would serialize every commit on one global lock (a
 * database then tops out near 500-600 writes/s), so this notifies <b>after</b> commit, coalesced:
 * heads published within {@link #COALESCE_MS} ms travel in one NOTIFY (split if the 8000-byte
 * payload limit requires), and only the latest head per user is sent. Payload:
 * {@code {"node":"a1b2","heads":{"alice":1350,"bob":7}}}; a node ignores its own.
 *
 * <p>If the listening connection drops, it reconnects and asks for a resync: every local session
 * re-reads its user's head, so nothing published meanwhile is missed. A NOTIFY that fails keeps
 * its heads queued for the next flush; and every node re-reads its users' heads every 30 s as a
 * safety net for anything still lost (SyncServer).
 */
public final class PgNotifyFanout implements Fanout {

    public static final String CHANNEL = "cairn_heads";
    static final int COALESCE_MS = 2;
    private static final int MAX_PAYLOAD = 7000;
    private static final Logger LOG = LoggerFactory.getLogger(PgNotifyFanout.class);

    private final Vertx vertx;
    private final PgConnectOptions options;
    private final String nodeId;
    private final Map<String, Long> pending = new LinkedHashMap<>();
    private BiConsumer<String, Long> remoteHead;
    private Runnable resync;
    /** The LISTEN connection; null while it is re-opened. Read by health checks on any thread. */
    private volatile PgConnection conn;
    private boolean flushScheduled;
    private boolean closed;

    public PgNotifyFanout(Vertx vertx, String databaseUrl, String nodeId) {
        this.vertx = vertx;
        this.options = PgConnectOptions.fromUri(databaseUrl);
        this.nodeId = nodeId;
    }

    @Override
    public Future<Void> start(BiConsumer<String, Long> remoteHead, Runnable resync) {
        this.remoteHead = remoteHead;
        this.resync = resync;
        return connect();
    }

    private Future<Void> connect() {
        return PgConnection.connect(vertx, options).compose(c -> {
            c.notificationHandler(n -> {
                if (CHANNEL.equals(n.getChannel())) {
                    onNotification(n.getPayload());
                }
            });
            c.closeHandler(v -> {
                if (conn != c) {
                    return; // an older connection; the current one is fine
                }
                conn = null;
                if (!closed) {
                    LOG.warn("fan-out connection lost; reconnecting");
                    vertx.setTimer(500, id -> reconnect());
                }
            });
            return c.query("LISTEN " + CHANNEL).execute()
                    .<Void>mapEmpty()
                    .onSuccess(v -> conn = c)
                    .onFailure(e -> c.close());
        });
    }

    private void reconnect() {
        if (closed) {
            return;
        }
        connect().onSuccess(v -> {
            LOG.info("fan-out connection restored; resyncing sessions");
            resync.run();
            flush();
        }).onFailure(e -> vertx.setTimer(1000, id -> reconnect()));
    }

    private void onNotification(String payload) {
        try {
            JsonObject msg = new JsonObject(payload);
            if (nodeId.equals(msg.getString("node"))) {
                return;
            }
            JsonObject heads = msg.getJsonObject("heads");
            for (String user : heads.fieldNames()) {
                remoteHead.accept(user, heads.getLong(user));
            }
        } catch (RuntimeException e) {
            LOG.warn("ignoring malformed fan-out payload: {}", e.toString());
        }
    }

    @Override
    public boolean listening() {
        return conn != null;
    }

    @Override
    public void publish(String user, long head) {
        pending.merge(user, head, Math::max);
        if (!flushScheduled) {
            flushScheduled = true;
            vertx.setTimer(COALESCE_MS, id -> {
                flushScheduled = false;
                flush();
            });
        }
    }

    private void flush() {
        if (closed || pending.isEmpty() || conn == null) {
            return; // without a connection the heads wait; other nodes resync when it returns
        }
        JsonObject heads = new JsonObject();
        int size = 0;
        var it = pending.entrySet().iterator();
        while (it.hasNext()) {
            var e = it.next();
            // Postgres limits a payload to 8000 bytes: count UTF-8 bytes, not characters.
            int entrySize = e.getKey().getBytes(java.nio.charset.StandardCharsets.UTF_8).length + 24;
            if (size + entrySize > MAX_PAYLOAD && !heads.isEmpty()) {
                notify(heads);
                heads = new JsonObject();
                size = 0;
            }
            heads.put(e.getKey(), e.getValue());
            size += entrySize;
            it.remove();
        }
        notify(heads);
    }

    private void notify(JsonObject heads) {
        String payload = new JsonObject().put("node", nodeId).put("heads", heads).encode();
        conn.preparedQuery("SELECT pg_notify($1, $2)").execute(Tuple.of(CHANNEL, payload))
                .onFailure(e -> {
                    // Keep the heads: they go out with the next flush (or after reconnecting).
                    LOG.warn("NOTIFY failed, will retry: {}", e.toString());
                    for (String user : heads.fieldNames()) {
                        pending.merge(user, heads.getLong(user), Math::max);
                    }
                    if (!flushScheduled) {
                        flushScheduled = true;
                        vertx.setTimer(250, id -> {
                            flushScheduled = false;
                            flush();
                        });
                    }
                });
    }

    @Override
    public Future<Void> close() {
        closed = true;
        return conn == null ? Future.succeededFuture() : conn.close();
    }
}
