package dev.cairn.engine.sync;

import dev.cairn.engine.protocol.Frame;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ScheduledFuture;

/**
 * One connection attempt and, once welcomed, its session: what every part keeps per socket.
 * Sync thread only (except {@link #progressNanos}).
 */
final class Session {

    final long id;
    private final Connection owner;
    Transport.Connection connection;
    boolean ended;
    boolean welcomed;
    boolean caughtUp;
    ScheduledFuture<?> handshakeTimer;
    ScheduledFuture<?> keepAliveTask;
    /** Sends the set presences again every 2 s (PROTOCOL.md 8.6); null without spaces. */
    ScheduledFuture<?> presenceTask;
    long lastReceivedNanos = System.nanoTime();
    long pingSentNanos;
    /** When part of a frame last arrived (transport thread; 0 = never): also a sign of life. */
    volatile long progressNanos;

    // ---- welcome's limits
    /** The version welcome named (PROTOCOL.md 7.1): 2 carries changes, push and ack as binary pages. */
    int protocol = Frame.PROTOCOL_VERSION;
    /** The versions hello offered. */
    java.util.List<Integer> offered = java.util.List.of(Frame.PROTOCOL_VERSION);
    int maxBatch;
    /** The server's hard limit on a frame, in UTF-8 bytes. */
    long maxFrameBytes = Frame.Welcome.DEFAULT_MAX_FRAME_BYTES;
    /** What a push frame is kept under (headroom below maxFrameBytes). */
    long frameBudget = Frame.Welcome.DEFAULT_MAX_FRAME_BYTES;
    /** The sections welcome listed, or null if it did not say (then every section is pushed). */
    Set<String> serverSections;

    // ---- pull
    long knownHead;
    /** A page could not be applied: pages are ignored (the cursor stays) until {@link #pullRetryTimer} reconnects. */
    boolean pullStalled;
    ScheduledFuture<?> pullRetryTimer;

    // ---- push, one lane per outbox: the user's own (space null) and each space's
    /** The user's own lane. */
    final Lane user;
    /** The spaces' lanes, by space id (created on first use). */
    final java.util.Map<String, Lane> spaceLanes = new java.util.TreeMap<>();
    private final java.util.function.Supplier<RetryQueue> retries;

    /** Space sync on this session (PROTOCOL.md 8), null when hello did not say spaces. */
    SpaceSession spaces;

    Session(long id, Connection owner, java.util.function.Supplier<RetryQueue> retries) {
        this.id = id;
        this.owner = owner;
        this.retries = retries;
        this.user = new Lane(null, retries.get());
    }

    /** The lane of {@code space} (null: the user's own), created on first use. */
    Lane lane(String space) {
        return space == null ? user : spaceLanes.computeIfAbsent(space, k -> new Lane(k, retries.get()));
    }

    /** Stops every lane's retry timers (the session ends). */
    void cancelRetries() {
        user.retry.cancelAll();
        spaceLanes.values().forEach(l -> l.retry.cancelAll());
    }

    /** What one outbox has on this session: its batches in flight, parts to send again, retries. */
    static final class Lane {
        /** The space, or null for the user's own outbox. */
        final String space;
        /** Sent, unanswered batches in send order (batch ids increase). */
        final LinkedHashMap<Long, PushPipeline.Batch> inFlight = new LinkedHashMap<>();
        /** Parts to send again before reading new outbox entries. */
        final ArrayDeque<PushPipeline.Part> resend = new ArrayDeque<>();
        /** Outbox seqs in flight, to resend or waiting for a retry: never read from the outbox again on this session. */
        final Set<Long> owned = new HashSet<>();
        /** Outbox seqs of sections the server does not know: queued, not pushed on this session. */
        final TreeSet<Long> held = new TreeSet<>();
        /** The retry queue, keyed by reason: parts waiting for their reason's timer. */
        final RetryQueue retry;

        Lane(String space, RetryQueue retry) {
            this.space = space;
            this.retry = retry;
        }
    }

    /** Not ended, and still the connection's session. */
    boolean current() {
        return !ended && owner.session() == this;
    }

    /** Parts that wait for a timer before they are sent again; one timer per reason. */
    static final class RetryQueue {
        final List<List<PushPipeline.Part>> parked = new ArrayList<>();
        final Backoff[] backoffs;
        final ScheduledFuture<?>[] timers;

        RetryQueue(Backoff... backoffs) {
            this.backoffs = backoffs;
            this.timers = new ScheduledFuture<?>[backoffs.length];
            for (int i = 0; i < backoffs.length; i++) {
                parked.add(new ArrayList<>());
            }
        }

        List<PushPipeline.Part> parked(PushPipeline.Reason r) {
            return parked.get(r.ordinal());
        }

        void cancelAll() {
            for (ScheduledFuture<?> t : timers) {
                SyncLoop.cancel(t);
            }
        }
    }
}
