package dev.cairn.engine.sync;

import dev.cairn.engine.Cairn;
import dev.cairn.engine.ChangeEvent;
import dev.cairn.engine.Subscription;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crypto.ChangeCipher;
import dev.cairn.engine.crypto.E2eKey;
import dev.cairn.engine.crypto.ValueCipher;
import dev.cairn.engine.section.SectionSpec;
import dev.cairn.engine.sync.internal.SyncPort;
import dev.cairn.engine.sync.internal.SyncPorts;
import java.net.URI;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import javax.net.ssl.SSLContext;

/**
 * Keeps one {@link Cairn} engine in sync with a Cairn server over the protocol of PROTOCOL.md.
 * The behaviour is the one spec/vectors/sync/README.md describes and its transcripts pin (the
 * browser client runs the same files); this class is the façade over its parts:
 * {@link Connection} (socket, handshake, keepalive, backoff, close codes), {@link PushPipeline}
 * (in-flight window, frame budget, retry queue, splitting), {@link PullApplier} (pages, cursor)
 * and {@link SyncWaiters} ({@link #syncNow()}).
 *
 * <pre>{@code
 * try (SyncClient sync = SyncClient.builder(cairn, URI.create("wss://cairn.example/sync"), tokens::current).build()) {
 *     sync.onStatus(s -> ui.showSyncState(s.state(), s.pendingChanges(), s.lastErrorCode()));
 *     sync.start();
 *     ...
 *     sync.syncNow().join(); // my changes are on the server and I have the server's changes
 * }
 * }</pre>
 *
 * <p>Failures are told apart: passing ones (a lost socket, {@code unavailable}, a 503) reconnect
 * with backoff; permanent ones (a second 401 with a fresh token, a URL that is not a sync
 * endpoint, {@code protocol-version}) stop in {@link SyncState#OFFLINE} with the reason in
 * {@link SyncStatus#lastErrorCode()} until {@link #syncNow()} or {@link #goOnline()} tries again;
 * a wrong end-to-end passphrase stops in {@link SyncState#LOCKED} for good.
 *
 * <p><b>Threading.</b> One thread ({@code cairn-sync}) owns all client state; transport callbacks
 * and engine listeners only post tasks to it. Status listeners run on that thread. The public
 * methods are thread-safe. The default transport's {@link HttpClient} runs on a pool of daemon
 * threads ({@code cairn-sync-http-*}) unless the app gives its own client or executor
 * ({@link Builder#httpClient}, {@link Builder#executor}).
 *
 * <p><b>Lifecycle.</b> {@link #close()} stops the client and leaves no thread of its own behind
 * (the HTTP threads end within seconds, once the socket's close handshake is over); an app's
 * client or executor is left running. Closing the engine closes its clients first: such a client
 * ends {@link SyncState#OFFLINE} with {@link SyncStatus#lastErrorCode()} {@code engine-closed},
 * and its pending {@link #syncNow()} calls fail with that code.
 */
public final class SyncClient implements AutoCloseable {

    /** Most changes in one push; the server's {@code welcome.maxBatch} lowers it, never raises it. */
    public static final int DEFAULT_BATCH_SIZE = 500;
    /** Most pushes sent and not yet acknowledged at once. */
    public static final int DEFAULT_MAX_IN_FLIGHT_BATCHES = 4;
    /** Shortest delay before reconnecting; the bound doubles with each failed attempt up to {@link #DEFAULT_BACKOFF_MAX} (full jitter below it). */
    public static final Duration DEFAULT_BACKOFF_MIN = Duration.ofMillis(200);
    /** Longest delay between reconnection attempts. */
    public static final Duration DEFAULT_BACKOFF_MAX = Duration.ofSeconds(30);
    /** A ping is sent after this much silence from the server; no answer for as long again closes the connection. */
    public static final Duration DEFAULT_KEEP_ALIVE = Duration.ofSeconds(20);
    /** How long opening a connection may take, up to the server's {@code welcome}. */
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(15);
    /** Delays before re-sending a batch the server answered with {@code clock-skew}. */
    public static final Duration DEFAULT_CLOCK_SKEW_RETRY_MIN = Duration.ofSeconds(5);
    /** Longest delay before re-sending a batch refused with {@code clock-skew}. */
    public static final Duration DEFAULT_CLOCK_SKEW_RETRY_MAX = Duration.ofSeconds(30);
    /** Delays before re-sending a batch the server answered with {@code quota-exceeded}. */
    public static final Duration DEFAULT_QUOTA_RETRY_MIN = Duration.ofSeconds(15);
    /** Longest delay before re-sending a batch refused with {@code quota-exceeded}. */
    public static final Duration DEFAULT_QUOTA_RETRY_MAX = Duration.ofMinutes(5);
    private static final long SETTLE_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

