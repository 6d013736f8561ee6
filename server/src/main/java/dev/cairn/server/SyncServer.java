package dev.cairn.server;

import dev.cairn.engine.clock.HybridClock;
import dev.cairn.engine.clock.WallClock;
import dev.cairn.server.auth.TokenAuth;
import dev.cairn.server.commit.GroupCommitter;
import dev.cairn.server.fanout.Fanout;
import dev.cairn.server.fanout.LocalFanout;
import dev.cairn.server.fanout.PgNotifyFanout;
import dev.cairn.server.http.OriginPolicy;
import dev.cairn.server.http.SecurityHeaders;
import dev.cairn.server.monitoring.Monitoring;
import dev.cairn.server.monitoring.ServerMetrics;
import dev.cairn.server.presence.PresenceBoard;
import dev.cairn.server.section.SectionRegistry;
import dev.cairn.server.space.Memberships;
import dev.cairn.server.space.SpaceEvents;
import dev.cairn.server.session.Hub;
import dev.cairn.server.session.OutboundBudget;
import dev.cairn.server.session.SocketSlots;
import dev.cairn.server.session.SyncSession;
import dev.cairn.server.space.SpaceEvents;
import dev.cairn.server.space.SpaceKeys;
import dev.cairn.server.store.JournalServerStore;
import dev.cairn.server.store.PgServerStore;
import dev.cairn.server.store.ServerStore;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sync server: one node's store, group committer, hub and fan-out, and the HTTP servers that
 * speak to clients: the WebSocket endpoint ({@code /sync}), the HTTP API, /health, /metrics and the
 * demo page. Those run as {@link ServerLoop} verticles, one per event loop
 * ({@code CAIRN_EVENT_LOOPS}, default the cores), all on the node's one port; so every socket's
 * frame decoding and encoding runs on its own loop.
 *
 * <p>This verticle's own context is the node's <em>home</em>: the group committer, the fan-out,
 * the resync and history pruning timers run there. What the loops share is in {@link Node}, each
 * part either thread-safe or confined to the home context (ARCHITECTURE.md, "Event loops").
 */
public final class SyncServer extends VerticleBase {

    private static final Logger LOG = LoggerFactory.getLogger(SyncServer.class);
    /** Keys of random ports shared by one node's loops: Vert.x shares a port given as the same negative number. */
    private static final AtomicInteger RANDOM_PORT_KEYS = new AtomicInteger(1);

    /** What every event loop of the node shares; each part is thread-safe or hops to the home context itself. */
    record Node(ServerConfig config, String secret, ServerStore store, GroupCommitter committer, SectionRegistry sections,
                HybridClock clock, ServerMetrics metrics, SyncSession.Context sessions, SocketSlots slots, OriginPolicy origins,
                SecurityHeaders headers, Fanout fanout, Memberships memberships) {
    }

    private final ServerConfig config;
    private final UnaryOperator<ServerStore> storeDecorator;
    private final PrometheusMeterRegistry registry;
    private ServerMetrics metrics;
    private ServerStore store;
    private Fanout fanout;
    private TokenAuth auth;
    private final List<ServerLoop> loops = new CopyOnWriteArrayList<>();
    private volatile GroupCommitter committer;
    private volatile SpaceEvents spaceEvents;
    private volatile Memberships memberships;

    public SyncServer(ServerConfig config) {
        this(config, UnaryOperator.identity());
    }

    /** A server whose store is first passed through {@code storeDecorator} (fault tests wrap it). */
    public SyncServer(ServerConfig config, UnaryOperator<ServerStore> storeDecorator) {
        this(config, storeDecorator, Monitoring.registry());
    }

    /**
     * A server whose meters go to {@code registry}: with a Vert.x made by {@link Monitoring#vertx},
     * /metrics then shows Vert.x's HTTP, WebSocket and pool meters next to Cairn's and the JVM's.
     */
    public SyncServer(ServerConfig config, UnaryOperator<ServerStore> storeDecorator, PrometheusMeterRegistry registry) {
        this.config = config;
        this.storeDecorator = storeDecorator;
        this.registry = registry;
    }

    /** The port the server listens on (useful with port 0). */
    public int port() {
        return loops.get(0).actualPort();
    }

    /** The store this server runs on (tests read the server's view through it). */
    public ServerStore store() {
        return store;
    }

    /**
     * The node's group committer (the membership service commits through it; tests write membership
     * entries with it so sessions hear of them as of any commit). Call it from any event loop.
     */
    public GroupCommitter committer() {
        return committer;
    }

    /**
     * Where the membership service reports a membership that ended (PROTOCOL.md 8.4): the node's
     * sessions of that user send {@code space-left}. Call it on the home context (the committer's).
     */
    public SpaceEvents spaceEvents() {
        return spaceEvents;
    }

