package dev.cairn.server.http;

import dev.cairn.server.auth.TokenAuth;
import dev.cairn.server.space.MembershipException;
import dev.cairn.server.store.QuotaExceededException;
import dev.cairn.server.store.StoreUnavailableException;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Error answers in PROTOCOL.md's shape ({@code {"error":code,"message":...}}). A failure's cause
 * (store, driver, exception text) goes to the log, never into the answer.
 */
final class ApiErrors {

    private static final Logger LOG = LoggerFactory.getLogger(ApiErrors.class);

    private ApiErrors() {
    }

    static void error(RoutingContext ctx, int status, String code, String message) {
        if (ctx.response().ended()) {
            return;
        }
        ctx.response().setStatusCode(status).putHeader("content-type", "application/json")
                .end(new JsonObject().put("error", code).put("message", message).encode());
    }

    /** 401 for a request whose token the authentication handler refused. */
    static void unauthorized(RoutingContext ctx) {
        ctx.response().putHeader("WWW-Authenticate", "Bearer");
        error(ctx, 401, "unauthorized", refusedToken(ctx.failure()));
    }

    /** Why a token was refused: TokenAuth's words (never the token or a library's text), found in the failure's causes. */
    static String refusedToken(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof TokenAuth.AuthException) {
                return t.getMessage();
            }
        }
        return "invalid token";
    }

    /** The failure handler of every API route: Vert.x's statuses and the store's exceptions in the API's shape. */
    static void failure(RoutingContext ctx, int maxBodyBytes) {
        if (ctx.response().ended()) {
            return;
        }
        int status = ctx.statusCode();
        if (status == 401) {
            unauthorized(ctx);
        } else if (status == 403) {
            // vertx-web's CorsHandler refusing an Origin it cannot parse (with CAIRN_ALLOWED_ORIGINS=*)
            error(ctx, 403, "forbidden-origin", OriginPolicy.refusal(ctx.request().getHeader("Origin")));
        } else if (status == 413) {
            error(ctx, 413, "too-large", "request body is larger than " + maxBodyBytes + " bytes");
        } else if (status == 405) {
            error(ctx, 405, "method-not-allowed", ctx.request().method() + " is not allowed on " + ctx.request().path());
        } else if (status == 404) {
            error(ctx, 404, "not-found", "no such endpoint: " + ctx.request().path());
        } else if (status >= 400 && status < 500) {
            error(ctx, status, "bad-request", "request refused");
        } else {
            Throwable cause = ctx.failure();
            if (cause instanceof MembershipException refused) {
                error(ctx, refused.kind().status, refused.kind().code, refused.getMessage());
            } else if (cause instanceof QuotaExceededException quota) {
                // 413: with what the user already holds, the content is more than the server will keep for them.
                ctx.response().setStatusCode(413).putHeader("content-type", "application/json")
                        .end(new JsonObject().put("error", "quota-exceeded").put("message", quota.getMessage())
                                .put("usedBytes", quota.usedBytes()).put("wouldUseBytes", quota.wouldUseBytes())
                                .put("quotaBytes", quota.quotaBytes()).encode());
            } else if (cause instanceof StoreUnavailableException) {
                RequestIds.fields(LOG.atWarn(), ctx).log("store unavailable path={}: {}", ctx.request().path(), cause.toString());
                error(ctx, 503, "unavailable", "the store failed; try again");
            } else {
                RequestIds.fields(LOG.atError(), ctx).setCause(cause).log("request failed path={}", ctx.request().path());
                error(ctx, 500, "internal", "the server failed to handle the request");
            }
        }
    }
}