    // ---- configuration, read by the parts
    /** The engine's sync plumbing (not its public API). */
    final SyncPort port;
    final URI uri;
    final Supplier<String> token;
    final Transport transport;
    final int batchSize;
    /** The highest protocol version offered in hello (PROTOCOL.md 7.1); 2 only on a transport that carries binary messages. */
    final int maxProtocol;
    /** The user whose data this device holds (null: not checked): a welcome for another user is permanent ({@code wrong-user}). */
    final String user;
    final int maxInFlight;
    final Duration backoffMin;
    final Duration backoffMax;
    final Random random;
    final Duration keepAlive;
    final Duration connectTimeout;
    final Duration skewRetryMin;
    final Duration skewRetryMax;
    final Duration quotaRetryMin;
    final Duration quotaRetryMax;
    final Duration retryMin;
    final Duration retryMax;
    final BiFunction<List<Change>, Long, Integer> applier;
    /** What a syncNow() waits for before it registers: its save (a test seam can hold it). */
    final UnaryOperator<CompletableFuture<Void>> savedThrough;
    final Map<String, SectionSpec> sections;
    /** Seals pushed and opens pulled values of the end-to-end encrypted sections; null if none. */
    final ChangeCipher cipher;

    // ---- the parts, all owned by the loop's thread
    final SyncLoop loop;
    final Connection connection;
    final PushPipeline push;
    final PullApplier pull;
    final SyncWaiters waiters;
    /** The spaces over this socket (PROTOCOL.md 8); null when the app did not turn space sync on. */
    final SpaceSync spaces;
    /** The next push batch id: one counter for the user's and every space's batches (PROTOCOL.md 8.2). */
    long nextBatchId = 1;
    /**
     * Batches left unanswered (PushPipeline), by outbox ("" the user's, else the space id): kept
     * here, not in a pipeline, because a left space's pipeline goes while its kept copy may push
     * the same changes again after a rejoin.
     */
    final Map<String, Map<Long, Long>> unanswered = new HashMap<>();
    /** Numbers the unanswered batches, across every outbox. */
    long unansweredBatches;
    private final Subscription spaceOpenedSubscription;
    private final Subscription presenceSubscription;

    private final Subscription outboxSubscription;
    private final Subscription changeSubscription;
    private final Subscription resyncSubscription;
    private final Subscription engineCloseSubscription;
    /** The default transport, released at close; null when the app gave its own transport. */
    private final JdkWebSocketTransport ownTransport;
    private final AtomicBoolean pumpRequested = new AtomicBoolean();
    private final AtomicBoolean settleRequested = new AtomicBoolean();
    private volatile boolean closed;

