package dev.cairn.engine.sync;

import dev.cairn.engine.Cairn;
import dev.cairn.engine.ChangeEvent;
import dev.cairn.engine.codec.ChangeJson;
import dev.cairn.engine.Subscription;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.crypto.ChangeCipher;
import dev.cairn.engine.crypto.E2eException;
import dev.cairn.engine.crypto.E2eKey;
import dev.cairn.engine.crypto.ValueCipher;
import dev.cairn.engine.protocol.CloseCodes;
import dev.cairn.engine.protocol.ErrorCode;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.FrameCodec;
import dev.cairn.engine.protocol.ProtocolException;
import dev.cairn.engine.section.SectionSpec;
import java.net.URI;
import java.net.http.HttpClient;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Supplier;
import javax.net.ssl.SSLContext;

/**
 * Keeps one {@link Cairn} engine in sync with a Cairn server over the protocol of PROTOCOL.md:
 * pushes the engine's outbox, applies the server's changes and advances the engine's cursor, and
 * reconnects with exponential backoff and full jitter when the connection is lost.
 *
 * <pre>{@code
 * try (SyncClient sync = SyncClient.builder(cairn, URI.create("wss://cairn.example/sync"), tokens::current).build()) {
 *     sync.onStatus(s -> ui.showSyncState(s.state(), s.pendingChanges()));
 *     sync.start();
 *     ...
 *     sync.syncNow().join(); // my changes are on the server and I have the server's changes
 * }
 * }</pre>
 *
 * <p><b>Push.</b> Committed outbox entries are sent in {@code push} batches of at most
 * {@code min(batchSize, welcome.maxBatch)} changes whose encoded frame stays under 90% of the
 * server's {@code welcome.maxFrameBytes}, with at most {@code maxInFlightBatches} unacknowledged
 * at a time. A change whose push frame alone is larger than {@code maxFrameBytes} can never be
 * accepted: it is dropped and reported like a refused change, never sent. An entry leaves the
 * outbox only when the server acknowledges its batch; after a reconnect everything unacknowledged is sent again (at-least-once; merging is
 * idempotent). A batch the server refuses with {@code invalid-change} or {@code batch-too-large}
 * is split in halves and re-sent, so only the changes the server can never accept are dropped
 * (reported in {@link SyncStatus#lastError()}) and the valid changes around them still go through;
 * a batch answered with {@code unavailable} or {@code rate-limited} is re-sent after a short,
 * growing delay. A batch answered with {@code clock-skew} (this device's clock is ahead of the
 * server's) stays queued and is re-sent after a longer, growing delay ({@link Builder#clockSkewRetry},
 * default 5 s .. 30 s) while other batches go on; so does a batch answered with {@code quota-exceeded}
 * (the user's storage on the server is full: {@link Builder#quotaRetry}, default 15 s .. 5 min, or at
 * once on {@link #syncNow()}), which also fails the syncNow calls waiting for it. A connection the server closes with 1009 (frame
 * too big) counts as a failed session: the reconnect backoff is not reset by the next welcome,
 * and later batches are kept smaller. A connection the server closes with 4401 (the token
 * expired) is opened again at once, with a fresh token from the token supplier.
 *
 * <p><b>Pull.</b> Pages of server changes are applied with {@link Cairn#applyRemote(List, long)},
 * which persists the cursor no earlier than the changes. Changes to sections the engine does not
 * register are ignored. The server is the authority on stamps, so a page is not refused for a
 * stamp ahead of this device's clock. A frame that cannot be decoded is reported, the connection
 * is closed and retried with backoff from the unchanged cursor. A page that cannot be applied
 * (e.g. the local store failed) is reported; pulling stops on that connection (the cursor stays,
 * so no change is skipped) while pushes and acks go on, and after a backoff delay the client
 * reconnects to pull again from the cursor.
 *
 * <p><b>Threading.</b> One thread ({@code cairn-sync}) owns all client state; transport callbacks
 * and engine listeners only post tasks to it. Status listeners run on that thread. The public
 * methods are thread-safe. Close the client before the engine.
 */
public final class SyncClient implements AutoCloseable {

    public static final int DEFAULT_BATCH_SIZE = 500;
    public static final int DEFAULT_MAX_IN_FLIGHT_BATCHES = 4;
    public static final Duration DEFAULT_BACKOFF_MIN = Duration.ofMillis(200);
    public static final Duration DEFAULT_BACKOFF_MAX = Duration.ofSeconds(30);
    /** A ping is sent after this much silence from the server; no answer for as long again closes the connection. */
    public static final Duration DEFAULT_KEEP_ALIVE = Duration.ofSeconds(20);
    /** How long opening a connection may take, up to the server's {@code welcome}. */
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(15);
    /** Delays before re-sending a batch the server answered with {@code clock-skew}. */
    public static final Duration DEFAULT_CLOCK_SKEW_RETRY_MIN = Duration.ofSeconds(5);
    public static final Duration DEFAULT_CLOCK_SKEW_RETRY_MAX = Duration.ofSeconds(30);
    /** Delays before re-sending a batch the server answered with {@code quota-exceeded}. */
    public static final Duration DEFAULT_QUOTA_RETRY_MIN = Duration.ofSeconds(15);
    public static final Duration DEFAULT_QUOTA_RETRY_MAX = Duration.ofMinutes(5);
    /** Push frames are kept under this share of the server's maxFrameBytes (headroom), in percent. */
    static final int FRAME_BUDGET_PERCENT = 90;
    /** After 1009 closes the budget is halved, at most this many times. */
    private static final int MAX_FRAME_BUDGET_HALVINGS = 6;

    /** The bytes of an empty push frame with the longest possible batch id. */
    private static final long PUSH_OVERHEAD_BYTES = utf8Length(FrameCodec.encode(new Frame.Push(Long.MIN_VALUE, List.of())));

    private static final long SETTLE_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

    private static final System.Logger LOG = System.getLogger(SyncClient.class.getName());

    private final Cairn cairn;
    private final URI uri;
    private final Supplier<String> token;
    private final Transport transport;
    private final int batchSize;
    private final int maxInFlight;
    private final Duration backoffMin;
    private final Duration backoffMax;
    private final Random random;
    private final Duration keepAlive;
    private final Duration connectTimeout;
    private final Duration skewRetryMin;
    private final Duration skewRetryMax;
    private final Duration quotaRetryMin;
    private final Duration quotaRetryMax;
    private final Duration retryMin;
    private final Duration retryMax;
    private final BiFunction<List<Change>, Long, Integer> applier;
    private final Map<String, SectionSpec> sections;
    /** Seals pushed and opens pulled values of the end-to-end encrypted sections; null if none. */
    private final ChangeCipher cipher;
    private final ScheduledThreadPoolExecutor executor;
    private volatile Thread syncThread;

    private final CopyOnWriteArrayList<Consumer<SyncStatus>> statusListeners = new CopyOnWriteArrayList<>();
    private final Subscription outboxSubscription;
    private final Subscription changeSubscription;
    private final Subscription resyncSubscription;
    private final AtomicBoolean pumpRequested = new AtomicBoolean();
    private final AtomicBoolean publishRequested = new AtomicBoolean();
    private final AtomicBoolean settleRequested = new AtomicBoolean();
    private volatile boolean closed;
    private volatile SyncStatus status;

