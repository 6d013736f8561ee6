package dev.cairn.server.fanout;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.pgclient.PgConnection;
import io.vertx.pgclient.pubsub.PgSubscriber;
import io.vertx.sqlclient.Tuple;
import java.nio.charset.StandardCharsets;
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
 * {@code {"node":"a1b2","heads":{"alice":1350,"bob":7}}}; a node ignores its own. Presence
 * (PROTOCOL.md 8.6) travels on the same channel, coalesced the same way, as
 * {@code {"node":"a1b2","presence":[{"space":...,"user":...,"replica":...,"state":"<JSON text>"|null}]}};
 * it is ephemeral, so a NOTIFY that fails is not retried (the replica's next refresh carries it).
 *
 * <p>It listens through vertx-pg-client's {@link PgSubscriber}: its reconnect policy re-opens a
 * dropped connection and LISTENs again, and the channel's subscribe handler, called after each
 * re-LISTEN, asks for a resync: every local session re-reads its user's head, so nothing published
 * meanwhile is missed. NOTIFYs go out on the same connection. A NOTIFY that fails keeps its heads
 * queued for the next flush; and every node re-reads its users' heads every 30 s as a safety net
 * for anything still lost (SyncServer).
 */
public final class PgNotifyFanout implements Fanout {

    public static final String CHANNEL = "cairn_heads";
    static final int COALESCE_MS = 2;
    private static final int MAX_PAYLOAD = 7000;
    private static final long FIRST_RETRY_MS = 500;
    private static final long MAX_RETRY_MS = 5000;
    private static final Logger LOG = LoggerFactory.getLogger(PgNotifyFanout.class);

    private final Vertx vertx;
    private final PgSubscriber subscriber;
    private final String nodeId;
    private final Map<String, Long> pending = new LinkedHashMap<>();
    /** Presence items to send with the next flush (ephemeral: dropped if there is no connection). */
    private final java.util.List<JsonObject> pendingPresence = new java.util.ArrayList<>();
    private BiConsumer<String, Long> remoteHead;
    private BiConsumer<String, JsonObject> remotePresence = (node, item) -> { };
    private Runnable resync;
    /**
     * The connection on which LISTEN last succeeded. Listening while it is still the subscriber's
     * connection: the subscriber drops its connection as soon as it closes, and a re-opened one
     * counts only once its LISTEN is done. Read by health checks on any thread.
     */
    private volatile PgConnection listeningOn;
    private int subscriptions;
    private boolean flushScheduled;
    private boolean closed;

    public PgNotifyFanout(Vertx vertx, String databaseUrl, String nodeId) {
        this.vertx = vertx;
        this.nodeId = nodeId;
        // Reconnect forever: a node that gives up no longer hears other nodes until it restarts,
        // and /health/ready would say so for good. The delay is bounded (500 ms, doubling to 5 s)
        // so a database that comes back is heard within seconds without hammering one that is down.
        this.subscriber = PgSubscriber.subscriber(vertx, PgConnectOptions.fromUri(databaseUrl))
                .reconnectPolicy(retries -> {
                    if (retries == 0) {
                        // the policy is asked with 0 exactly when an open connection was lost
                        LOG.warn("fan-out connection lost; reconnecting");
                    }
                    return Math.min(MAX_RETRY_MS, FIRST_RETRY_MS << Math.min(retries, 4));
                });
    }

    @Override
    public Future<Void> start(BiConsumer<String, Long> remoteHead, Runnable resync) {
        this.remoteHead = remoteHead;
        this.resync = resync;
        subscriber.channel(CHANNEL)
                .subscribeHandler(v -> onListening())
                .handler(this::onNotification);
        // connect() completes once the channel is LISTENed to on the first connection
        return subscriber.connect()
                .onSuccess(v -> listeningOn = subscriber.actualConnection())
                .onFailure(e -> subscriber.close());
    }

    /** On the home context, each time LISTEN succeeded on a (re-)opened connection. */
    private void onListening() {
        PgConnection c = subscriber.actualConnection();
        if (closed) {
            // a reconnect timer that was pending at close() opened this one: do not keep it
            if (c != null) {
                c.close();
            }
            return;
        }
        listeningOn = c;
        if (++subscriptions > 1) {
            LOG.info("fan-out connection restored; resyncing sessions");
            resync.run();
            flush();
        }
    }

    private void onNotification(String payload) {
        try {
            JsonObject msg = new JsonObject(payload);
            if (nodeId.equals(msg.getString("node"))) {
                return;
            }
            JsonObject heads = msg.getJsonObject("heads");
            if (heads != null) {
                for (String user : heads.fieldNames()) {
                    remoteHead.accept(user, heads.getLong(user));
                }
            }
            io.vertx.core.json.JsonArray presence = msg.getJsonArray("presence");
            if (presence != null) {
                String node = msg.getString("node");
                for (int i = 0; i < presence.size(); i++) {
                    remotePresence.accept(node, presence.getJsonObject(i));
                }
            }
        } catch (RuntimeException e) {
            LOG.warn("ignoring malformed fan-out payload: {}", e.toString());
        }
    }

    @Override
    public boolean listening() {
        PgConnection c = listeningOn;
        return c != null && c == subscriber.actualConnection();
    }

    @Override
    public void publish(String user, long head) {
        pending.merge(user, head, Math::max);
        scheduleFlush();
    }

    @Override
    public void publishPresence(JsonObject item) {
        pendingPresence.add(item);
        scheduleFlush();
    }

    @Override
    public void onPresence(BiConsumer<String, JsonObject> remote) {
        this.remotePresence = remote;
    }

    private void scheduleFlush() {
        if (!flushScheduled) {
            flushScheduled = true;
            vertx.setTimer(COALESCE_MS, id -> {
                flushScheduled = false;
                flush();
            });
        }
    }

    private void flush() {
        PgConnection conn = subscriber.actualConnection();
        if (closed || conn == null) {
            pendingPresence.clear(); // presence is ephemeral: the next refresh (every 2 s) carries it again
            return; // without a connection the heads wait; other nodes resync when it returns
        }
        flushPresence(conn);
        if (pending.isEmpty()) {
            return;
        }
        JsonObject heads = new JsonObject();
        int size = 0;
        var it = pending.entrySet().iterator();
        while (it.hasNext()) {
            var e = it.next();
            // Postgres limits a payload to 8000 bytes: count UTF-8 bytes, not characters.
            int entrySize = e.getKey().getBytes(StandardCharsets.UTF_8).length + 24;
            if (size + entrySize > MAX_PAYLOAD && !heads.isEmpty()) {
                notify(conn, heads);
                heads = new JsonObject();
                size = 0;
            }
            heads.put(e.getKey(), e.getValue());
            size += entrySize;
            it.remove();
        }
        notify(conn, heads);
    }

    /** Presence items in as few NOTIFYs as the payload limit allows; a failed one is not retried (refreshes follow). */
    private void flushPresence(PgConnection conn) {
        io.vertx.core.json.JsonArray items = new io.vertx.core.json.JsonArray();
        int size = 0;
        for (JsonObject item : pendingPresence) {
            String text = item.encode();
            int itemSize = text.getBytes(StandardCharsets.UTF_8).length + 1;
            if (size + itemSize > MAX_PAYLOAD && !items.isEmpty()) {
                notifyPresence(conn, items);
                items = new io.vertx.core.json.JsonArray();
                size = 0;
            }
            items.add(item);
            size += itemSize;
        }
        pendingPresence.clear();
        if (!items.isEmpty()) {
            notifyPresence(conn, items);
        }
    }

    private void notifyPresence(PgConnection conn, io.vertx.core.json.JsonArray items) {
        String payload = new JsonObject().put("node", nodeId).put("presence", items).encode();
        conn.preparedQuery("SELECT pg_notify($1, $2)").execute(Tuple.of(CHANNEL, payload))
                .onFailure(e -> LOG.warn("presence NOTIFY failed (the next refresh carries it): {}", e.toString()));
    }

    private void notify(PgConnection conn, JsonObject heads) {
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
        return subscriber.close();
    }
}
