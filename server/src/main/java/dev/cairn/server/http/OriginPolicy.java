package dev.cairn.server.http;

import io.vertx.core.Handler;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.net.HostAndPort;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.CorsHandler;
import java.net.URI;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;

/**
 * Which browser origins may open a socket or change data (README "Configuration",
 * {@code CAIRN_ALLOWED_ORIGINS}). Browsers send {@code Origin} on WebSocket upgrades and on
 * cross-site writes, and a page on another site could otherwise use a user's stored token
 * (WebSockets are not covered by CORS). So: a request without {@code Origin} (the JVM client,
 * curl) passes; one whose {@code Origin} is the server itself (same host and port as the
 * {@code Host} header or HTTP/2 authority) passes; one from a listed origin passes; anything else gets 403 before
 * the upgrade or the write.
 *
 * <p>The one list of allowed origins for both ways in: the {@code /sync} upgrade (which Vert.x
 * takes before the router) asks {@link #allows}; the router runs the handlers of {@link #mount}.
 */
public final class OriginPolicy {

    /** The WebSocket endpoint: an upgrade to it is checked like a write. */
    public static final String SYNC_PATH = "/sync";
    /**
     * Headers a listed origin's script may read (not CORS-safelisted): the export's entry count,
     * a refusal's Retry-After and the request id to quote in a report.
     */
    static final List<String> EXPOSED_HEADERS = List.of("x-cairn-export-entries", "Retry-After", RequestIds.HEADER);
    /** Headers a listed origin's script may send: the token, a JSON body's type, its own request id. */
    static final List<String> ALLOWED_HEADERS = List.of("Authorization", "Content-Type", RequestIds.HEADER);

    private final List<String> allowed;
    private final boolean any;

    /** @param allowed lower-case {@code scheme://host[:port]} origins, or {@code *} for any */
    public OriginPolicy(List<String> allowed) {
        this.allowed = List.copyOf(allowed);
        this.any = allowed.contains("*");
    }

    /** True if the request may go on; only upgrades to {@code syncPath} and writes are checked. */
    public boolean allows(HttpServerRequest req, String syncPath) {
        String origin = req.getHeader("Origin");
        if (origin == null) {
            return true;
        }
        if (!syncPath.equals(req.path()) && !writes(req.method())) {
            return true; // a cross-site read gets no CORS headers, so the page cannot see the answer
        }
        return sameOrigin(origin, authority(req)) || listed(origin);
    }

    /**
     * Where the request was sent, {@code host[:port]}: the Host header in HTTP/1.1, the
     * {@code :authority} in HTTP/2 (which has no Host header); null if neither.
     */
    public static String authority(HttpServerRequest req) {
        HostAndPort a = req.authority();
        if (a == null || a.host() == null || a.host().isEmpty()) {
            return null;
        }
        String host = a.host().indexOf(':') >= 0 && !a.host().startsWith("[") ? "[" + a.host() + "]" : a.host();
        return a.port() >= 0 ? host + ":" + a.port() : host;
    }

    /** True if the request comes from a listed origin other than the server's own (it gets CORS headers). */
    public boolean crossOriginAllowed(HttpServerRequest req) {
        String origin = req.getHeader("Origin");
        return origin != null && !sameOrigin(origin, authority(req)) && listed(origin);
    }

    /** The answer's message for a refused origin. */
    public static String refusal(String origin) {
        return "requests from origin " + origin + " are not allowed (same origin only; see CAIRN_ALLOWED_ORIGINS)";
    }

    /** The router's handlers for every route: the origin check, then CORS for listed origins. */
    public void mount(Router router) {
        router.route().handler(this::guard);
        router.route().handler(cors());
    }

    /** Router handler: a write from an origin that is not allowed gets 403 before anything reads it. */
    private void guard(RoutingContext ctx) {
        if (allows(ctx.request(), SYNC_PATH)) {
            ctx.next();
        } else {
            ApiErrors.error(ctx, 403, "forbidden-origin", refusal(ctx.request().getHeader("Origin")));
        }
    }

    /**
     * Router handler: vertx-web's {@link CorsHandler} (allowed origin, exposed headers, the
     * preflight's 204) for a request from a listed origin other than the server's own. This policy
     * decides who gets CORS answers, so a same-origin or foreign request passes untouched (a
     * foreign read is answered without CORS headers: the page cannot read it).
     */
    private Handler<RoutingContext> cors() {
        CorsHandler cors = CorsHandler.create()
                .allowedMethods(new LinkedHashSet<>(List.of(HttpMethod.GET, HttpMethod.POST, HttpMethod.DELETE)))
                .allowedHeaders(new LinkedHashSet<>(ALLOWED_HEADERS))
                .exposedHeaders(new LinkedHashSet<>(EXPOSED_HEADERS))
                .maxAgeSeconds(600);
        if (!any) {
            cors.addOrigins(allowed); // with '*' none: the handler then answers "Access-Control-Allow-Origin: *"
        }
        return ctx -> {
            if (crossOriginAllowed(ctx.request())) {
                if (!any && HttpMethod.OPTIONS.equals(ctx.request().method())) {
                    ctx.response().putHeader("Vary", "Origin"); // the handler names the origin in the preflight's 204 without it
                }
                cors.handle(ctx);
            } else {
                ctx.next();
            }
        };
    }

    private boolean listed(String origin) {
        return any || allowed.contains(origin.toLowerCase(Locale.ROOT));
    }

    private static boolean writes(HttpMethod method) {
        return !(HttpMethod.GET.equals(method) || HttpMethod.HEAD.equals(method) || HttpMethod.OPTIONS.equals(method));
    }

    /**
     * The page was served by this server: same host name, and the same port. A Host without a
     * port (behind a proxy on 80/443) matches an origin on its scheme's default port.
     */
    static boolean sameOrigin(String origin, String host) {
        if (host == null || host.isBlank()) {
            return false;
        }
        URI o;
        URI h;
        try {
            o = new URI(origin.trim());
            h = new URI("http://" + host.trim());
        } catch (java.net.URISyntaxException e) {
            return false;
        }
        String scheme = o.getScheme() == null ? "" : o.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https") || o.getHost() == null || h.getHost() == null
                || o.getRawPath() != null && !o.getRawPath().isEmpty() || o.getRawQuery() != null || o.getRawUserInfo() != null) {
            return false;
        }
        if (!o.getHost().equalsIgnoreCase(h.getHost())) {
            return false;
        }
        int originPort = o.getPort() != -1 ? o.getPort() : scheme.equals("https") ? 443 : 80;
        return h.getPort() == -1 ? o.getPort() == -1 : originPort == h.getPort();
    }
}