    // ---- owned by the sync thread
    private final Backoff backoff;
    private boolean started;
    private boolean switchedOff;
    private Session session;
    private long sessionCount;
    private long nextBatchId = 1;
    private ScheduledFuture<?> reconnectTimer;
    private SyncState state = SyncState.OFFLINE;
    private Instant lastSyncedAt;
    private String lastError;
    private String lastErrorCode;
    /**
     * A failure retrying cannot fix (a second 401, not a sync endpoint, protocol-version): no
     * reconnect until syncNow() or goOnline() tries once more. Holds the code.
     */
    private String permanent;
    /** Upgrades refused with 401 in a row; the second is permanent. */
    private int unauthorizedInARow;
    /** The current outage was logged: one line per outage, not per retry. */
    private boolean outageLogged;
    /**
     * A server page could not be applied or decoded: do not reset the backoff on welcome, only once
     * a session has caught up cleanly.
     */
    private boolean pullFailed;
    /**
     * The server closed a connection with 1009 (frame too big): do not reset the backoff on welcome
     * or caught-up until a push is acknowledged again, so a bug cannot cause a tight reconnect loop.
     */
    private boolean frameTooBig;
    /** How many times a 1009 close halved the push frame budget (kept for the client's lifetime). */
    private int frameBudgetHalvings;
    /**
     * Values from the server did not open with this client's end-to-end key (another passphrase):
     * the client stays {@link SyncState#LOCKED} for good, pushing and applying nothing.
     */
    private boolean locked;
    /** Outbox seqs the server acknowledged (or that were dropped) whose removal from the outbox is in progress. */
    private final Set<Long> acking = new HashSet<>();
    private final List<Waiter> waiters = new ArrayList<>();
    /** Recent drops (code, description), for syncNow calls whose waiter is not registered yet. */
    private final List<String[]> drops = new ArrayList<>();
    private long droppedBefore;

