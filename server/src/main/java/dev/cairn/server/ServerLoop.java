package dev.cairn.server;

import dev.cairn.server.auth.SocketProtocols;
import dev.cairn.server.auth.TokenAuth;
import dev.cairn.server.http.HttpApi;
import dev.cairn.server.http.OriginPolicy;
import dev.cairn.server.session.SessionSweep;
import dev.cairn.server.session.SocketSlots;
import dev.cairn.server.session.SyncSession;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.KeyStoreOptions;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.handler.StaticHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One event loop's share of the server: an HTTP server on the node's port (Vert.x spreads the
 * accepted connections over every loop's server), the WebSocket upgrade, the HTTP API and the
 * static pages. Everything here runs on this verticle's event loop; what the loops share (store,
 * committer, hub, limits) is in {@link SyncServer.Node} and safe to call from any of them.
 */
final class ServerLoop extends VerticleBase {

    private static final Logger LOG = LoggerFactory.getLogger(ServerLoop.class);

    private final SyncServer.Node node;
    private final int port;
    private TokenAuth auth;
    /** The deadlines of this loop's sessions, checked by one timer. */
    private SessionSweep sweep;
    private HttpServer http;

    /** @param port the port to listen on: the node's, or a negative key that makes Vert.x share one random port */
    ServerLoop(SyncServer.Node node, int port) {
        this.node = node;
        this.port = port;
    }

    /** The port this loop listens on (after start). */
    int actualPort() {
        return http.actualPort();
    }

    @Override
    public Future<?> start() {
        ServerConfig config = node.config();
        // Its own verifier per loop: the JWT provider's MAC is not shared between threads.
        auth = new TokenAuth(vertx, node.secret());
        sweep = new SessionSweep(vertx, SessionSweep.periodFor(config.slowConsumerMillis()));
        Router router = Router.router(vertx);
        node.headers().mount(router);
        node.origins().mount(router);
        ServerConfig.UserData userData = config.userData();
        new HttpApi(vertx, node.store(), node.committer(), node.sections(), node.clock(), auth, config.devTokens(), node.metrics(),
                config.maxFrameBytes(), config.pageSize(), config.transfer().maxImportBytes(), userData.quotaBytes(),
                userData.historyMillis(), node.fanout()::listening, node.memberships()).mount(router);
        StaticHandler web = config.webRoot() != null
                ? StaticHandler.create(io.vertx.ext.web.handler.FileSystemAccess.ROOT, config.webRoot().toAbsolutePath().toString())
                : StaticHandler.create("web");
        router.route("/*").handler(web.setCachingEnabled(false).setIndexPage("index.html"));

        HttpServerOptions options = new HttpServerOptions()
                .setHost(config.host())
                .setPort(port)
                .setMaxWebSocketFrameSize(config.maxFrameBytes())
                .setMaxWebSocketMessageSize(config.maxFrameBytes())
                .setIdleTimeout(120)
                // Every request and response is handled on its connection's event loop (ResponseOutput hops
                // back there), so Vert.x may skip the cross-thread write queue it otherwise gives every HTTP
                // connection: a 1,024-slot queue chunk, about 4.7 KB per connection, kept for the life of
                // each upgraded WebSocket (W5 heap histogram, BENCHMARKS.md).
                .setStrictThreadMode(true)
                // No WebSocket compression (PROTOCOL.md 2): pages carry their own deflate, so a browser's
                // permessage-deflate deflated them twice; and its first socket loads Netty's
                // EmbeddedChannel, whose arrival discards the JIT's code for the whole socket path
                // (a second compile of it, ~0.5 s of CPU, during a browser's first catch-up).
                .setPerMessageWebSocketCompressionSupported(false)
                .setPerFrameWebSocketCompressionSupported(false)
                .setTcpNoDelay(true)
                .addWebSocketSubProtocol(SocketProtocols.CAIRN); // picked when offered: a browser's token rides beside it
        tls(options);
        http = vertx.createHttpServer(options).requestHandler(req -> {
            if (!wellEscaped(req.path()) || isApiOrSync(req.path()) && !wellEscaped(req.query())) {
                // The router would fail decoding it (a plain-text 400 and an error logged with its trace): said here, in the API's shape.
                // A page's query is left alone: browsers send a bare '%' there as is, and the page never decodes it.
                node.headers().apply(req);
                refuse(req, 400, "bad-request", "the request's path or query has a '%' not followed by two hex digits");
                return;
            }
            if (OriginPolicy.SYNC_PATH.equals(req.path())) {
                // The upgrade is taken here, before the router: the same headers and origin policy, then the token.
                node.headers().apply(req);
                if (node.origins().allows(req, OriginPolicy.SYNC_PATH)) {
                    upgrade(req);
                } else {
                    refuse(req, 403, "forbidden-origin", OriginPolicy.refusal(req.getHeader("Origin")));
                }
            } else {
                router.handle(req);
            }
        });
        return http.listen();
    }

    /** Serves https and wss when a certificate is configured (PEM files or a PKCS#12 keystore). */
    private void tls(HttpServerOptions options) {
        ServerConfig.Tls tls = node.config().security().tls();
        if (tls == null) {
            return;
        }
        options.setSsl(true);
        if (tls.keystore() != null) {
            options.setKeyCertOptions(new KeyStoreOptions().setType("PKCS12").setPath(tls.keystore().toString())
                    .setPassword(tls.keystorePassword()));
        } else {
            options.setKeyCertOptions(new PemKeyCertOptions().setCertPath(tls.cert().toString()).setKeyPath(tls.key().toString()));
        }
    }