    private SyncClient(Builder b) {
        this.port = SyncPorts.of(b.cairn);
        this.uri = b.uri;
        this.token = b.token;
        this.batchSize = b.batchSize == null ? DEFAULT_BATCH_SIZE : b.batchSize;
        this.maxProtocol = b.maxProtocol == null ? dev.cairn.engine.protocol.Frame.PROTOCOL_V2 : b.maxProtocol;
        this.user = b.user;
        this.maxInFlight = b.maxInFlight == null ? DEFAULT_MAX_IN_FLIGHT_BATCHES : b.maxInFlight;
        this.backoffMin = b.backoffMin == null ? DEFAULT_BACKOFF_MIN : b.backoffMin;
        this.backoffMax = b.backoffMax == null ? DEFAULT_BACKOFF_MAX : b.backoffMax;
        this.random = b.random == null ? new Random() : b.random;
        this.keepAlive = b.keepAlive == null ? DEFAULT_KEEP_ALIVE : b.keepAlive;
        this.connectTimeout = b.connectTimeout == null ? DEFAULT_CONNECT_TIMEOUT : b.connectTimeout;
        this.skewRetryMin = b.skewRetryMin == null ? DEFAULT_CLOCK_SKEW_RETRY_MIN : b.skewRetryMin;
        this.skewRetryMax = b.skewRetryMax == null ? DEFAULT_CLOCK_SKEW_RETRY_MAX : b.skewRetryMax;
        this.quotaRetryMin = b.quotaRetryMin == null ? DEFAULT_QUOTA_RETRY_MIN : b.quotaRetryMin;
        this.quotaRetryMax = b.quotaRetryMax == null ? DEFAULT_QUOTA_RETRY_MAX : b.quotaRetryMax;
        this.retryMin = b.retryMin == null ? backoffMin : b.retryMin;
        this.retryMax = b.retryMax == null ? backoffMax : b.retryMax;
        this.applier = b.applier == null ? port::applyRemote : b.applier;
        this.savedThrough = b.savedThrough == null ? saved -> saved : b.savedThrough;
        this.ownTransport = b.transport != null ? null
                : JdkWebSocketTransport.forSyncClient(b.httpClient, b.executor, b.sslContext, connectTimeout);
        this.transport = b.transport != null ? b.transport : ownTransport;
        this.sections = port.sections();
        this.cipher = b.cipher;
        this.loop = new SyncLoop(port::pendingChanges, port::cursor);
        this.waiters = new SyncWaiters(this);
        this.push = new PushPipeline(this, loop);
        this.pull = new PullApplier(this, loop);
        this.connection = new Connection(this, loop);
        this.spaces = b.onSpaceLeft == null ? null : new SpaceSync(this, loop, b.onSpaceLeft);
        this.spaceOpenedSubscription = spaces == null ? null : port.onSpaceOpened(id -> loop.post(() -> {
            PushPipeline p = spaces.pipeline(id); // a space the app opened: its outbox is pushed from now on
            if (p != null) {
                p.pump();
            }
        }));
        this.presenceSubscription = spaces == null ? null
                : port.onOwnPresence(id -> loop.post(() -> spaces.ownPresenceChanged(connection.session(), id)));
        this.outboxSubscription = port.onOutbox(this::requestPump);
        this.changeSubscription = port.onChange(event -> {
            if (event.origin() != ChangeEvent.Origin.REMOTE) {
                loop.requestPublish(); // pendingChanges grew
            }
        });
        // A section's sync was turned back on and the cursor reset: catch up again on a new connection.
        this.resyncSubscription = port.onResync(() -> loop.post(() -> {
            if (connection.session() != null) {
                connection.reconnectNow(connection.session());
            }
        }));
        Subscription engineClose;
        try {
            engineClose = port.beforeClose(() -> close("engine-closed", "the engine was closed, which stops its sync clients"));
        } catch (IllegalStateException e) { // the engine is closed: no client for it
            close();
            throw e;
        }
        this.engineCloseSubscription = engineClose;
    }

    /**
     * A client for {@code cairn}, syncing with the endpoint at {@code uri} ({@code ws://} or
     * {@code wss://}, e.g. {@code wss://host/sync}). {@code token} is asked for a fresh bearer
     * token before every connection.
     */
    public static Builder builder(Cairn cairn, URI uri, Supplier<String> token) {
        return new Builder(cairn, uri, token);
    }

    /** Connects, and keeps reconnecting with backoff whenever the connection is lost. */
    public void start() {
        checkOpen();
        loop.post(() -> {
            connection.started = true;
            connection.connect();
        });
    }

    /**
     * Syncs now: connects at once if not connected (skipping a backoff wait, trying once more
     * after a permanent failure; starts the client if needed), saves queued local changes, and
     * completes when every change pending at call time is acknowledged by the server and the
     * session has caught up with the server. So afterwards the caller's changes are on the server
     * and the caller has the server's changes.
     *
     * <p>Fails with a {@link SyncException} whose {@link SyncException#code()} says why, as soon
     * as that can no longer happen without the app or the server changing something: a change
     * was refused for good and dropped ({@code invalid-change}, {@code change-too-large}), kept
     * but refused for now ({@code quota-exceeded}), of a section the server does not know
     * ({@code unknown-section}), a permanent failure, a wrong passphrase, sync switched off
     * ({@link #goOffline()}) or the client closed. It does not time out by itself: use
     * {@link CompletableFuture#orTimeout}. A client that syncs spaces ({@code syncSpaces}) covers
     * every held space too: their queued writes are saved, and each such space must be live with
     * nothing written before the call pending; a space's changes refused for good fail it with
     * that code ({@code forbidden}, {@code not-a-member}), and a space left meanwhile with
     * {@code not-a-member}, also when that happens while the call is still saving.
     */
    public CompletableFuture<Void> syncNow() {
        CompletableFuture<Void> result = new CompletableFuture<>();
        if (closed) {
            result.completeExceptionally(new SyncException("the sync client is closed"));
            return result;
        }
        boolean posted = loop.post(() -> waiters.syncNow(result));
        if (!posted) {
            result.completeExceptionally(new SyncException("the sync client is closed"));
        }
        return result;
    }