    private SyncClient(Builder b) {
        this.cairn = b.cairn;
        this.uri = b.uri;
        this.token = b.token;
        this.batchSize = b.batchSize == null ? DEFAULT_BATCH_SIZE : b.batchSize;
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
        this.applier = b.applier == null ? cairn::applyRemote : b.applier;
        this.transport = b.transport != null ? b.transport
                : b.sslContext != null ? new JdkWebSocketTransport(HttpClient.newBuilder().sslContext(b.sslContext).build(), connectTimeout)
                : new JdkWebSocketTransport(connectTimeout);
        this.backoff = new Backoff(backoffMin, backoffMax, random);
        this.sections = cairn.sections();
        this.cipher = b.cipher;
        this.executor = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "cairn-sync");
            t.setDaemon(true);
            syncThread = t;
            return t;
        });
        executor.setRemoveOnCancelPolicy(true);
        executor.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        executor.setContinueExistingPeriodicTasksAfterShutdownPolicy(false);
        this.status = new SyncStatus(SyncState.OFFLINE, null, cairn.pendingChanges(), null, cairn.cursor());
        this.outboxSubscription = cairn.onOutbox(this::requestPump);
        this.changeSubscription = cairn.onChange(event -> {
            if (event.origin() != ChangeEvent.Origin.REMOTE) {
                requestPublish(); // pendingChanges grew
            }
        });
        // A section's sync was turned back on and the cursor reset: catch up again on a new connection.
        this.resyncSubscription = cairn.onResync(() -> post(() -> {
            if (session != null) {
                endSession(session, null, null, Reconnect.NOW);
            }
        }));
    }

    /**
     * A client for {@code cairn}, syncing with the endpoint at {@code uri} ({@code ws://} or
     * {@code wss://}, e.g. {@code wss://host/sync}). {@code token} is asked for a fresh bearer
     * token before every connection.
     */
    public static Builder builder(Cairn cairn, URI uri, Supplier<String> token) {
        return new Builder(cairn, uri, token);
    }

    // ------------------------------------------------------------------ public API

    /** Connects, and keeps reconnecting with backoff whenever the connection is lost. */
    public void start() {
        checkOpen();
        post(() -> {
            started = true;
            connect();
        });
    }

    /**
     * Syncs now: connects at once if not connected (skipping a backoff wait; starts the client if
     * needed), saves queued local changes, and completes when every change that was in the outbox
     * at call time is acknowledged by the server and the session has caught up with the server
     * (at least to the head it has seen after those acknowledgements). So afterwards the caller's
     * changes are on the server and the caller has the server's changes.
     *
     * <p>Fails with a {@link SyncException} if the server rejected one of those changes (it was
     * dropped), if sync is switched off ({@link #goOffline()}) or the client is closed. It does not
     * time out by itself: use {@link CompletableFuture#orTimeout}.
     */
    public CompletableFuture<Void> syncNow() {
        CompletableFuture<Void> result = new CompletableFuture<>();
        if (closed) {
            result.completeExceptionally(new SyncException("the sync client is closed"));
            return result;
        }
        boolean posted = post(() -> {
            if (switchedOff) {
                result.completeExceptionally(new SyncException("sync is switched off (goOffline); call goOnline() first"));
                return;
            }
            if (locked) {
                result.completeExceptionally(new SyncException(lastErrorCode, lastError, null));
                return;
            }
            started = true;
            permanent = null; // try once more
            long dropMark = drops.size() + droppedBefore;
            if (session == null) {
                connect(); // now, not after the backoff delay
            }
            CompletableFuture<Void> saved;
            try {
                saved = cairn.save();
            } catch (RuntimeException e) {
                result.completeExceptionally(new SyncException("could not save local changes: " + e.getMessage(), e));
                return;
            }
            saved.whenComplete((ignored, error) -> post(() -> {
                if (error != null) {
                    result.completeExceptionally(new SyncException("could not save local changes: " + messageOf(error), error));
                } else if (closed || switchedOff) {
                    result.completeExceptionally(new SyncException(closed ? "the sync client was closed" : "sync was switched off (goOffline)"));
                } else if (permanent != null || locked) {
                    result.completeExceptionally(new SyncException(lastErrorCode, lastError, null));
                } else {
                    NavigableMap<Long, Change> outbox = cairn.outbox(Integer.MAX_VALUE);
                    Waiter w = new Waiter(outbox.isEmpty() ? 0 : outbox.lastKey(), result);
                    // dropped between the call and now: pending at call time, so this call covers them
                    for (int i = (int) Math.max(0, dropMark - droppedBefore); i < drops.size(); i++) {
                        w.rejected.add(drops.get(i)[1]);
                        w.rejectedCode = drops.get(i)[0];
                    }
                    waiters.add(w);
                    if (session != null) {
                        retryOverQuota(session); // the caller may have freed space: try now, not after the quota delay
                    }
                    checkWaiters();
                }
            }));
        });
        if (!posted) {
            result.completeExceptionally(new SyncException("the sync client is closed"));
        }
        return result;
    }

    /** The latest status. */
    public SyncStatus status() {
        return status;
    }

    /**
     * Calls {@code listener} (on the sync thread) with the current status right away and then on
     * every change of the status.
     */
    public Subscription onStatus(Consumer<SyncStatus> listener) {
        Objects.requireNonNull(listener, "listener");
        statusListeners.add(listener);
        post(() -> {
            if (statusListeners.contains(listener)) {
                notify(listener, status);
            }
        });
        return () -> statusListeners.remove(listener);
    }

    /**
     * Switches sync off (the app's offline switch): closes the connection and does not reconnect
     * until {@link #goOnline()}. Pending {@link #syncNow()} calls fail. Local writes go on and
     * queue in the outbox.
     */
    public void goOffline() {
        runOnSyncThread(() -> {
            switchedOff = true;
            cancelReconnect();
            if (session != null) {
                endSession(session, null, null, Reconnect.NO);
            }
            failWaiters(null, "sync was switched off (goOffline)");
            state = locked ? SyncState.LOCKED : SyncState.OFFLINE;
            publish();
        });
    }

    /** Switches sync back on after {@link #goOffline()}; connects at once if the client was started. */
    public void goOnline() {
        runOnSyncThread(() -> {
            if (!switchedOff && permanent == null) {
                return;
            }
            switchedOff = false;
            permanent = null; // try once more
            backoff.reset();
            if (started) {
                connect();
            }
        });
    }

    /** Closes the connection and stops the client; idempotent. Does not close the engine. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        Runnable shutdown = () -> {
            cancelReconnect();
            if (session != null) {
                endSession(session, null, null, Reconnect.NO);
            }
            outboxSubscription.close();
            changeSubscription.close();
            resyncSubscription.close();
            failWaiters(null, "the sync client was closed");
            state = SyncState.OFFLINE;
            publish();
        };
        if (Thread.currentThread() == syncThread) {
            shutdown.run();
            executor.shutdown();
            return;
        }
        try {
            executor.submit(guarded(shutdown)).get(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException | RejectedExecutionException e) {
            LOG.log(System.Logger.Level.WARNING, "cairn sync: closing did not finish cleanly: " + e);
        }
        executor.shutdown();
        try {
            if (!executor.awaitTermination(5, TimeUnit.SECONDS)) {
                executor.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            executor.shutdownNow();
        }
    }

    // ------------------------------------------------------------------ connection lifecycle

    private enum Reconnect { NO, NOW, BACKOFF, MAX }

    /** One connection attempt and, once welcomed, its session. Sync thread only. */
    private final class Session {
        final long id;
        Transport.Connection connection;
        boolean ended;
        boolean welcomed;
        boolean caughtUp;
        int maxBatch;
        /** The server's hard limit on a frame, in UTF-8 bytes. */
        long maxFrameBytes = Frame.Welcome.DEFAULT_MAX_FRAME_BYTES;
        /** What a push frame is kept under (headroom below maxFrameBytes). */
        long frameBudget = Frame.Welcome.DEFAULT_MAX_FRAME_BYTES;
        long knownHead;
        /** The sections welcome listed, or null if it did not say (then every section is pushed). */
        Set<String> serverSections;
        /** Outbox seqs of sections the server does not know: queued, not pushed on this session. */
        final TreeSet<Long> held = new TreeSet<>();
        /** A page could not be applied: pages are ignored (the cursor stays) until {@link #pullRetryTimer} reconnects. */
        boolean pullStalled;
        ScheduledFuture<?> pullRetryTimer;
        long lastReceivedNanos = System.nanoTime();
        long pingSentNanos;
        /** When part of a frame last arrived (transport thread; 0 = never): also a sign of life. */
        volatile long progressNanos;
        /** Sent, unanswered batches in send order (batch ids increase). */
        final LinkedHashMap<Long, Batch> inFlight = new LinkedHashMap<>();
        /** Parts to send again before reading new outbox entries. */
        final ArrayDeque<Part> resend = new ArrayDeque<>();
        /** Parts waiting for {@link #retryTimer} (after unavailable / rate-limited). */
        final List<Part> parked = new ArrayList<>();
        /** Outbox seqs in inFlight, resend or parked: never read from the outbox again on this session. */
        final Set<Long> owned = new HashSet<>();
        final Backoff retryBackoff = new Backoff(retryMin, retryMax, random);
        ScheduledFuture<?> retryTimer;
        /** Parts the server answered with clock-skew, waiting for {@link #skewTimer}; other pushes go on. */
        final List<Part> skewParked = new ArrayList<>();
        final Backoff skewBackoff = new Backoff(skewRetryMin, skewRetryMax, random);
        ScheduledFuture<?> skewTimer;
        /** Parts the server answered with quota-exceeded, waiting for {@link #quotaTimer}; other pushes go on. */
        final List<Part> quotaParked = new ArrayList<>();
        final Backoff quotaBackoff = new Backoff(quotaRetryMin, quotaRetryMax, random);
        ScheduledFuture<?> quotaTimer;
        ScheduledFuture<?> handshakeTimer;
        ScheduledFuture<?> keepAliveTask;

        Session(long id) {
            this.id = id;
        }

        boolean current() {
            return !ended && session == this;
        }
    }

    /** Some outbox entries: seqs and their changes, in the same order. */
    private record Part(List<Long> seqs, List<Change> changes) {
        int size() {
            return seqs.size();
        }

        Part slice(int from, int to) {
            return new Part(List.copyOf(seqs.subList(from, to)), List.copyOf(changes.subList(from, to)));
        }
    }

    private record Batch(long id, Part part) {
    }

    /** A pending {@link #syncNow()}: done when no outbox entry up to {@code target} is left and the session is live. */
    private static final class Waiter {
        final long target;
        final CompletableFuture<Void> future;
        final List<String> rejected = new ArrayList<>();
        String rejectedCode;

        Waiter(long target, CompletableFuture<Void> future) {
            this.target = target;
            this.future = future;
        }
    }

    private void connect() {
        if (closed || switchedOff || locked || permanent != null || session != null) {
            return;
        }
        cancelReconnect();
        Session s = new Session(++sessionCount);
        session = s;
        state = SyncState.CONNECTING;
        publish();
        s.handshakeTimer = schedule(() -> {
            if (s.current() && !s.welcomed) {
                endSession(s, "connection-lost", "no welcome from " + uri + " within " + connectTimeout.toMillis() + " ms", Reconnect.BACKOFF);
            }
        }, connectTimeout.toNanos());
        String bearer;
        CompletableFuture<Transport.Connection> opening;
        try {
            bearer = token.get();
            opening = transport.connect(uri, bearer, new SessionListener(s));
        } catch (RuntimeException e) {
            endSession(s, "connection-lost", "could not connect to " + uri + ": " + messageOf(e), Reconnect.BACKOFF);
            return;
        }
        opening.whenComplete((connection, error) -> {
            if (!post(() -> onConnected(s, connection, error)) && connection != null) {
                connection.close();
            }
        });
    }

    private void onConnected(Session s, Transport.Connection connection, Throwable error) {
        if (error != null) {
            if (s.current()) {
                connectFailed(s, error);
            }
            return;
        }
        if (!s.current()) {
            connection.close();
            return;
        }
        s.connection = connection;
        s.lastReceivedNanos = System.nanoTime();
        send(s, new Frame.Hello(Frame.PROTOCOL_VERSION, cairn.replicaId(), cairn.cursorForHello()));
    }

    /**
     * Ends a session (idempotent): closes its connection, forgets what was in flight (it stays in
     * the outbox and is sent again next time) and maybe schedules a reconnect.
     */
    private void endSession(Session s, String code, String error, Reconnect reconnect) {
        if (s.ended) {
            return;
        }
        s.ended = true;
        cancel(s.handshakeTimer);
        cancel(s.keepAliveTask);
        cancel(s.retryTimer);
        cancel(s.skewTimer);
        cancel(s.quotaTimer);
        cancel(s.pullRetryTimer);
        if (s.connection != null) {
            s.connection.close();
        }
        if (session == s) {
            session = null;
        }
        if (s.welcomed) {
            try {
                cairn.setSyncConnected(false);
            } catch (RuntimeException e) {
                // a closed engine: nothing to relax
            }
        }
        if (error != null) {
            report(code, error);
            if (!outageLogged) { // once per outage, not once per retry
                outageLogged = true;
                LOG.log(System.Logger.Level.INFO, "cairn sync: connection ended: " + error + " (retrying quietly until connected again)");
            }
        }
        state = SyncState.OFFLINE;
        if (reconnect != Reconnect.NO && started && !switchedOff && !closed && permanent == null) {
            Duration delay = reconnect == Reconnect.MAX ? backoff.max() : reconnect == Reconnect.NOW ? Duration.ZERO : backoff.next();
            reconnectTimer = schedule(() -> {
                reconnectTimer = null;
                connect();
            }, delay.toNanos());
        }
        publish();
    }

    private void cancelReconnect() {
        cancel(reconnectTimer);
        reconnectTimer = null;
    }

    /** Posts every transport event of one session to the sync thread. */
    private final class SessionListener implements Transport.Listener {
        private final Session s;

        SessionListener(Session s) {
            this.s = s;
        }

        @Override
        public void onText(String frame) {
            post(() -> onFrame(s, frame));
        }

        @Override
        public void onClosed(int code, String reason) {
            post(() -> {
                if (s.current()) {
                    String why = "connection closed by the server (code " + code + (reason == null || reason.isEmpty() ? "" : ": " + reason) + ")";
                    String errorCode = "connection-lost";
                    if (code == CloseCodes.TOKEN_EXPIRED) {
                        // Not a failure: the token ran out. The next connect asks the supplier for a fresh one.
                        endSession(s, "unauthorized", "the server closed the connection because the token expired (code " + code
                                + "); connecting again with a fresh token", Reconnect.NOW);
                        return;
                    }
                    if (code == 1009) {
                        // A frame was too big for the server. Batches are sized to fit, so this is a
                        // bug somewhere: keep later batches smaller and do not let the next welcome
                        // reset the backoff, so it cannot turn into a tight reconnect loop.
                        frameTooBig = true;
                        frameBudgetHalvings = Math.min(MAX_FRAME_BUDGET_HALVINGS, frameBudgetHalvings + 1);
                        why = "the server closed the connection because a frame was larger than its limit (code 1009"
                                + (reason == null || reason.isEmpty() ? "" : ": " + reason) + ")";
                        errorCode = "frame-too-large";
                        LOG.log(System.Logger.Level.WARNING, "cairn sync: " + why + "; push frames halved " + frameBudgetHalvings + " time(s)");
                    }
                    endSession(s, errorCode, why, Reconnect.BACKOFF);
                }
            });
        }

        @Override
        public void onError(Throwable error) {
            post(() -> {
                if (s.current()) {
                    endSession(s, "connection-lost", "connection failed: " + messageOf(error), Reconnect.BACKOFF);
                }
            });
        }

        @Override
        public void onProgress() {
            s.progressNanos = System.nanoTime(); // read by keepAlive; no task per fragment
        }
    }

    // ------------------------------------------------------------------ inbound frames

    private void onFrame(Session s, String text) {
        if (!s.current()) {
            return;
        }
        s.lastReceivedNanos = System.nanoTime();
        s.pingSentNanos = 0;
        Frame frame;
        try {
            frame = FrameCodec.decode(text);
        } catch (ProtocolException e) {
            // It may have been a page of changes: going on would move the cursor past it. Resume
            // from the cursor on a new connection instead.
            pullFailed = true;
            endSession(s, "malformed-frame", "the server sent a frame this client does not understand: " + e.getMessage(), Reconnect.BACKOFF);
            return;
        }
        if (frame instanceof Frame.Welcome welcome) {
            onWelcome(s, welcome);
        } else if (frame instanceof Frame.Changes changes) {
            onChanges(s, changes);
        } else if (frame instanceof Frame.CaughtUp caughtUp) {
            onCaughtUp(s, caughtUp);
        } else if (frame instanceof Frame.Ack ack) {
            onAck(s, ack);
        } else if (frame instanceof Frame.Error error) {
            onErrorFrame(s, error);
        } else if (frame instanceof Frame.Ping) {
            send(s, new Frame.Pong());
        } else if (!(frame instanceof Frame.Pong)) {
            report("malformed-frame", "the server sent a '" + frame.type().wire() + "' frame, which only clients send");
            publish();
        }
    }

    private void onWelcome(Session s, Frame.Welcome welcome) {
        if (s.welcomed) {
            report("malformed-frame", "the server sent a second welcome");
            publish();
            return;
        }
        if (welcome.protocol() != Frame.PROTOCOL_VERSION) {
            failPermanently(s, "protocol-version", "the server speaks protocol " + welcome.protocol() + ", this client " + Frame.PROTOCOL_VERSION);
            return;
        }
        s.welcomed = true;
        cancel(s.handshakeTimer);
        s.maxBatch = welcome.maxBatch() > 0 ? welcome.maxBatch() : batchSize;
        s.maxFrameBytes = welcome.maxFrameBytes() > 0 ? welcome.maxFrameBytes() : Frame.Welcome.DEFAULT_MAX_FRAME_BYTES;
        long headroomed = s.maxFrameBytes > Long.MAX_VALUE / 100
                ? s.maxFrameBytes / 100 * FRAME_BUDGET_PERCENT : s.maxFrameBytes * FRAME_BUDGET_PERCENT / 100;
        s.frameBudget = Math.max(1, headroomed >> frameBudgetHalvings);
        s.knownHead = welcome.head();
        if (!pullFailed && !frameTooBig) {
            backoff.reset();
        }
        report(null, null);
        unauthorizedInARow = 0;
        if (outageLogged) {
            outageLogged = false;
            LOG.log(System.Logger.Level.INFO, "cairn sync: connected again");
        }
        s.serverSections = welcome.sections() == null ? null : Set.copyOf(welcome.sections().keySet());
        if (welcome.head() < cairn.cursor()) {
            // The server lost data or was reset: it sends everything from 0 (PROTOCOL.md 3.1).
            LOG.log(System.Logger.Level.WARNING, "cairn sync: server head " + welcome.head() + " is behind this replica's cursor "
                    + cairn.cursor() + "; resetting the cursor");
            cairn.resetCursor();
        }
        cairn.setSyncConnected(true);
        long period = Math.max(1, keepAlive.toNanos() / 4);
        s.keepAliveTask = executor.scheduleWithFixedDelay(guarded(() -> keepAlive(s)), period, period, TimeUnit.NANOSECONDS);
        state = SyncState.CATCHING_UP;
        publish();
        pump();
    }

    private void onChanges(Session s, Frame.Changes page) {
        if (!s.welcomed) {
            report("malformed-frame", "the server sent changes before its welcome");
            publish();
            return;
        }
        if (s.pullStalled) {
            // An earlier page could not be applied: applying this one would move the cursor past it.
            s.knownHead = Math.max(s.knownHead, page.cursor());
            return;
        }
        List<Change> changes = new ArrayList<>(page.changes().size());
        for (Frame.SeqChange c : page.changes()) {
            SectionSpec spec = sections.get(c.change().section());
            if (spec == null) {
                continue; // a section this app does not register (another app's, or a newer version's)
            }
            SectionKind needed = c.change().kind();
            if (spec.kind() != needed) {
                report("invalid-change", "ignored a change from the server: section '" + spec.name() + "' is a " + spec.kind().wireName()
                        + " section here but the server has a " + needed.wireName() + " change for it");
                continue;
            }
            if (cipher != null && cipher.covers(spec.name())) {
                try {
                    changes.add(cipher.open(c.change()));
                } catch (E2eException e) {
                    if (e.reason() == E2eException.Reason.WRONG_PASSPHRASE) {
                        lock(s, e);
                        return;
                    }
                    // Not sealed by this user's key (altered on the way or at rest, or written in
                    // plain text by someone else): never applied as data; the rest of the page is.
                    report("invalid-change", "ignored an end-to-end encrypted change from the server that does not open: " + e.getMessage());
                    LOG.log(System.Logger.Level.WARNING, "cairn sync: " + lastError);
                }
                continue;
            }
            changes.add(c.change());
        }
        try {
            applier.apply(changes, page.cursor());
        } catch (RuntimeException e) {
            // Not the page's fault (unknown sections and wrong kinds were filtered out above, and
            // stamps are the server's business): most likely the local store. Skipping the page
            // would move the cursor past changes never applied, so stop pulling on this connection
            // but keep pushing and taking acks; pull again from the cursor on a new connection later.
            pullFailed = true;
            s.pullStalled = true;
            s.caughtUp = false; // not live any more: changes are waiting that this replica does not have
            state = SyncState.CATCHING_UP;
            s.knownHead = Math.max(s.knownHead, page.cursor());
            Duration delay = backoff.next();
            report("apply-failed", "could not apply changes from the server (kept cursor " + cairn.cursor() + "; pushing goes on, pulling again in "
                    + delay.toMillis() + " ms): " + messageOf(e));
            LOG.log(System.Logger.Level.WARNING, "cairn sync: " + lastError);
            s.pullRetryTimer = schedule(() -> {
                s.pullRetryTimer = null;
                if (s.current()) {
                    endSession(s, null, null, Reconnect.NOW); // the delay was waited already
                }
            }, delay.toNanos());
            publish();
            return;
        }
        s.knownHead = Math.max(s.knownHead, page.cursor());
        if (s.caughtUp) {
            lastSyncedAt = Instant.now();
        }
        publish();
        checkWaiters();
    }

    /**
     * The server holds values sealed with another key than this client's: a wrong passphrase.
     * Nothing of the page is applied (the cursor stays), nothing is pushed, and the client does
     * not reconnect: the app must build a client with the right passphrase.
     */
    private void lock(Session s, E2eException e) {
        locked = true;
        LOG.log(System.Logger.Level.WARNING, "cairn sync: end-to-end key mismatch; sync stopped");
        endSession(s, "wrong-passphrase", "wrong passphrase: " + e.getMessage() + "; sync stopped until a client is built with the right passphrase",
                Reconnect.NO);
        state = SyncState.LOCKED;
        failWaiters(lastErrorCode, lastError);
        publish();
    }

    private void onCaughtUp(Session s, Frame.CaughtUp caughtUp) {
        if (!s.welcomed) {
            report("malformed-frame", "the server sent caught-up before its welcome");
            publish();
            return;
        }
        s.knownHead = Math.max(s.knownHead, caughtUp.cursor());
        if (s.pullStalled) {
            return; // not caught up: a page was not applied; the pull retry reconnects
        }
        s.caughtUp = true;
        pullFailed = false;
        if (!frameTooBig) {
            backoff.reset();
        }
        state = SyncState.LIVE;
        lastSyncedAt = Instant.now();
        publish();
        checkWaiters();
        if (cipher != null) {
            pump(); // pushes were held until this catch-up proved the key
        }
    }

    private void onAck(Session s, Frame.Ack ack) {
        Batch batch = s.inFlight.remove(ack.batch());
        if (batch == null) {
            return; // a duplicate, or a batch already given up on and sent again under another id
        }
        // An ack forgets its batch only, whatever the order (spec/vectors/sync/README.md): the
        // server names a batch it did not apply (rate-limited), so no guessing from the order.
        s.retryBackoff.reset();
        if (s.skewParked.isEmpty()) {
            s.skewBackoff.reset();
        }
        if (s.quotaParked.isEmpty()) {
            s.quotaBackoff.reset();
        }
        frameTooBig = false; // pushes get through again
        s.owned.removeAll(batch.part().seqs());
        acknowledgeLocally(batch.part().seqs(), 0);
        if (s.caughtUp) {
            lastSyncedAt = Instant.now();
        }
        pump();
        publish();
    }

    private void onErrorFrame(Session s, Frame.Error error) {
        ErrorCode code = error.code();
        Batch batch = error.batch() == null ? null : s.inFlight.get(error.batch());
        String message = "server error " + code.wire() + (error.batch() == null ? "" : " for batch " + error.batch()) + ": " + error.message();
        switch (code) {
            case PROTOCOL_VERSION -> {
                failPermanently(s, "protocol-version", "the server does not speak protocol " + Frame.PROTOCOL_VERSION + ": " + error.message());
                return;
            }
            case CLOCK_SKEW -> {
                if (batch != null) {
                    skewed(s, batch, error.message());
                    return;
                }
                report(code.wire(), "the server refused a change because this device's clock is ahead of the server's: " + error.message());
            }
            case QUOTA_EXCEEDED -> {
                if (batch != null) {
                    overQuota(s, batch, error.message());
                    return;
                }
                report(code.wire(), "the server's storage quota for this user is full: " + error.message());
            }
            case INVALID_CHANGE, BATCH_TOO_LARGE -> {
                if (batch != null) {
                    refused(s, batch, code, error.message());
                    return;
                }
                report(code.wire(), message);
            }
            case UNAVAILABLE -> {
                report(code.wire(), message);
                if (batch != null) {
                    park(s, List.of(batch));
                }
            }
            case RATE_LIMITED -> {
                report(code.wire(), message);
                // The dropped frame may have been any of the pushes in flight: send them all again later.
                park(s, batch != null ? List.of(batch) : new ArrayList<>(s.inFlight.values()));
            }
            case SLOW_CONSUMER -> {
                endSession(s, code.wire(), message, Reconnect.BACKOFF);
                return;
            }
            default -> {
                report(code.wire(), message);
                if (batch != null) {
                    park(s, List.of(batch)); // never answered otherwise: try again later
                }
            }
        }
        publish();
    }

    // ------------------------------------------------------------------ push

    /** Sends outbox entries while the in-flight window has room. */
    private void pump() {
        Session s = session;
        if (s == null || !s.current() || !s.welcomed || s.connection == null || s.retryTimer != null) {
            return;
        }
        if (cipher != null && !s.caughtUp) {
            // Push only once this session's catch-up opened every encrypted value with this key, so
            // a device with a wrong passphrase never puts values the other devices cannot open.
            return;
        }
        int perBatch = Math.max(1, Math.min(batchSize, s.maxBatch));
        while (s.inFlight.size() < maxInFlight) {
            Part part = s.resend.pollFirst();
            boolean fromOutbox = part == null;
            if (fromOutbox) {
                part = readOutbox(s, perBatch);
                if (part == null) {
                    return;
                }
            }
            // Cut by count and by encoded size; what is cut off goes back (or stays in the outbox).
            int fits = Math.min(perBatch, fitting(s, part));
            if (fits == 0) {
                // The first change alone makes a frame larger than the server takes: it can never be accepted.
                Part rest = part.slice(1, part.size());
                if (!fromOutbox && rest.size() > 0) {
                    s.resend.addFirst(rest);
                }
                dropForGood(s, part.seqs().get(0), part.changes().get(0), "change-too-large",
                        "its push frame is larger than the server's limit of " + s.maxFrameBytes + " bytes");
                continue;
            }
            if (fits < part.size()) {
                if (!fromOutbox) {
                    s.resend.addFirst(part.slice(fits, part.size()));
                }
                part = part.slice(0, fits);
            }
            if (fromOutbox) {
                s.owned.addAll(part.seqs());
            }
            long id = nextBatchId++;
            String text = FrameCodec.encode(new Frame.Push(id, part.changes()));
            // text.length() * 3 bounds the UTF-8 bytes: count them only when that bound is over the limit
            if (part.size() > 1 && text.length() * 3L > s.maxFrameBytes && utf8Length(text) > s.maxFrameBytes) {
                // Not expected (sizes are summed from the same encoder), but never send a frame the server closes on.
                int half = part.size() / 2;
                s.resend.addFirst(part.slice(half, part.size()));
                s.resend.addFirst(part.slice(0, half));
                continue;
            }
            s.inFlight.put(id, new Batch(id, part));
            sendText(s, text);
        }
    }

    /**
     * How many leading changes of {@code part} fit in one push frame within the session's frame
     * budget: at least 1 if the first change alone fits within the server's hard limit, 0 if not.
     */
    private int fitting(Session s, Part part) {
        // Usually the whole part fits by far: bound each change's UTF-8 bytes by 3 per UTF-16
        // char (no byte counting, which was 40% of a W2 client's CPU) and count only if needed.
        String[] encoded = new String[part.size()];
        long bound = PUSH_OVERHEAD_BYTES;
        for (int i = 0; i < encoded.length; i++) {
            encoded[i] = ChangeJson.encode(part.changes().get(i));
            bound += encoded[i].length() * 3L + 1;
        }
        if (bound <= s.frameBudget) {
            return part.size();
        }
        long bytes = PUSH_OVERHEAD_BYTES;
        for (int i = 0; i < part.size(); i++) {
            bytes += utf8Length(encoded[i]) + (i == 0 ? 0 : 1); // a comma between changes
            if (bytes > s.frameBudget) {
                if (i > 0) {
                    return i;
                }
                return bytes <= s.maxFrameBytes ? 1 : 0; // alone, with less headroom: still acceptable
            }
        }
        return part.size();
    }


    static long utf8Length(String text) {
        long bytes = 0;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c < 0x80) {
                bytes += 1;
            } else if (c < 0x800) {
                bytes += 2;
            } else if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                bytes += 4;
                i++;
            } else {
                bytes += 3;
            }
        }
        return bytes;
    }

    /** Up to {@code n} committed outbox entries not owned by this session and not being acknowledged. */
    private Part readOutbox(Session s, int n) {
        long limit = (long) s.owned.size() + s.held.size() + acking.size() + n;
        while (true) {
            int asked = (int) Math.min(Integer.MAX_VALUE, limit);
            NavigableMap<Long, Change> outbox = cairn.outbox(asked);
            List<Long> seqs = new ArrayList<>(n);
            List<Change> changes = new ArrayList<>(n);
            for (Map.Entry<Long, Change> e : outbox.entrySet()) {
                if (!s.owned.contains(e.getKey()) && !acking.contains(e.getKey()) && !s.held.contains(e.getKey())) {
                    if (s.serverSections != null && !s.serverSections.contains(e.getValue().section())) {
                        unknownSection(s, e.getKey(), e.getValue());
                        continue;
                    }
                    seqs.add(e.getKey());
                    changes.add(cipher == null ? e.getValue() : cipher.seal(e.getValue()));
                    if (seqs.size() == n) {
                        break;
                    }
                }
            }
            // Entries are only ever skipped for being owned or acking, so one read is normally
            // enough; read more if the outbox holds more than expected (e.g. a failed removal).
            if (seqs.size() == n || outbox.size() < asked || asked == Integer.MAX_VALUE) {
                return seqs.isEmpty() ? null : new Part(List.copyOf(seqs), List.copyOf(changes));
            }
            limit *= 2;
        }
    }

    /**
     * welcome did not list the change's section: pushing it could only get it dropped for good
     * (invalid-change). It stays queued (a later welcome may list the section) and is reported.
     */
    private void unknownSection(Session s, long seq, Change change) {
        s.held.add(seq);
        report("unknown-section", "the server does not know section '" + change.section() + "': its changes stay queued on this device"
                + " (update the server, or check the app's sections)");
        LOG.log(System.Logger.Level.WARNING, "cairn sync: " + lastError);
        failHeldWaiters(s);
        requestPublish();
    }

    private void failHeldWaiters(Session s) {
        if (s.held.isEmpty()) {
            return;
        }
        long first = s.held.first();
        for (Iterator<Waiter> it = waiters.iterator(); it.hasNext(); ) {
            Waiter w = it.next();
            if (first <= w.target) {
                it.remove();
                w.future.completeExceptionally(new SyncException("unknown-section", lastError, null));
            }
        }
    }

    /** The server refused a batch for good: split it to find the change(s) it refuses, drop only those. */
    private void refused(Session s, Batch batch, ErrorCode code, String message) {
        s.inFlight.remove(batch.id());
        Part part = batch.part();
        if (part.size() > 1) {
            if (code == ErrorCode.BATCH_TOO_LARGE) {
                s.maxBatch = Math.max(1, Math.min(s.maxBatch, part.size() / 2));
            }
            int half = part.size() / 2;
            s.resend.addFirst(part.slice(half, part.size()));
            s.resend.addFirst(part.slice(0, half));
        } else {
            dropForGood(s, part.seqs().get(0), part.changes().get(0), code.wire(), code.wire() + ": " + message);
        }
        pump();
        publish();
    }

    /**
     * A change the server can never accept: removes it from the outbox (as if acknowledged),
     * reports it in lastError and to the pending syncNow calls that cover it.
     */
    private void dropForGood(Session s, long seq, Change change, String code, String why) {
        report(code, "the server refused a change, which was dropped: " + describe(change) + ": " + why);
        LOG.log(System.Logger.Level.WARNING, "cairn sync: " + lastError);
        for (Waiter w : waiters) {
            if (seq <= w.target) {
                w.rejected.add(describe(change) + ": " + why);
                w.rejectedCode = code;
            }
        }
        drops.add(new String[] {code, describe(change) + ": " + why});
        if (drops.size() > 100) {
            drops.remove(0);
            droppedBefore++;
        }
        s.owned.remove(seq);
        acknowledgeLocally(List.of(seq), 0);
    }

    /**
     * The server refused a batch because a stamp is too far ahead of its clock. The changes are
     * fine, only early: keep them (still owned by this session, so not read from the outbox again)
     * and send them again after a delay of at least {@code skewRetryMin}; other batches go on.
     */
    private void skewed(Session s, Batch batch, String message) {
        s.inFlight.remove(batch.id());
        s.skewParked.add(batch.part());
        if (s.skewTimer == null) {
            Duration delay = s.skewBackoff.next();
            if (delay.compareTo(skewRetryMin) < 0) {
                delay = skewRetryMin;
            }
            s.skewTimer = schedule(() -> {
                s.skewTimer = null;
                if (!s.current()) {
                    return;
                }
                s.resend.addAll(s.skewParked);
                s.skewParked.clear();
                pump();
            }, delay.toNanos());
            report("clock-skew", "this device's clock is ahead of the server's: the server refused " + batch.part().size()
                    + " change(s) for now (they stay queued; sending again in " + delay.toMillis() + " ms): " + message);
        } else {
            report("clock-skew", "this device's clock is ahead of the server's: the server refused " + batch.part().size()
                    + " change(s) for now (they stay queued and are sent again later): " + message);
        }
        LOG.log(System.Logger.Level.WARNING, "cairn sync: " + lastError);
        pump();
        publish();
    }

    /**
     * The server refused a batch because it would take the user over their storage quota. The
     * changes stay pending (owned by this session, so not read from the outbox again) and are sent
     * again after a growing delay ({@code quotaRetry}), or at once by {@link #syncNow()}; other
     * batches go on (deletes get through and free space). Pending syncNow calls that cover them
     * fail with the reason, rather than wait for space that may never come.
     */
    private void overQuota(Session s, Batch batch, String message) {
        s.inFlight.remove(batch.id());
        s.quotaParked.add(batch.part());
        String when;
        if (s.quotaTimer == null) {
            Duration delay = s.quotaBackoff.next();
            if (delay.compareTo(quotaRetryMin) < 0) {
                delay = quotaRetryMin;
            }
            s.quotaTimer = schedule(() -> {
                s.quotaTimer = null;
                retryOverQuota(s);
            }, delay.toNanos());
            when = "sending again in " + (delay.toMillis() < 1000 ? delay.toMillis() + " ms" : delay.toSeconds() + " s");
        } else {
            when = "sent again later";
        }
        int parked = s.quotaParked.stream().mapToInt(Part::size).sum();
        report("quota-exceeded", "storage quota exceeded: the server refused " + parked + " change(s), which stay pending (" + when
                + "; delete data to free space): " + message);
        LOG.log(System.Logger.Level.WARNING, "cairn sync: " + lastError);
        pump();
        publish(); // before failing the waiters: a caller whose syncNow failed sees the reason in status()
        long firstRefused = batch.part().seqs().stream().mapToLong(Long::longValue).min().orElse(Long.MAX_VALUE);
        for (Iterator<Waiter> it = waiters.iterator(); it.hasNext(); ) {
            Waiter w = it.next();
            if (firstRefused <= w.target) {
                it.remove();
                w.future.completeExceptionally(new SyncException(lastErrorCode, lastError, null));
            }
        }
    }

    /** Sends the parts refused for the quota again (timer, or syncNow after space was freed). */
    private void retryOverQuota(Session s) {
        if (!s.current() || s.quotaParked.isEmpty()) {
            return;
        }
        cancel(s.quotaTimer);
        s.quotaTimer = null;
        s.resend.addAll(s.quotaParked);
        s.quotaParked.clear();
        pump();
    }

    /** Takes batches out of flight and sends them again after a short, growing delay; no other push meanwhile. */
    private void park(Session s, List<Batch> batches) {
        for (Batch b : batches) {
            if (s.inFlight.remove(b.id()) != null) {
                s.parked.add(b.part());
            }
        }
        if (s.retryTimer != null || s.parked.isEmpty()) {
            return;
        }
        Duration delay = s.retryBackoff.next();
        if (delay.isZero()) {
            delay = Duration.ofMillis(1);
        }
        s.retryTimer = schedule(() -> {
            s.retryTimer = null;
            if (!s.current()) {
                return;
            }
            for (int i = s.parked.size() - 1; i >= 0; i--) {
                s.resend.addFirst(s.parked.get(i));
            }
            s.parked.clear();
            pump();
        }, delay.toNanos());
    }

    /** Removes acknowledged (or dropped) entries from the outbox; retried if the store fails. */
    private void acknowledgeLocally(List<Long> seqs, int failures) {
        acking.addAll(seqs);
        CompletableFuture<Void> removal;
        try {
            removal = cairn.acknowledge(seqs);
        } catch (RuntimeException e) {
            removal = CompletableFuture.failedFuture(e);
        }
        removal.whenComplete((ignored, error) -> post(() -> {
            if (error == null) {
                acking.removeAll(seqs);
                publish();
                checkWaiters();
                return;
            }
            report("local-store", "could not remove acknowledged changes from the outbox: " + messageOf(error));
            publish();
            if (!closed) {
                long delay = backoff.ceilingMillis(failures + 3); // from 1.6 s with the default minimum
                schedule(() -> acknowledgeLocally(seqs, failures + 1), TimeUnit.MILLISECONDS.toNanos(delay));
            }
        }));
    }

    // ------------------------------------------------------------------ keepalive, waiters, status

    private void keepAlive(Session s) {
        if (!s.current() || s.connection == null) {
            return;
        }
        long now = System.nanoTime();
        long progress = s.progressNanos;
        if (progress != 0 && progress - s.lastReceivedNanos > 0) {
            // Part of a large frame arrived (a slow link): the connection is alive, and the answer
            // to a ping may be queued behind that frame.
            s.lastReceivedNanos = progress;
            s.pingSentNanos = 0;
        }
        if (s.pingSentNanos != 0) {
            if (now - s.pingSentNanos >= keepAlive.toNanos()) {
                endSession(s, "silent-socket", "the server did not answer a ping within " + keepAlive.toMillis() + " ms", Reconnect.BACKOFF);
            }
        } else if (now - s.lastReceivedNanos >= keepAlive.toNanos()) {
            s.pingSentNanos = now;
            send(s, new Frame.Ping());
        }
    }

    private void checkWaiters() {
        if (waiters.isEmpty()) {
            return;
        }
        Session s = session;
        if (s != null && s.current()) {
            failHeldWaiters(s);
        }
        boolean live = s != null && s.current() && s.caughtUp && cairn.cursor() >= s.knownHead;
        if (!live) {
            return;
        }
        NavigableMap<Long, Change> first = cairn.outbox(1);
        long firstPending = first.isEmpty() ? Long.MAX_VALUE : first.firstKey();
        boolean published = false;
        for (Iterator<Waiter> it = waiters.iterator(); it.hasNext(); ) {
            Waiter w = it.next();
            if (firstPending > w.target) {
                if (!published) {
                    publish(); // a caller whose syncNow completed sees a fresh status
                    published = true;
                }
                it.remove();
                if (w.rejected.isEmpty()) {
                    w.future.complete(null);
                } else {
                    w.future.completeExceptionally(new SyncException(w.rejectedCode, "the server refused " + w.rejected.size()
                            + " change(s), which were dropped: " + String.join("; ", w.rejected), null));
                }
            }
        }
    }

    private void failWaiters(String code, String why) {
        List<Waiter> failing = new ArrayList<>(waiters);
        waiters.clear();
        for (Waiter w : failing) {
            w.future.completeExceptionally(new SyncException(code, why, null));
        }
    }

    private void report(String code, String message) {
        lastErrorCode = message == null ? null : code;
        lastError = message;
    }

    /**
     * Retrying cannot help (a second 401, not a sync endpoint, protocol-version): offline, the
     * reason in the status, every waiting syncNow() fails, no reconnect until syncNow() or
     * goOnline() tries once more.
     */
    private void failPermanently(Session s, String code, String why) {
        permanent = code;
        LOG.log(System.Logger.Level.WARNING, "cairn sync: " + why + "; not retrying until syncNow() or goOnline()");
        endSession(s, code, why, Reconnect.NO);
        failWaiters(code, why);
        publish();
    }

    /** The connection could not be opened: tells a passing failure from a permanent one. */
    private void connectFailed(Session s, Throwable error) {
        Throwable cause = error;
        while ((cause instanceof CompletionException || cause instanceof ExecutionException) && cause.getCause() != null) {
            cause = cause.getCause();
        }
        int status = cause instanceof SyncConnectException c ? c.httpStatus() : 0;
        if (status == 0) {
            endSession(s, "connection-lost", messageOf(error), Reconnect.BACKOFF);
            return;
        }
        String body = ((SyncConnectException) cause).body();
        String code = errorShapeCode(body);
        if (status == 401) {
            if (++unauthorizedInARow >= 2) {
                failPermanently(s, "unauthorized", messageOf(error) + " (twice in a row, with a fresh token)");
            } else {
                endSession(s, "unauthorized", messageOf(error) + "; trying once more with a fresh token", Reconnect.NOW);
            }
            return;
        }
        unauthorizedInARow = 0;
        boolean noBody = body == null || body.isBlank();
        if (status == 404 || (!noBody && code == null) || (noBody && status < 500 && status != 403 && status != 429)) {
            failPermanently(s, "not-a-sync-endpoint", "the server at " + uri + " answered HTTP " + status
                    + " and is not a Cairn sync endpoint (check the URL)");
            return;
        }
        endSession(s, code != null ? code : "connection-lost", messageOf(error), Reconnect.BACKOFF);
    }

    /** The {@code error} of PROTOCOL.md's {@code {"error":"...","message":"..."}}, or null if the body is not that. */
    private static String errorShapeCode(String body) {
        if (body == null || !body.strip().startsWith("{")) {
            return null;
        }
        try {
            com.fasterxml.jackson.databind.JsonNode node = dev.cairn.engine.codec.Json.MAPPER.readTree(body);
            com.fasterxml.jackson.databind.JsonNode error = node == null ? null : node.get("error");
            return error != null && error.isTextual() && !error.asText().isEmpty() ? error.asText() : null;
        } catch (java.io.IOException | RuntimeException e) {
            return null;
        }
    }

    /** Recomputes the status; tells the listeners if it changed. Sync thread only. */
    private void publish() {
        int pending;
        long cursor;
        try {
            pending = cairn.pendingChanges();
            cursor = cairn.cursor();
        } catch (RuntimeException e) {
            pending = status.pendingChanges();
            cursor = status.cursor();
        }
        SyncStatus next = new SyncStatus(state, lastSyncedAt, pending, lastError, cursor, lastErrorCode);
        if (next.equals(status)) {
            return;
        }
        status = next;
        for (Consumer<SyncStatus> listener : statusListeners) {
            notify(listener, next);
        }
    }

    private static void notify(Consumer<SyncStatus> listener, SyncStatus status) {
        try {
            listener.accept(status);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "cairn sync: a status listener failed: " + e);
        }
    }

    /** Called on the persistence thread when outbox entries were committed: push them (coalesced). */
    private void requestPump() {
        if (pumpRequested.compareAndSet(false, true)) {
            post(() -> {
                pumpRequested.set(false);
                pump();
                publish();
                // The engine tells us while its commit is still finishing, when pendingChanges()
                // counts the new entries twice (outbox and in flight): look again shortly.
                if (settleRequested.compareAndSet(false, true)) {
                    schedule(() -> {
                        settleRequested.set(false);
                        publish();
                    }, SETTLE_NANOS);
                }
            });
        }
    }

    private void requestPublish() {
        if (publishRequested.compareAndSet(false, true)) {
            post(() -> {
                publishRequested.set(false);
                publish();
            });
        }
    }

    // ------------------------------------------------------------------ plumbing

    private void send(Session s, Frame frame) {
        sendText(s, FrameCodec.encode(frame));
    }

    private void sendText(Session s, String text) {
        CompletableFuture<Void> sent;
        try {
            sent = s.connection.send(text);
        } catch (RuntimeException e) {
            sent = CompletableFuture.failedFuture(e);
        }
        sent.whenComplete((ignored, error) -> {
            if (error != null) {
                post(() -> {
                    if (s.current()) {
                        endSession(s, "connection-lost", "could not send to the server: " + messageOf(error), Reconnect.BACKOFF);
                    }
                });
            }
        });
    }

    /** Runs {@code task} on the sync thread; false if the client is shut down. */
    private boolean post(Runnable task) {
        try {
            executor.execute(guarded(task));
            return true;
        } catch (RejectedExecutionException e) {
            return false;
        }
    }

    private ScheduledFuture<?> schedule(Runnable task, long delayNanos) {
        try {
            return executor.schedule(guarded(task), delayNanos, TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException e) {
            return null;
        }
    }

    /** A task that reports instead of dying silently in the executor. */
    private Runnable guarded(Runnable task) {
        return () -> {
            try {
                task.run();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.ERROR, "cairn sync: internal error", e);
                report("internal", "internal error: " + messageOf(e));
                try {
                    publish();
                } catch (RuntimeException ignored) {
                    // nothing more to do
                }
            }
        };
    }

    private void runOnSyncThread(Runnable task) {
        checkOpen();
        if (Thread.currentThread() == syncThread) {
            task.run();
            return;
        }
        Future<?> done;
        try {
            done = executor.submit(guarded(task));
        } catch (RejectedExecutionException e) {
            throw new IllegalStateException("the sync client is closed", e);
        }
        try {
            done.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
    }

    private static void cancel(Future<?> f) {
        if (f != null) {
            f.cancel(false);
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the sync client is closed");
        }
    }

    private static String messageOf(Throwable error) {
        Throwable e = error;
        while ((e instanceof CompletionException || e instanceof ExecutionException) && e.getCause() != null) {
            e = e.getCause();
        }
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }

    private static String describe(Change change) {
        String op;
        if (change instanceof Change.Put put) {
            op = put.isDelete() ? "delete" : "set";
        } else if (change instanceof Change.Append) {
            op = "append";
        } else {
            op = "clear";
        }
        return op + " " + change.section() + "/" + change.target() + " @" + change.stamp();
    }

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
        private SSLContext sslContext;
        private ChangeCipher cipher;

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
            this.sslContext = Objects.requireNonNull(sslContext, "sslContext");
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

        /** Most changes per push batch (also capped by the server's maxBatch); default 500. */
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
         * Reconnect delays: attempt n waits a random time in {@code [0, min(max, min * 2^n)]};
         * default 200 ms .. 30 s.
         */
        public Builder backoff(Duration min, Duration max) {
            requireState(this.backoffMin == null, "backoff was already set to %s .. %s", this.backoffMin, this.backoffMax);
            Objects.requireNonNull(min, "backoff min");
            Objects.requireNonNull(max, "backoff max");
            requireArgument(min.toMillis() >= 1, "backoff min must be at least 1 ms, was %s", min);
            requireArgument(max.compareTo(min) >= 0, "backoff max (%s) must not be less than backoff min (%s)", max, min);
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
            requireState(this.skewRetryMin == null, "clockSkewRetry was already set to %s .. %s", this.skewRetryMin, this.skewRetryMax);
            Objects.requireNonNull(min, "clockSkewRetry min");
            Objects.requireNonNull(max, "clockSkewRetry max");
            requireArgument(min.toMillis() >= 1, "clockSkewRetry min must be at least 1 ms, was %s", min);
            requireArgument(max.compareTo(min) >= 0, "clockSkewRetry max (%s) must not be less than clockSkewRetry min (%s)", max, min);
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
            requireState(this.quotaRetryMin == null, "quotaRetry was already set to %s .. %s", this.quotaRetryMin, this.quotaRetryMax);
            Objects.requireNonNull(min, "quotaRetry min");
            Objects.requireNonNull(max, "quotaRetry max");
            requireArgument(min.toMillis() >= 1, "quotaRetry min must be at least 1 ms, was %s", min);
            requireArgument(max.compareTo(min) >= 0, "quotaRetry max (%s) must not be less than quotaRetry min (%s)", max, min);
            this.quotaRetryMin = min;
            this.quotaRetryMax = max;
            return this;
        }

        /**
         * Delays before a batch the server answered with {@code rate-limited} or {@code unavailable}
         * is sent again (no other push meanwhile); default the reconnect backoff's.
         */
        public Builder retry(Duration min, Duration max) {
            requireState(this.retryMin == null, "retry was already set to %s .. %s", this.retryMin, this.retryMax);
            Objects.requireNonNull(min, "retry min");
            Objects.requireNonNull(max, "retry max");
            requireArgument(min.toMillis() >= 1, "retry min must be at least 1 ms, was %s", min);
            requireArgument(max.compareTo(min) >= 0, "retry max (%s) must not be less than retry min (%s)", max, min);
            this.retryMin = min;
            this.retryMax = max;
            return this;
        }

        /** Test seam: how a page of server changes is applied; default {@link Cairn#applyRemote(List, long)}. */
        Builder applyWith(BiFunction<List<Change>, Long, Integer> applier) {
            this.applier = Objects.requireNonNull(applier, "applier");
            return this;
        }

        /** A client, not yet connected: call {@link SyncClient#start()}. */
        public SyncClient build() {
            return new SyncClient(this);
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
