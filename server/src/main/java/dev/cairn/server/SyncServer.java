package dev.cairn.server;

import dev.cairn.engine.clock.HybridClock;
import dev.cairn.engine.clock.WallClock;
import dev.cairn.server.auth.TokenAuth;
import dev.cairn.server.commit.GroupCommitter;
import dev.cairn.server.fanout.Fanout;
import dev.cairn.server.fanout.LocalFanout;
import dev.cairn.server.fanout.PgNotifyFanout;
import dev.cairn.server.http.HttpApi;
import dev.cairn.server.http.OriginPolicy;
import dev.cairn.server.http.SecurityHeaders;
import dev.cairn.server.session.Hub;
import dev.cairn.server.session.OutboundBudget;
import dev.cairn.server.session.SocketSlots;
import dev.cairn.server.session.SyncSession;
import dev.cairn.server.store.JournalServerStore;
import dev.cairn.server.store.PgServerStore;
import dev.cairn.server.store.ServerStore;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.KeyStoreOptions;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.handler.StaticHandler;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sync server verticle: the WebSocket endpoint ({@code /sync}), the HTTP API, /health,
 * /metrics and the demo page, over one {@link ServerStore}, one group committer and one fan-out.
 * Everything it owns runs on its event loop; blocking store work runs on the store's own workers.
 */
public final class SyncServer extends VerticleBase {

    private static final Logger LOG = LoggerFactory.getLogger(SyncServer.class);

    private final ServerConfig config;
    private final UnaryOperator<ServerStore> storeDecorator;
    private ServerStore store;
    private Fanout fanout;
    private HttpServer http;
    private TokenAuth auth;
    private SyncSession.Context sessions;
    private ServerMetrics metrics;
    private SocketSlots slots;
    private OriginPolicy origins;
    private SecurityHeaders headers;

    public SyncServer(ServerConfig config) {
        this(config, UnaryOperator.identity());
    }

    /** A server whose store is first passed through {@code storeDecorator} (fault tests wrap it). */
    public SyncServer(ServerConfig config, UnaryOperator<ServerStore> storeDecorator) {
        this.config = config;
        this.storeDecorator = storeDecorator;
    }

    /** The port the server listens on (useful with port 0). */
    public int port() {
        return http.actualPort();
    }

    /** The store this server runs on (tests read the server's view through it). */
    public ServerStore store() {
        return store;
    }

    /** Mints a token (for tests and the dev sign-in). */
    public String mintToken(String user) {
        return auth.mint(user, 3600);
    }

    @Override
    public Future<?> start() {
        store = storeDecorator.apply(config.embedded()
                ? JournalServerStore.inDataDir(vertx, config.dataDir())
                : PgServerStore.create(vertx, config.databaseUrl(), config.dbPoolSize()));
        String secret = config.jwtSecret();
        if (secret == null) {
            byte[] random = new byte[48];
            new SecureRandom().nextBytes(random);
            secret = Base64.getEncoder().encodeToString(random);
            LOG.warn("no CAIRN_JWT_SECRET set: dev mode with a random key (tokens end with this process)");
        }
        auth = new TokenAuth(vertx, secret);
        HybridClock clock = new HybridClock(WallClock.system(), "server", config.maxAheadMillis());
        metrics = new ServerMetrics();
        SectionRegistry sections = new SectionRegistry(config.extraSections());
        Hub hub = new Hub();
        fanout = config.embedded() ? new LocalFanout() : new PgNotifyFanout(vertx, config.databaseUrl(), config.nodeId());
        ServerConfig.UserData userData = config.userData();
        GroupCommitter committer = new GroupCommitter(store, userData.quotaBytes(), userData.historyMillis(),
                config.embedded() ? 1 : Math.max(1, config.dbPoolSize() / 2), 10_000,
                result -> {
                    // Other nodes first: a failure delivering to a local session must not keep them in the dark.
                    fanout.publish(result.user(), result.head());
                    metrics.committed(result.applied().size());
                    hub.committed(result);
                },
                nanos -> metrics.commitTimer().record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS));
        metrics.gauge("cairn_commit_queue_batches", committer::queued);
        OutboundBudget outbound = new OutboundBudget(config.outbound().maxBytes());
        metrics.gauge("cairn_outbound_queued_chars", outbound::queued);
        sessions = new SyncSession.Context(vertx, hub, committer, store, sections, clock, config.maxBatch(), config.pageSize(),
                config.maxFramesPerSecond(), config.maxFrameBytes(), config.maxPendingWriteBytes(), metrics,
                config.security().maxChangesPerSecond(), config.slowConsumerMillis(),
                outbound, config.outbound().maxPageBytes());
        slots = new SocketSlots(config.security().maxSocketsPerUser(), config.security().maxSockets());
        origins = new OriginPolicy(config.security().allowedOrigins());
        headers = new SecurityHeaders(config.security().tls() != null);

