package dev.cairn.server;

import dev.cairn.engine.clock.HybridClock;
import dev.cairn.engine.clock.WallClock;
import dev.cairn.server.auth.TokenAuth;
import dev.cairn.server.commit.GroupCommitter;
import dev.cairn.server.fanout.Fanout;
import dev.cairn.server.fanout.LocalFanout;
import dev.cairn.server.fanout.PgNotifyFanout;
import dev.cairn.server.http.HttpApi;
import dev.cairn.server.session.Hub;
import dev.cairn.server.session.SyncSession;
import dev.cairn.server.store.MapDbServerStore;
import dev.cairn.server.store.PgServerStore;
import dev.cairn.server.store.ServerStore;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.handler.StaticHandler;
import java.security.SecureRandom;
import java.util.Base64;
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
    private ServerStore store;
    private Fanout fanout;
    private HttpServer http;
    private TokenAuth auth;
    private SyncSession.Context sessions;
    private ServerMetrics metrics;

    public SyncServer(ServerConfig config) {
        this.config = config;
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
        store = config.embedded()
                ? MapDbServerStore.open(vertx, config.dataDir().resolve("cairn-server.db"))
                : PgServerStore.create(vertx, config.databaseUrl(), config.dbPoolSize());
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
        GroupCommitter committer = new GroupCommitter(store, config.embedded() ? 1 : Math.max(1, config.dbPoolSize() / 2), 10_000,
                result -> {
                    // Other nodes first: a failure delivering to a local session must not keep them in the dark.
                    fanout.publish(result.user(), result.head());
                    metrics.committed(result.applied().size());
                    hub.committed(result);
                },
                nanos -> metrics.commitTimer().record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS));
        metrics.gauge("cairn_commit_queue_batches", committer::queued);
        sessions = new SyncSession.Context(vertx, hub, committer, store, sections, clock, config.maxBatch(), config.pageSize(),
                config.maxFramesPerSecond(), config.maxFrameBytes(), config.maxPendingWriteBytes(), metrics, config.slowConsumerMillis());

        Router router = Router.router(vertx);
        new HttpApi(vertx, store, committer, sections, clock, auth, config.devTokens(), metrics, config.maxFrameBytes()).mount(router);
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
                .setTcpNoDelay(true);
        http = vertx.createHttpServer(options).requestHandler(req -> {
            if ("/sync".equals(req.path())) {
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
                    return http.listen();
                })
                .onSuccess(s -> LOG.info("cairn server listening on port {} (store {}, node {}, dev tokens {})",
                        s.actualPort(), store.kind(), config.nodeId(), config.devTokens() ? "on" : "off"));
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

    /** Authenticates before the upgrade completes: a bad token gets 401 and no socket. */
    private void upgrade(HttpServerRequest req) {
        String token = TokenAuth.bearer(req.getHeader("Authorization"));
        if (token == null) {
            token = req.getParam("access_token");
        }
        req.pause();
        auth.authenticate(token).onComplete(ar -> {
            if (ar.failed()) {
                req.resume();
                req.response().setStatusCode(401).putHeader("WWW-Authenticate", "Bearer")
                        .putHeader("content-type", "application/json")
                        .end("{\"error\":\"unauthorized\",\"message\":" + io.vertx.core.json.Json.encode(ar.cause().getMessage()) + "}");
                return;
            }
            req.toWebSocket().onSuccess(ws -> new SyncSession(sessions, ws, ar.result()).start())
                    .onFailure(e -> {
                        LOG.debug("upgrade failed: {}", e.toString());
                        // e.g. a plain GET /sync: without an answer the request would hang until the idle timeout
                        if (!req.response().ended() && !req.response().headWritten()) {
                            req.response().setStatusCode(400).putHeader("content-type", "application/json")
                                    .end("{\"error\":\"bad-request\",\"message\":\"/sync expects a WebSocket upgrade\"}");
                        }
                    });
        });
    }

    @Override
    public Future<?> stop() {
        Future<Void> closeHttp = http == null ? Future.succeededFuture() : http.close();
        return closeHttp
                .eventually(() -> fanout == null ? Future.succeededFuture() : fanout.close())
                .eventually(() -> store == null ? Future.succeededFuture() : store.close());
    }
}