    /** The latest status. */
    public SyncStatus status() {
        return loop.status();
    }

    /**
     * Calls {@code listener} (on the sync thread) with the current status right away and then on
     * every change of the status.
     */
    public Subscription onStatus(Consumer<SyncStatus> listener) {
        Objects.requireNonNull(listener, "listener");
        loop.addListener(listener);
        return () -> loop.removeListener(listener);
    }

    /**
     * Switches sync off (the app's offline switch): closes the connection and does not reconnect
     * until {@link #goOnline()}. Pending {@link #syncNow()} calls fail. Local writes go on and
     * queue in the outbox.
     */
    public void goOffline() {
        checkOpen();
        loop.run(() -> {
            connection.switchedOff = true;
            connection.stop();
            waiters.failAll(null, "sync was switched off (goOffline)");
            loop.state = pull.locked() ? SyncState.LOCKED : SyncState.OFFLINE;
            loop.publish();
        });
    }

    /**
     * Switches sync back on after {@link #goOffline()}, or tries once more after a permanent
     * failure; connects at once if the client was started.
     */
    public void goOnline() {
        checkOpen();
        loop.run(() -> {
            if (!connection.switchedOff && connection.permanent == null) {
                return;
            }
            connection.switchedOff = false;
            if (connection.started) {
                connection.tryAgain(true);
            } else {
                connection.permanent = null;
            }
        });
    }

    /**
     * Closes the connection and stops the client; idempotent. Pending {@link #syncNow()} calls
     * fail. Does not close the engine ({@link Cairn#close()} closes its clients itself).
     */
    @Override
    public void close() {
        close(null, "the sync client was closed");
    }

    /** Stops for good; {@code code} (null for the app's own close) and {@code why} are the final status's error. */
    private void close(String code, String why) {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        loop.shutdown(() -> {
            connection.stop();
            outboxSubscription.close();
            changeSubscription.close();
            resyncSubscription.close();
            if (spaceOpenedSubscription != null) {
                spaceOpenedSubscription.close();
                presenceSubscription.close();
            }
            if (engineCloseSubscription != null) {
                engineCloseSubscription.close();
            }
            waiters.failAll(code, why);
            loop.state = SyncState.OFFLINE;
            if (code != null) {
                loop.report(code, why);
            }
            loop.publish();
        });
        if (ownTransport != null) {
            ownTransport.release();
        }
    }

    boolean isClosed() {
        return closed;
    }

    /** Sends what the user's and every space's outbox hold, as far as their windows allow. Sync thread. */
    void pumpAll() {
        push.pump();
        if (spaces != null) {
            spaces.pumpAll();
        }
    }

    /** The pipeline whose batch {@code batch} is in flight on {@code s}; the user's if none (a late answer). */
    PushPipeline pushFor(Session s, long batch) {
        if (spaces != null && !push.owns(s, batch)) {
            for (PushPipeline p : spaces.pipelines.values()) {
                if (p.owns(s, batch)) {
                    return p;
                }
            }
        }
        return push;
    }

    /**
     * The sync of space {@code id} on this client (PROTOCOL.md 8): catching up, live or left, its
     * cursor and refused changes; null if this client has not synced that space (or syncs no spaces).
     */
    public SpaceStatus spaceStatus(String id) {
        return spaces == null ? null : spaces.status(id);
    }

    /** Every space this client has synced, by id (empty if it syncs no spaces). */
    public Map<String, SpaceStatus> spaceStatuses() {
        return spaces == null ? Map.of() : spaces.statuses();
    }

    /** Called on the persistence thread when outbox entries are being committed: push them now (coalesced). */
    private void requestPump() {
        if (pumpRequested.compareAndSet(false, true)) {
            loop.post(() -> {
                pumpRequested.set(false);
                pumpAll();
                loop.publish();
                // The engine tells us while its commit is still running: look again shortly, so
                // the status settles once it finished.
                if (settleRequested.compareAndSet(false, true)) {
                    loop.schedule(() -> {
                        settleRequested.set(false);
                        loop.publish();
                    }, SETTLE_NANOS);
                }
            });
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the sync client is closed");
        }
    }