        Router router = Router.router(vertx);
        new HttpApi(vertx, store, committer, sections, clock, auth, config.devTokens(), metrics, config.maxFrameBytes(), config.pageSize(),
                config.transfer().maxImportBytes(), userData.quotaBytes(), userData.historyMillis(), fanout::listening).mount(router);
        StaticHandler web = config.webRoot() != null
                ? StaticHandler.create(io.vertx.ext.web.handler.FileSystemAccess.ROOT, config.webRoot().toAbsolutePath().toString())
                : StaticHandler.create("web");
        router.route("/*").handler(web.setCachingEnabled(false).setIndexPage("index.html"));

        HttpServerOptions options = new HttpServerOptions()
                .setHost(config.host())
                .setPort(config.port())
                .setMaxWebSocketFrameSize(config.maxFrameBytes())
                .setMaxWebSocketMessageSize(config.maxFrameBytes())
                .setIdleTimeout(120)
                // Every request and response is handled on its connection's event loop (ResponseOutput hops
                // back there), so Vert.x may skip the cross-thread write queue it otherwise gives every HTTP
                // connection: a 1,024-slot queue chunk, about 4.7 KB per connection, kept for the life of
                // each upgraded WebSocket (W5 heap histogram, BENCHMARKS.md).
                .setStrictThreadMode(true)
                .setTcpNoDelay(true);
        tls(options);
        http = vertx.createHttpServer(options).requestHandler(req -> {
            headers.apply(req);
            if (!origins.allows(req, "/sync")) {
                refuse(req, 403, "forbidden-origin", "requests from origin " + req.getHeader("Origin")
                        + " are not allowed (same origin only; see CAIRN_ALLOWED_ORIGINS)");
            } else if (cors(req)) {
                return; // a preflight, answered
            } else if ("/sync".equals(req.path())) {
                upgrade(req);
            } else {
                router.handle(req);
            }
        });
        return store.start()
                .compose(v -> fanout.start(hub::headMoved, () -> resync(hub)))
                .compose(v -> {
                    if (!config.embedded()) {
                        // Safety net for a lost NOTIFY: every half minute, sessions re-check their user's head.
                        vertx.setPeriodic(30_000, id -> resync(hub));
                    }
                    schedulePruning(userData.historyMillis());
                    return http.listen();
                })
                .onSuccess(s -> LOG.info("cairn server listening on port {} ({}, store {}, node {}, dev tokens {})",
                        s.actualPort(), config.security().tls() != null ? "TLS" : "plain http", store.kind(), config.nodeId(),
                        config.devTokens() ? "on" : "off"));
    }

    /**
     * Re-reads the head of every user with a session on this node (after the fan-out connection
     * was lost, and periodically as a safety net): sessions behind it catch up from the store.
     */
    private void resync(Hub hub) {
        for (String user : hub.users()) {
            store.head(user).onComplete(ar -> {
                if (ar.succeeded()) {
                    hub.headMoved(user, ar.result());
                } else {
                    vertx.setTimer(1000, id -> store.head(user).onSuccess(head -> hub.headMoved(user, head)));
                }
            });
        }
    }

    /**
     * Removes map history older than the retention: once at start, then every tenth of the
     * retention (at least a minute, at most an hour). Reads filter by the retention too, so
     * nothing older is ever served between two runs.
     */
    private void schedulePruning(long historyMillis) {
        if (historyMillis <= 0) {
            return;
        }
        Runnable prune = () -> store.pruneHistory(System.currentTimeMillis() - historyMillis)
                .onSuccess(n -> {
                    if (n > 0) {
                        LOG.info("pruned {} map history entries older than {} ms", n, historyMillis);
                    }
                })
                .onFailure(e -> LOG.warn("pruning map history failed (retried at the next run): {}", e.toString()));
        prune.run();
        long every = Math.min(3_600_000L, Math.max(60_000L, historyMillis / 10));
        vertx.setPeriodic(every, id -> prune.run());
    }

    /** Serves https and wss when a certificate is configured (PEM files or a PKCS#12 keystore). */
    private void tls(HttpServerOptions options) {
        ServerConfig.Tls tls = config.security().tls();
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
     * CORS for the origins listed in CAIRN_ALLOWED_ORIGINS (a page served elsewhere calling the
     * API): answers their preflight and marks their answers readable. True if the request was a
     * preflight and is answered.
     */
    private boolean cors(HttpServerRequest req) {
        String origin = req.getHeader("Origin");
        if (!origins.crossOriginAllowed(req)) {
            return false;
        }
        req.response().putHeader("Access-Control-Allow-Origin", origin).putHeader("Vary", "Origin")
                // not CORS-safelisted: without this a cross-origin app cannot read them
                .putHeader("Access-Control-Expose-Headers", "x-cairn-export-entries, Retry-After");
        if (req.method() == HttpMethod.OPTIONS && req.getHeader("Access-Control-Request-Method") != null) {
            req.response().setStatusCode(204)
                    .putHeader("Access-Control-Allow-Methods", "GET, POST, DELETE")
                    .putHeader("Access-Control-Allow-Headers", "Authorization, Content-Type")
                    .putHeader("Access-Control-Max-Age", "600")
                    .end();
            return true;
        }
        return false;
    }

    /**
     * Authenticates before the upgrade completes: a bad token gets 401 and no socket, a user at
     * their socket limit 429, a full server 503. The socket is closed when its token expires.
     */
    private void upgrade(HttpServerRequest req) {
        String token = TokenAuth.bearer(req.getHeader("Authorization"));
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
            String user = ar.result().user();
            SocketSlots.Result slot = slots.acquire(user);
            if (slot != SocketSlots.Result.OK) {
                req.resume();
            }
            if (slot == SocketSlots.Result.USER_FULL) {
                LOG.info("socket refused user={}: {} sockets open, the limit per user", user, slots.perUser());
                refuse(req, 429, "too-many-sockets", "this user already has " + slots.perUser()
                        + " sockets open on this server (CAIRN_MAX_SOCKETS_PER_USER); close one first");
                return;
            }
            if (slot == SocketSlots.Result.SERVER_FULL) {
                LOG.warn("socket refused user={}: the server has {} sockets open, its limit", user, slots.total());
                req.response().putHeader("Retry-After", "10");
                refuse(req, 503, "server-full", "the server has reached its limit of " + slots.total()
                        + " open sockets (CAIRN_MAX_SOCKETS); try again later");
                return;
            }
            req.toWebSocket().onSuccess(ws -> new SyncSession(sessions, ws, user, ar.result().expiresAtMillis(),
                            () -> slots.release(user)).start())
                    .onFailure(e -> {
                        slots.release(user);
                        LOG.debug("upgrade failed: {}", e.toString());
                        // e.g. a plain GET /sync: without an answer the request would hang until the idle timeout
                        if (!req.response().ended() && !req.response().headWritten()) {
                            refuse(req, 400, "bad-request", "/sync expects a WebSocket upgrade");
                        }
                    });
        });
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
        Future<Void> closeHttp = http == null ? Future.succeededFuture() : http.close();
        return closeHttp
                .eventually(() -> fanout == null ? Future.succeededFuture() : fanout.close())
                .eventually(() -> store == null ? Future.succeededFuture() : store.close());
    }
}
