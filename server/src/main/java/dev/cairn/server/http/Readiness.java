package dev.cairn.server.http;

import dev.cairn.server.store.ServerStore;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What {@code /health/ready} checks, each answered {@code up} or {@code down} in a word: the
 * store answers a ping; the fan-out hears other nodes (its LISTEN connection is open); the event
 * loop that serves this node's timers runs on time. Why a check is down goes to the log only.
 */
final class Readiness {

    /** How often the event loop is timed, and how late it may be before it counts as stuck. */
    static final long TICK_MILLIS = 500;
    static final long MAX_LAG_MILLIS = 2_000;
    private static final Logger LOG = LoggerFactory.getLogger(Readiness.class);

    private final ServerStore store;
    private final BooleanSupplier fanoutListening;
    private volatile long lastTickNanos = System.nanoTime();
    private volatile long lagMillis;
    /** Each check's last answer, to log its changes only. */
    private volatile boolean storeUp = true;
    private volatile boolean fanoutUp = true;
    private volatile boolean eventLoopUp = true;

    /** Starts timing the event loop of the calling context (the timer ends with the verticle). */
    Readiness(Vertx vertx, ServerStore store, BooleanSupplier fanoutListening) {
        this.store = store;
        this.fanoutListening = fanoutListening;
        vertx.setPeriodic(TICK_MILLIS, id -> {
            long now = System.nanoTime();
            lagMillis = Math.max(0, (now - lastTickNanos) / 1_000_000 - TICK_MILLIS);
            lastTickNanos = now;
        });
    }

    /** Each check's name and {@code up} or {@code down}, in a fixed order. */
    Future<Map<String, String>> run() {
        Map<String, String> out = new LinkedHashMap<>();
        boolean listening = fanoutListening.getAsBoolean();
        long late = Math.max(lagMillis, (System.nanoTime() - lastTickNanos) / 1_000_000 - TICK_MILLIS);
        boolean onTime = late <= MAX_LAG_MILLIS;
        // Logged when a check goes down (and back up), not at every probe of an orchestrator.
        if (listening != fanoutUp) {
            fanoutUp = listening;
            LOG.warn(listening ? "health check: the fan-out connection is back"
                    : "health check: the fan-out connection is down; this node does not hear other nodes' commits until it is back");
        }
        if (onTime != eventLoopUp) {
            eventLoopUp = onTime;
            LOG.warn(onTime ? "health check: the event loop is on time again" : "health check: the event loop is {} ms late", late);
        }
        return store.ping().transform(ar -> {
            if (ar.succeeded() != storeUp) {
                storeUp = ar.succeeded();
                if (ar.failed()) {
                    LOG.warn("health check: the store did not answer: {}", ar.cause().toString());
                } else {
                    LOG.warn("health check: the store answers again");
                }
            }
            out.put("store", ar.succeeded() ? "up" : "down");
            out.put("fanout", listening ? "up" : "down");
            out.put("eventLoop", onTime ? "up" : "down");
            return Future.succeededFuture(out);
        });
    }
}
