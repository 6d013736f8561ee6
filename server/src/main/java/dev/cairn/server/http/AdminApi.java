package dev.cairn.server.http;

import static dev.cairn.server.http.ApiErrors.error;

import dev.cairn.server.ServerMetrics;
import dev.cairn.server.auth.TokenAuth;
import dev.cairn.server.store.ServerStore;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The routes without a user: {@code /health}, {@code /metrics} and the demo's dev token. */
final class AdminApi {

    private static final Logger LOG = LoggerFactory.getLogger(AdminApi.class);

    private final ServerStore store;
    private final ServerMetrics metrics;
    private final TokenAuth auth;
    private final boolean devTokens;

    AdminApi(ServerStore store, ServerMetrics metrics, TokenAuth auth, boolean devTokens) {
        this.store = store;
        this.metrics = metrics;
        this.auth = auth;
        this.devTokens = devTokens;
    }

    void health(RoutingContext ctx) {
        store.ping().onComplete(ar -> {
            // Anyone may call /health: the answer names no database, driver or error text (those go to the log).
            if (ar.succeeded()) {
                ctx.json(new JsonObject().put("status", "up"));
            } else {
                LOG.warn("health check: the store did not answer: {}", ar.cause().toString());
                ctx.response().setStatusCode(503);
                ctx.json(new JsonObject().put("status", "down").put("reason", "store-unavailable"));
            }
        });
    }

    void metrics(RoutingContext ctx) {
        ctx.response().putHeader("content-type", "text/plain; version=0.0.4").end(metrics.scrape());
    }

    /** {@code POST /api/dev/token {"user":"alice"}}: the demo's sign-in (CAIRN_DEV_TOKENS). */
    void devToken(RoutingContext ctx) {
        if (!devTokens) {
            error(ctx, 404, "not-found", "dev tokens are disabled on this server (CAIRN_DEV_TOKENS=false)");
            return;
        }
        JsonObject body = JsonBodies.object(ctx);
        if (body == null) {
            return;
        }
        Object requested = body.getValue("user");
        String user = requested instanceof String s ? s : null; // getString would turn {"user":42} into "42"
        try {
            int ttl = 24 * 3600;
            ctx.json(new JsonObject().put("token", auth.mint(user, ttl)).put("user", user).put("expiresIn", ttl));
        } catch (IllegalArgumentException e) {
            error(ctx, 400, "bad-request", e.getMessage());
        }
    }
}