    /** The node's membership service (PROTOCOL.md 8.5), as the HTTP API calls it. */
    public Memberships memberships() {
        return memberships;
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
        metrics = new ServerMetrics(registry);
        SectionRegistry sections = new SectionRegistry(config.extraSections());
        Hub hub = new Hub(metrics);
        fanout = config.embedded() ? new LocalFanout() : new PgNotifyFanout(vertx, config.databaseUrl(), config.nodeId());
        ServerConfig.UserData userData = config.userData();
        // One committer per node, on this verticle's context: batches from every loop share its transactions.
        GroupCommitter committer = new GroupCommitter(store, userData.quotaBytes(), userData.historyMillis(),
                config.embedded() ? 1 : Math.max(1, config.dbPoolSize() / 2), 10_000,
                result -> {
                    // Other nodes first: a failure delivering to a local session must not keep them in the dark.
                    fanout.publish(result.user(), result.head());
                    metrics.committed(result.applied().size());
                    hub.committed(result);
                },
                nanos -> metrics.commitTimer().record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS),
                context);
        metrics.gauge("cairn_commit_queue_batches", committer::queued);
        OutboundBudget outbound = new OutboundBudget(config.outbound().maxBytes());
        metrics.gauge("cairn_outbound_queued_chars", outbound::queued);
        // Presence is never stored (ARCHITECTURE.md, "Presence"); changes go to the space's sessions here.
        PresenceBoard presence = new PresenceBoard(update -> hub.presence(SpaceKeys.storeKey(update.space()), update));
        vertx.setPeriodic(PresenceBoard.SWEEP_MILLIS, id -> presence.expire(MonotonicMillis.now()));
        if (!config.embedded()) {
            // Other nodes' members see it too: over the fan-out's channel (its connection lives on this context).
            io.vertx.core.Context home = context;
            presence.forwardTo(item -> home.runOnContext(v -> fanout.publishPresence(item)));
            fanout.onPresence((node, item) -> presence.applyRemote(node, item, MonotonicMillis.now()));
        }
        SyncSession.Context sessions = new SyncSession.Context(vertx, hub, committer, store, sections, clock, config.maxBatch(),
                config.pageSize(), config.maxFramesPerSecond(), config.maxFrameBytes(), config.maxPendingWriteBytes(), metrics,
                config.security().maxChangesPerSecond(), config.slowConsumerMillis(),
                outbound, config.outbound().maxPageBytes(), presence);
        this.committer = committer;
        // The hub is told on this (home) context when a membership ended; its sessions send space-left (PROTOCOL.md 8.4).
        this.spaceEvents = hub;
        Memberships memberships = new Memberships(store, committer, clock, sections, hub, context);
        this.memberships = memberships;
        Node node = new Node(config, secret, store, committer, sections, clock, metrics, sessions,
                new SocketSlots(config.security().maxSocketsPerUser(), config.security().maxSockets()),
                new OriginPolicy(config.security().allowedOrigins()), new SecurityHeaders(config.security().tls() != null), fanout,
                memberships);
        int port = config.port() != 0 ? config.port() : -RANDOM_PORT_KEYS.incrementAndGet();
        return store.start()
                .compose(v -> fanout.start(hub::headMoved, () -> resync(hub)))
                .compose(v -> {
                    if (!config.embedded()) {
                        // Safety net for a lost NOTIFY: every half minute, sessions re-check their user's head.
                        vertx.setPeriodic(30_000, id -> resync(hub));
                    }
                    schedulePruning(userData.historyMillis());
                    // Children of this deployment: undeployed (their servers closed) before this verticle stops.
                    return vertx.deployVerticle(() -> {
                        ServerLoop loop = new ServerLoop(node, port);
                        loops.add(loop);
                        return loop;
                    }, new DeploymentOptions().setInstances(config.eventLoops()));
                })
                .onSuccess(id -> LOG.info("cairn server listening on port {} ({}, store {}, node {}, dev tokens {}, {} event loops)",
                        port(), config.security().tls() != null ? "TLS" : "plain http", store.kind(), config.nodeId(),
                        config.devTokens() ? "on" : "off", config.eventLoops()));
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

    @Override
    public Future<?> stop() {
        // The loops' servers are closed already: Vert.x undeploys a verticle's children first.
        return Future.<Void>succeededFuture()
                .eventually(() -> fanout == null ? Future.succeededFuture() : fanout.close())
                .eventually(() -> store == null ? Future.succeededFuture() : store.close())
                .eventually(() -> {
                    if (metrics != null) {
                        metrics.close();
                    }
                    return Future.succeededFuture();
                });
    }
}
