package dev.cairn.server.http;

import static dev.cairn.server.http.ApiErrors.error;

import dev.cairn.server.auth.TokenAuth;
import dev.cairn.server.monitoring.ServerMetrics;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

/** The routes without a user: {@code /health}, {@code /metrics} and the demo's dev token. */
final class AdminApi {

    private final Readiness readiness;
    private final ServerMetrics metrics;
    private final TokenAuth auth;
    private final boolean devTokens;

    AdminApi(Readiness readiness, ServerMetrics metrics, TokenAuth auth, boolean devTokens) {
        this.readiness = readiness;
        this.metrics = metrics;
        this.auth = auth;
        this.devTokens = devTokens;
    }

    /** {@code /health/live}: the process answers HTTP. An orchestrator restarts a node that does not. */
    void live(RoutingContext ctx) {
        ctx.json(new JsonObject().put("status", "up"));
    }

    /**
     * {@code /health/ready} (and {@code /health}): 200 when every check is up, else 503, with each
     * check's word; an orchestrator sends no traffic to a node that is not ready.
     */
    void ready(RoutingContext ctx) {
        readiness.run().onSuccess(checks -> {
            // Anyone may call it: the answer names no database, driver or error text (those go to the log).
            boolean up = checks.values().stream().allMatch("up"::equals);
            JsonObject body = new JsonObject().put("status", up ? "up" : "down").put("checks", new JsonObject(new java.util.LinkedHashMap<>(checks)));
            if (!checks.get("store").equals("up")) {
                body.put("reason", "store-unavailable");
            } else if (!up) {
                body.put("reason", checks.get("fanout").equals("up") ? "event-loop-stuck" : "fanout-down");
            }
            ctx.response().setStatusCode(up ? 200 : 503);
            ctx.json(body);
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