    // ------------------------------------------------------------------ builder


    // ------------------------------------------------------------------ builder

    /**
     * Configures a {@link SyncClient}. Each setting may be given once; a bad or repeated setting
     * is an {@link IllegalArgumentException} or {@link IllegalStateException} naming it.
     */
    public static final class Builder {

        private final Cairn cairn;
        private final URI uri;
        private final Supplier<String> token;
        private Transport transport;
        private Integer batchSize;
        private Integer maxProtocol;
        private String user;
        private Integer maxInFlight;
        private Duration backoffMin;
        private Duration backoffMax;
        private Random random;
        private Duration keepAlive;
        private Duration connectTimeout;
        private Duration skewRetryMin;
        private Duration skewRetryMax;
        private Duration quotaRetryMin;
        private Duration quotaRetryMax;
        private Duration retryMin;
        private Duration retryMax;
        private BiFunction<List<Change>, Long, Integer> applier;
        private UnaryOperator<CompletableFuture<Void>> savedThrough;
        private SSLContext sslContext;
        private HttpClient httpClient;
        private Executor executor;
        private ChangeCipher cipher;
        private dev.cairn.engine.LeftSpaceCopy onSpaceLeft;

        private Builder(Cairn cairn, URI uri, Supplier<String> token) {
            this.cairn = Objects.requireNonNull(cairn, "cairn");
            this.uri = Objects.requireNonNull(uri, "uri");
            this.token = Objects.requireNonNull(token, "token");
            String scheme = uri.getScheme();
            if (!"ws".equalsIgnoreCase(scheme) && !"wss".equalsIgnoreCase(scheme)) {
                throw new IllegalArgumentException("uri must be a ws:// or wss:// address of the sync endpoint, was " + uri);
            }
        }

        /** How to reach the server; default a {@link JdkWebSocketTransport}. */
        public Builder transport(Transport transport) {
            requireState(this.transport == null, "transport was already set to %s", this.transport);
            requireState(this.sslContext == null, "sslContext applies to the default transport; configure TLS on the given transport instead");
            requireState(this.httpClient == null && this.executor == null, "httpClient and executor apply to the default transport, not to a given one");
            this.transport = Objects.requireNonNull(transport, "transport");
            return this;
        }

        /**
         * The TLS settings for {@code wss://} with the default transport, e.g. an {@link SSLContext}
         * that trusts a server's self-signed or private certificate; default the JDK's (its trust store).
         */
        public Builder sslContext(SSLContext sslContext) {
            requireState(this.sslContext == null, "sslContext was already set");
            requireState(this.transport == null, "sslContext applies to the default transport; configure TLS on the given transport instead");
            requireState(this.httpClient == null, "sslContext applies to the client the default transport builds; configure TLS on the given httpClient instead");
            this.sslContext = Objects.requireNonNull(sslContext, "sslContext");
            return this;
        }

        /**
         * The app's own {@link HttpClient} for the default transport's WebSockets (a proxy, TLS, an
         * executor of the app's, one client shared by several sync clients). The app owns it:
         * {@link SyncClient#close()} leaves it and its threads running. Default: a client the
         * sync client builds and releases at close.
         */
        public Builder httpClient(HttpClient client) {
            requireState(this.httpClient == null, "httpClient was already set");
            requireState(this.transport == null, "httpClient applies to the default transport, not to a given one");
            requireState(this.sslContext == null, "sslContext applies to the client the default transport builds; configure TLS on the given httpClient instead");
            requireState(this.executor == null, "executor applies to the client the default transport builds; give the httpClient its executor instead");
            this.httpClient = Objects.requireNonNull(client, "httpClient");
            return this;
        }

        /**
         * The executor the default transport's {@link HttpClient} runs its work on (socket events,
         * message delivery). The app owns it: {@link SyncClient#close()} does not shut it down.
         * Default: a pool of daemon threads ({@code cairn-sync-http-*}) that close() stops.
         */
        public Builder executor(Executor executor) {
            requireState(this.executor == null, "executor was already set");
            requireState(this.transport == null, "executor applies to the default transport, not to a given one");
            requireState(this.httpClient == null, "executor applies to the client the default transport builds; give the httpClient its executor instead");
            this.executor = Objects.requireNonNull(executor, "executor");
            return this;
        }

