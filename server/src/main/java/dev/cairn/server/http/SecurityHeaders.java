package dev.cairn.server.http;

import io.vertx.core.Handler;
import io.vertx.core.MultiMap;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.util.regex.Pattern;

/**
 * Response headers that make the browser refuse what the demo page never does: run foreign or
 * inline script, be framed, sniff a JSON answer into HTML, leak the URL (with a user name) as a
 * referrer, keep API answers (user data) in a cache. The router's first handler (vertx-web has
 * no one handler for all of them); the {@code /sync} upgrade, which Vert.x takes before the
 * router, calls {@link #apply} itself.
 */
public final class SecurityHeaders {

    /** What may appear in a Host header that goes into the CSP (a host name or IP literal, and a port). */
    private static final Pattern HOST = Pattern.compile("[A-Za-z0-9.\\-]{1,253}(:[0-9]{1,5})?|\\[[0-9A-Fa-f:.]{2,45}\\](:[0-9]{1,5})?");

    /** JSON and text answers: nothing in them may load or run anything. */
    static final String API_CSP = "default-src 'none'; frame-ancestors 'none'";

    private final boolean tls;

    public SecurityHeaders(boolean tls) {
        this.tls = tls;
    }

    /**
     * Mounts the headers on every route, also as a failure handler: an answer the router gives
     * before any handler ran (a request without Host, say) carries them too.
     */
    public void mount(Router router) {
        Handler<RoutingContext> set = ctx -> {
            apply(ctx.request());
            ctx.next();
        };
        router.route().handler(set).failureHandler(set);
    }

    /** Sets the headers on the response of {@code req} before any handler writes it. */
    public void apply(HttpServerRequest req) {
        MultiMap h = req.response().headers();
        h.set("X-Content-Type-Options", "nosniff");
        h.set("Referrer-Policy", "no-referrer");
        h.set("X-Frame-Options", "DENY");
        h.set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()");
        if (tls) {
            h.set("Strict-Transport-Security", "max-age=31536000");
        }
        String path = req.path();
        if (isApi(path)) {
            h.set("Content-Security-Policy", API_CSP);
            h.set("Cache-Control", "no-store");
        } else {
            h.set("Content-Security-Policy", pagePolicy(OriginPolicy.authority(req)));
        }
    }

    static boolean isApi(String path) {
        return path != null && (path.startsWith("/api/") || path.equals("/health") || path.equals("/metrics") || path.equals("/sync"));
    }

    /**
     * The demo page's policy: its own scripts, styles and service worker only; the favicon is a
     * data: URL. connect-src names the socket's ws:/wss: address as well as 'self', because
     * older browsers do not count ws: as 'self'.
     */
    static String pagePolicy(String host) {
        String sockets = host != null && HOST.matcher(host).matches() ? " ws://" + host + " wss://" + host : "";
        return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'" + sockets
                + "; worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
    }
}