    /**
     * Authenticates before the upgrade completes: a bad token gets 401 and no socket, a user at
     * their socket limit 429, a full server 503. The socket is closed when its token expires.
     */
    private void upgrade(HttpServerRequest req) {
        // The header (non-browser clients), else the subprotocol a browser offers, else the older query parameter.
        SocketProtocols protocols = SocketProtocols.of(req.headers().getAll("Sec-WebSocket-Protocol"));
        String token = TokenAuth.bearer(req.getHeader("Authorization"));
        if (token == null) {
            token = protocols.bearer();
        }
        if (token == null) {
            token = req.getParam("access_token");
        }
        req.pause();
        auth.verify(token).onComplete(ar -> {
            if (ar.failed()) {
                req.resume();
                req.response().putHeader("WWW-Authenticate", "Bearer");
                refuse(req, 401, "unauthorized", ar.cause().getMessage());
                return;
            }
            if (!isWebSocketUpgrade(req)) {
                // Vert.x would answer this itself, in plain text: PROTOCOL.md 2 promises the API's error shape.
                req.resume();
                refuse(req, 400, "bad-request", "/sync expects a WebSocket upgrade (GET with Upgrade: websocket, "
                        + "Connection: Upgrade, Sec-WebSocket-Key and Sec-WebSocket-Version: 13)");
                return;
            }
            if (protocols.bearer() != null && !protocols.offersCairn()) {
                req.resume();
                refuse(req, 400, "bad-request", "a token in Sec-WebSocket-Protocol comes with the subprotocol '"
                        + SocketProtocols.CAIRN + "', which the server picks");
                return;
            }
            String user = ar.result().user();
            SocketSlots.Result slot = node.slots().acquire(user);
            if (slot != SocketSlots.Result.OK) {
                req.resume();
            }
            if (slot == SocketSlots.Result.USER_FULL) {
                LOG.atInfo().addKeyValue("user", user).log("socket refused: {} sockets open, the limit per user", node.slots().perUser());
                refuse(req, 429, "too-many-sockets", "this user already has " + node.slots().perUser()
                        + " sockets open on this server (CAIRN_MAX_SOCKETS_PER_USER); close one first");
                return;
            }
            if (slot == SocketSlots.Result.SERVER_FULL) {
                LOG.atWarn().addKeyValue("user", user).log("socket refused: the server has {} sockets open, its limit", node.slots().total());
                req.response().putHeader("Retry-After", "10");
                refuse(req, 503, "server-full", "the server has reached its limit of " + node.slots().total()
                        + " open sockets (CAIRN_MAX_SOCKETS); try again later");
                return;
            }
            req.toWebSocket().onSuccess(ws -> new SyncSession(node.sessions(), ws, user, ar.result().expiresAtMillis(),
                            () -> node.slots().release(user), sweep).start())
                    .onFailure(e -> {
                        node.slots().release(user);
                        LOG.debug("upgrade failed: {}", e.toString());
                        // e.g. a plain GET /sync: without an answer the request would hang until the idle timeout
                        if (!req.response().ended() && !req.response().headWritten()) {
                            refuse(req, 400, "bad-request", "/sync expects a WebSocket upgrade");
                        }
                    });
        });
    }

    private static boolean isApiOrSync(String path) {
        return path.startsWith("/api/") || path.equals("/api") || OriginPolicy.SYNC_PATH.equals(path);
    }

    /** Whether every '%' in {@code part} (null: none) starts a percent-escape (RFC 3986 2.1). */
    static boolean wellEscaped(String part) {
        if (part == null) {
            return true;
        }
        for (int i = part.indexOf('%'); i >= 0; i = part.indexOf('%', i + 1)) {
            if (i + 2 >= part.length() || Character.digit(part.charAt(i + 1), 16) < 0 || Character.digit(part.charAt(i + 2), 16) < 0) {
                return false;
            }
        }
        return true;
    }

    /** A request Vert.x can upgrade (RFC 6455 4.2.1); anything else is answered 400 here. */
    private static boolean isWebSocketUpgrade(HttpServerRequest req) {
        String upgrade = req.getHeader("Upgrade");
        String connection = req.getHeader("Connection");
        return req.method() == HttpMethod.GET && req.version() == io.vertx.core.http.HttpVersion.HTTP_1_1
                && upgrade != null && upgrade.trim().equalsIgnoreCase("websocket")
                && connection != null && connection.toLowerCase(java.util.Locale.ROOT).contains("upgrade")
                && req.getHeader("Sec-WebSocket-Key") != null
                && "13".equals(req.getHeader("Sec-WebSocket-Version"));
    }

    /** An error answer before (instead of) an upgrade, in the HTTP API's error shape. */
    private static void refuse(HttpServerRequest req, int status, String code, String message) {
        if (req.response().ended()) {
            return;
        }
        req.response().setStatusCode(status).putHeader("content-type", "application/json")
                .end(new JsonObject().put("error", code).put("message", message).encode());
    }

    @Override
    public Future<?> stop() {
        return http == null ? Future.succeededFuture() : http.close();
    }
}