        /**
         * End-to-end encryption of the values of {@code sections} (registered sections of the
         * engine) with {@code key}, derived from the user's passphrase ({@link E2eKey#derive}): each
         * value is sealed (AES-GCM) before it is pushed and opened when it arrives, so the server
         * stores and merges only ciphertext. The engine and its local store keep plain values. If
         * the server holds values sealed with another key (a wrong passphrase) the client stops in
         * {@link SyncState#LOCKED} instead of applying anything; pushes wait until the session has
         * caught up, so such a device never pushes values the others cannot open.
         */
        public Builder endToEnd(E2eKey key, Collection<String> sections) {
            requireState(this.cipher == null, "endToEnd was already set for %s", this.cipher == null ? null : this.cipher.sections());
            Objects.requireNonNull(key, "key");
            Objects.requireNonNull(sections, "sections");
            requireArgument(!sections.isEmpty(), "endToEnd needs at least one section");
            Map<String, SectionSpec> registered = cairn.sections();
            for (String section : sections) {
                requireArgument(registered.containsKey(section), "endToEnd: '%s' is not a section registered with this engine (registered: %s)",
                        section, new TreeSet<>(registered.keySet()));
            }
            this.cipher = new ChangeCipher(new ValueCipher(key), Set.copyOf(sections));
            return this;
        }

        /**
         * Syncs the user's spaces (PROTOCOL.md 8) over this client's socket: {@link Cairn#space}
         * replicas are named in {@code hello} with their cursors, every space the user is a member
         * of is caught up and then live, space writes are pushed (the server refuses a viewer's or a
         * non-member's, which stay visible as refused: {@link dev.cairn.engine.Space#refusedChanges()}),
         * and presence is sent and received. {@code onLeft} says what happens to a space's copy when
         * the user leaves it, is removed or it is deleted. Needs protocol version 2 (the default
         * {@link #maxProtocol}); a session on version 1 syncs no spaces. Default: spaces are not synced.
         */
        public Builder syncSpaces(dev.cairn.engine.LeftSpaceCopy onLeft) {
            requireState(this.onSpaceLeft == null, "syncSpaces was already set to %s", this.onSpaceLeft);
            this.onSpaceLeft = Objects.requireNonNull(onLeft, "onLeft");
            return this;
        }

        /**
         * The user whose data this device holds, as the token's {@code sub} names it. When set, a
         * {@code welcome} for another user (a token of someone else) ends sync permanently with
         * {@code wrong-user} before anything is sent or applied, so one user's data never reaches
         * another's account (spec/vectors/sync/README.md, Connection 4). May be set once.
         */
        public Builder user(String user) {
            requireState(this.user == null, "user was already set to %s", this.user);
            this.user = Objects.requireNonNull(user, "user");
            return this;
        }

        /**
         * The highest protocol version to offer (PROTOCOL.md 7.1): 2 (the default) offers versions
         * 1 and 2, and the server picks; 1 speaks version 1 only, as clients before version 2 did.
         */
        public Builder maxProtocol(int maxProtocol) {
            requireState(this.maxProtocol == null, "maxProtocol was already set to %s", this.maxProtocol);
            requireArgument(maxProtocol == 1 || maxProtocol == 2, "maxProtocol must be 1 or 2, was %s", maxProtocol);
            this.maxProtocol = maxProtocol;
            return this;
        }

        /**
         * Most changes in one push (default {@value SyncClient#DEFAULT_BATCH_SIZE}); the server's
         * {@code welcome.maxBatch} still caps it. May be set once; at least 1.
         */
        public Builder batchSize(int batchSize) {
            requireState(this.batchSize == null, "batchSize was already set to %s", this.batchSize);
            requireArgument(batchSize >= 1, "batchSize must be at least 1, was %s", batchSize);
            this.batchSize = batchSize;
            return this;
        }

        /** Most push batches awaiting an ack at a time; default 4. */
        public Builder maxInFlightBatches(int maxInFlightBatches) {
            requireState(this.maxInFlight == null, "maxInFlightBatches was already set to %s", this.maxInFlight);
            requireArgument(maxInFlightBatches >= 1, "maxInFlightBatches must be at least 1, was %s", maxInFlightBatches);
            this.maxInFlight = maxInFlightBatches;
            return this;
        }

        /**
         * Reconnect delays: attempt n waits a random time in {@code [0, min(max, min * 2^n)]},
         * never less than {@code min}; default 200 ms .. 30 s.
         */
        public Builder backoff(Duration min, Duration max) {
            requireRange("backoff", this.backoffMin, this.backoffMax, min, max);
            this.backoffMin = min;
            this.backoffMax = max;
            return this;
        }

        /** The source of backoff jitter (tests inject a predictable one). */
        public Builder random(Random random) {
            requireState(this.random == null, "random was already set to %s", this.random);
            this.random = Objects.requireNonNull(random, "random");
            return this;
        }

        /** Silence after which a ping is sent; no answer for as long again drops the connection. Default 20 s. */
        public Builder keepAlive(Duration keepAlive) {
            requireState(this.keepAlive == null, "keepAlive was already set to %s", this.keepAlive);
            Objects.requireNonNull(keepAlive, "keepAlive");
            requireArgument(keepAlive.toMillis() >= 1, "keepAlive must be at least 1 ms, was %s", keepAlive);
            this.keepAlive = keepAlive;
            return this;
        }

        /** How long connecting may take, up to the server's welcome; default 15 s. */
        public Builder connectTimeout(Duration connectTimeout) {
            requireState(this.connectTimeout == null, "connectTimeout was already set to %s", this.connectTimeout);
            Objects.requireNonNull(connectTimeout, "connectTimeout");
            requireArgument(connectTimeout.toMillis() >= 1, "connectTimeout must be at least 1 ms, was %s", connectTimeout);
            this.connectTimeout = connectTimeout;
            return this;
        }

        /**
         * Delays before a batch the server refused with {@code clock-skew} (this device's clock is
         * ahead of the server's) is sent again: at least {@code min}, growing up to {@code max} while
         * it keeps being refused; default 5 s .. 30 s.
         */
        public Builder clockSkewRetry(Duration min, Duration max) {
            requireRange("clockSkewRetry", this.skewRetryMin, this.skewRetryMax, min, max);
            this.skewRetryMin = min;
            this.skewRetryMax = max;
            return this;
        }

        /**
         * Delays before a batch the server refused with {@code quota-exceeded} (the user's storage
         * on the server is full) is sent again: at least {@code min}, growing up to {@code max}
         * while it keeps being refused; default 15 s .. 5 min. {@link SyncClient#syncNow()} retries at once.
         */
        public Builder quotaRetry(Duration min, Duration max) {
            requireRange("quotaRetry", this.quotaRetryMin, this.quotaRetryMax, min, max);
            this.quotaRetryMin = min;
            this.quotaRetryMax = max;
            return this;
        }

        /**
         * Delays before a batch the server answered with {@code rate-limited} or {@code unavailable}
         * is sent again (no other push meanwhile); default the reconnect backoff's.
         */
        public Builder retry(Duration min, Duration max) {
            requireRange("retry", this.retryMin, this.retryMax, min, max);
            this.retryMin = min;
            this.retryMax = max;
            return this;
        }

        /** Test seam: how a page of server changes is applied; default the engine's (SyncPort#applyRemote). */
        Builder applyWith(BiFunction<List<Change>, Long, Integer> applier) {
            this.applier = Objects.requireNonNull(applier, "applier");
            return this;
        }

        /** Test seam: what a syncNow() waits for in place of its save (to hold it while frames arrive). */
        Builder savedThrough(UnaryOperator<CompletableFuture<Void>> hold) {
            this.savedThrough = Objects.requireNonNull(hold, "hold");
            return this;
        }

        /** A client, not yet connected: call {@link SyncClient#start()}. */
        public SyncClient build() {
            return new SyncClient(this);
        }

        private static void requireRange(String setting, Duration was, Duration wasMax, Duration min, Duration max) {
            requireState(was == null, "%s was already set to %s .. %s", setting, was, wasMax);
            Objects.requireNonNull(min, setting + " min");
            Objects.requireNonNull(max, setting + " max");
            requireArgument(min.toMillis() >= 1, "%s min must be at least 1 ms, was %s", setting, min);
            requireArgument(max.compareTo(min) >= 0, "%s max (%s) must not be less than %s min (%s)", setting, max, setting, min);
        }

        private static void requireArgument(boolean ok, String template, Object... args) {
            if (!ok) {
                throw new IllegalArgumentException(String.format(template, args));
            }
        }

        private static void requireState(boolean ok, String template, Object... args) {
            if (!ok) {
                throw new IllegalStateException(String.format(template, args));
            }
        }
    }
}
