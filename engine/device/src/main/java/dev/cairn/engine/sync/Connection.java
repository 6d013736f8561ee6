package dev.cairn.engine.sync;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.protocol.CloseCodes;
import dev.cairn.engine.protocol.ErrorCode;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.FrameCodec;
import dev.cairn.engine.protocol.PageCodec;
import dev.cairn.engine.protocol.PageTooLargeException;
import dev.cairn.engine.protocol.ProtocolException;
import java.io.IOException;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledFuture;

/**
 * The socket (PROTOCOL.md 2, 3.1, 3.4): connect, hello, welcome, keepalive and the dead-socket
 * timeout, reconnect backoff, and what each close code or refused upgrade means, passing or
 * permanent (spec/vectors/sync/README.md "Connection"). Sync thread only.
 */
final class Connection {

    /** After 1009 closes the budget is halved, at most this many times. */
    private static final int MAX_FRAME_BUDGET_HALVINGS = 6;

    private static final System.Logger LOG = SyncLoop.LOG;

    private final SyncClient c;
    private final SyncLoop loop;
    private final Backoff backoff;
    private Session session;
    private long sessionCount;
    private ScheduledFuture<?> reconnectTimer;
    boolean started;
    boolean switchedOff;
    /**
     * A failure retrying cannot fix (a second 401, not a sync endpoint, protocol-version): no
     * reconnect until syncNow() or goOnline() tries once more. Holds the code.
     */
    String permanent;
    /** Upgrades refused with 401 in a row; the second is permanent. */
    private int unauthorizedInARow;
    /** The current outage was logged: one line per outage, not per retry. */
    private boolean outageLogged;
    /** Outages logged so far (a test holds it to one per outage). */
    int outagesLogged;
    /** A page could not be applied or decoded: the backoff is reset only by a clean catch-up. */
    private boolean pullFailed;
    /** The last session ended with 1009: the backoff is reset only by an ack, so a bug cannot loop tightly. */
    private boolean frameTooBig;
    /** How many times a 1009 close halved the push frame budget (kept for the client's lifetime). */
    private int frameBudgetHalvings;

    Connection(SyncClient client, SyncLoop loop) {
        this.c = client;
        this.loop = loop;
        this.backoff = new Backoff(client.backoffMin, client.backoffMax, client.random);
    }

    Session session() {
        return session;
    }

    /** Opens a socket unless one is open or sync is stopped. */
    void connect() {
        if (c.isClosed() || switchedOff || c.pull.locked() || permanent != null || session != null) {
            return;
        }
        cancelReconnect();
        Session s = new Session(++sessionCount, this, c.push::newRetryQueue);
        session = s;
        loop.state = SyncState.CONNECTING;
        loop.publish();
        s.handshakeTimer = loop.schedule(() -> {
            if (s.current() && !s.welcomed) {
                endSession(s, "connection-lost", "no welcome from " + c.uri + " within " + c.connectTimeout.toMillis() + " ms", Reconnect.BACKOFF);
            }
        }, c.connectTimeout.toNanos());
        CompletableFuture<Transport.Connection> opening;
        try {
            opening = c.transport.connect(c.uri, c.token.get(), new SessionListener(s));
        } catch (RuntimeException e) {
            endSession(s, "connection-lost", "could not connect to " + c.uri + ": " + SyncLoop.messageOf(e), Reconnect.BACKOFF);
            return;
        }
        opening.whenComplete((connection, error) -> {
            if (!loop.post(() -> onConnected(s, connection, error)) && connection != null) {
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
        if (c.maxProtocol >= Frame.PROTOCOL_V2 && connection.binary()) {
            s.offered = Frame.SUPPORTED_VERSIONS;
            // Spaces need version 2 (PROTOCOL.md 8.1): only a client that syncs them names them, {} for none.
            java.util.Map<String, Long> spaces = c.spaces == null ? null : c.spaces.hello(s);
            send(s, new Frame.Hello(Frame.PROTOCOL_VERSION, c.port.replicaId(), c.port.cursorForHello(), s.offered, spaces));
        } else {
            send(s, new Frame.Hello(Frame.PROTOCOL_VERSION, c.port.replicaId(), c.port.cursorForHello()));
        }
    }

    /** The socket could not be opened: tells a passing failure from a permanent one. */
    private void connectFailed(Session s, Throwable error) {
        Throwable cause = error;
        while ((cause instanceof CompletionException || cause instanceof ExecutionException) && cause.getCause() != null) {
            cause = cause.getCause();
        }
        int status = cause instanceof SyncConnectException sce ? sce.httpStatus() : 0;
        String message = SyncLoop.messageOf(error);
        if (status == 0) {
            endSession(s, "connection-lost", message, Reconnect.BACKOFF);
            return;
        }
        String body = ((SyncConnectException) cause).body();
        String code = errorShapeCode(body);
        if (status == 401) {
            if (++unauthorizedInARow >= 2) {
                failPermanently(s, "unauthorized", message + " (twice in a row, with a fresh token)");
            } else {
                endSession(s, "unauthorized", message + "; trying once more with a fresh token", Reconnect.NOW);
            }
            return;
        }
        unauthorizedInARow = 0;
        if (status == 403) { // forbidden-origin (PROTOCOL.md 2): the same origin is refused on every try
            failPermanently(s, code != null ? code : "forbidden-origin", message + "; the server refuses this client's origin"
                    + " (CAIRN_ALLOWED_ORIGINS)");
            return;
        }
        boolean noBody = body == null || body.isBlank();
        // 404, or a page that is not PROTOCOL.md's error shape: some other service lives at this URL
        if (status == 404 || (!noBody && code == null) || (noBody && status < 500 && status != 429)) {
            failPermanently(s, "not-a-sync-endpoint", "the server at " + c.uri + " answered HTTP " + status
                    + " and is not a Cairn sync endpoint (check the URL)");
            return;
        }
        endSession(s, code != null ? code : "connection-lost", message, Reconnect.BACKOFF);
    }

    /** The {@code error} of PROTOCOL.md's {@code {"error":"...","message":"..."}}, or null if the body is not that. */
    static String errorShapeCode(String body) {
        if (body == null || !body.strip().startsWith("{")) {
            return null;
        }
        try {
            JsonNode error = Json.MAPPER.readTree(body).get("error");
            return error != null && error.isTextual() && !error.asText().isEmpty() ? error.asText() : null;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /**
     * Retrying cannot help: offline, the reason in the status, every waiting syncNow() fails, no
     * reconnect until syncNow() or goOnline() tries once more.
     */
    private void failPermanently(Session s, String code, String why) {
        permanent = code;
        LOG.log(System.Logger.Level.WARNING, "cairn sync: " + why + "; not retrying until syncNow() or goOnline()");
        endSession(s, code, why, Reconnect.NO);
        c.waiters.failAll(code, why);
        loop.publish();
    }

    enum Reconnect { NO, NOW, BACKOFF }

    /** Ends a session: closes the socket; what was in flight stays in the outbox for the next one. */
    void end(Session s, String code, String why, boolean reconnect) {
        endSession(s, code, why, reconnect ? Reconnect.BACKOFF : Reconnect.NO);
    }

    /** Reconnects at once (a resync, or a pull retry whose delay was waited already). */
    void reconnectNow(Session s) {
        endSession(s, null, null, Reconnect.NOW);
    }

    private void endSession(Session s, String code, String error, Reconnect reconnect) {
        if (s.ended) {
            return;
        }
        s.ended = true;
        c.push.sessionEnded(s);
        if (c.spaces != null) {
            c.spaces.pipelines.values().forEach(p -> p.sessionEnded(s));
        }
        SyncLoop.cancel(s.handshakeTimer);
        SyncLoop.cancel(s.keepAliveTask);
        SyncLoop.cancel(s.pullRetryTimer);
        SyncLoop.cancel(s.presenceTask);
        s.cancelRetries();
        if (s.connection != null) {
            s.connection.close();
        }
        if (session == s) {
            session = null;
        }
        if (s.spaces != null && c.spaces != null) {
            c.spaces.sessionEnded();
        }
        if (s.welcomed) {
            try {
                c.port.setSyncConnected(false);
            } catch (RuntimeException e) {
                // a closed engine: nothing to relax
            }
        }
        if (error != null) {
            loop.report(code, error);
            if (!outageLogged) { // once per outage, not once per retry
                outageLogged = true;
                outagesLogged++;
                LOG.log(System.Logger.Level.INFO, "cairn sync: connection ended: " + error + " (retrying quietly until connected again)");
            }
        }
        loop.state = SyncState.OFFLINE;
        if (reconnect != Reconnect.NO && started && !switchedOff && !c.isClosed() && permanent == null) {
            Duration delay = reconnect == Reconnect.NOW ? Duration.ZERO : backoff.next();
            reconnectTimer = loop.schedule(() -> {
                reconnectTimer = null;
                connect();
            }, delay.toNanos());
        }
        loop.publish();
    }

    void cancelReconnect() {
        SyncLoop.cancel(reconnectTimer);
        reconnectTimer = null;
    }

    /** Stops: no socket and no reconnect (goOffline, close). */
    void stop() {
        cancelReconnect();
        if (session != null) {
            endSession(session, null, null, Reconnect.NO);
        }
    }

    /** syncNow() or goOnline(): a permanent failure gets one more try, without waiting for a backoff. */
    void tryAgain(boolean resetBackoff) {
        permanent = null;
        if (resetBackoff) {
            backoff.reset();
        }
        if (session == null) {
            connect();
        }
    }

    // ---- what the other parts tell the connection

    void pushesGetThrough() {
        frameTooBig = false;
    }

    void pullFailed() {
        pullFailed = true;
    }

    void caughtUpCleanly() {
        pullFailed = false;
        if (!frameTooBig) {
            backoff.reset();
        }
    }

    Duration nextBackoff() {
        return backoff.next();
    }

    long backoffCeilingMillis(int attempt) {
        return backoff.ceilingMillis(attempt);
    }

    /** Posts every transport event of one session to the sync thread. */
    private final class SessionListener implements Transport.Listener {
        private final Session s;

        SessionListener(Session s) {
            this.s = s;
        }

        @Override
        public void onText(String frame) {
            loop.post(() -> onFrame(s, frame));
        }

        @Override
        public void onBinary(byte[] page) {
            loop.post(() -> onPage(s, page));
        }

        @Override
        public void onClosed(int code, String reason) {
            loop.post(() -> {
                if (s.current()) {
                    closed(s, code, reason == null || reason.isEmpty() ? "" : ": " + reason);
                }
            });
        }

        @Override
        public void onError(Throwable error) {
            loop.post(() -> {
                if (s.current()) {
                    endSession(s, "connection-lost", "connection failed: " + SyncLoop.messageOf(error), Reconnect.BACKOFF);
                }
            });
        }

        @Override
        public void onProgress() {
            s.progressNanos = System.nanoTime(); // read by keepAlive; no task per fragment
        }
    }

    /** The close-code policy. */
    private void closed(Session s, int code, String reason) {
        if (code == CloseCodes.TOKEN_EXPIRED) {
            // Not a failure: the token ran out. The next connect asks the supplier for a fresh one.
            endSession(s, "unauthorized", "the server closed the connection because the token expired (code " + code
                    + "); connecting again with a fresh token", Reconnect.NOW);
            return;
        }
        if (code == 1009) {
            // A frame was too big for the server. Batches are sized to fit, so this is a bug
            // somewhere: keep later batches smaller and do not let the next welcome reset the
            // backoff, so it cannot turn into a tight reconnect loop.
            frameTooBig = true;
            frameBudgetHalvings = Math.min(MAX_FRAME_BUDGET_HALVINGS, frameBudgetHalvings + 1);
            String why = "the server closed the connection because a frame was larger than its limit (code 1009" + reason + ")";
            LOG.log(System.Logger.Level.WARNING, "cairn sync: " + why + "; push frames halved " + frameBudgetHalvings + " time(s)");
            endSession(s, "frame-too-large", why, Reconnect.BACKOFF);
            return;
        }
        endSession(s, "connection-lost", "connection closed by the server (code " + code + reason + ")", Reconnect.BACKOFF);
    }

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
            undecodable(s, e.getMessage());
            return;
        }
        dispatch(s, frame);
    }

    /** A binary message: a v2 page (PROTOCOL.md 7), only in a session whose welcome named version 2. */
    private void onPage(Session s, byte[] page) {
        if (!s.current()) {
            return;
        }
        s.lastReceivedNanos = System.nanoTime();
        s.pingSentNanos = 0;
        if (s.protocol < Frame.PROTOCOL_V2) {
            undecodable(s, "a binary message in a protocol " + s.protocol + " session");
            return;
        }
        Frame frame;
        try {
            frame = PageCodec.decode(page, JdkWebSocketTransport.MAX_MESSAGE_CHARS);
        } catch (ProtocolException | PageTooLargeException e) {
            undecodable(s, e.getMessage());
            return;
        }
        dispatch(s, frame);
    }

    /**
     * It may have been a page of changes: going on would move the cursor past it. Resume from the
     * cursor on a new connection instead.
     */
    void undecodable(Session s, String why) {
        pullFailed = true;
        endSession(s, "malformed-frame", "the server sent a frame this client does not understand: " + why, Reconnect.BACKOFF);
    }

    private void dispatch(Session s, Frame frame) {
        if (frame instanceof Frame.Welcome welcome) {
            onWelcome(s, welcome);
        } else if (frame instanceof Frame.Changes changes && changes.space() != null) {
            spaceFrame(s, frame, () -> c.spaces.onChanges(s, changes));
        } else if (frame instanceof Frame.Changes changes) {
            c.pull.onChanges(s, changes);
        } else if (frame instanceof Frame.CaughtUp caughtUp && caughtUp.space() != null) {
            spaceFrame(s, frame, () -> c.spaces.onCaughtUp(s, caughtUp));
        } else if (frame instanceof Frame.CaughtUp caughtUp) {
            c.pull.onCaughtUp(s, caughtUp);
        } else if (frame instanceof Frame.SpaceLeft left) {
            spaceFrame(s, frame, () -> c.spaces.onSpaceLeft(s, left));
        } else if (frame instanceof Frame.Presence presence) {
            spaceFrame(s, frame, () -> c.spaces.onPresence(s, presence));
        } else if (frame instanceof Frame.Ack ack) {
            c.pushFor(s, ack.batch()).onAck(s, ack);
        } else if (frame instanceof Frame.Error error) {
            onErrorFrame(s, error);
        } else if (frame instanceof Frame.Ping) {
            send(s, new Frame.Pong());
        } else if (!(frame instanceof Frame.Pong)) {
            loop.report("malformed-frame", "the server sent a '" + frame.type().wire() + "' frame, which only clients send");
            loop.publish();
        }
    }

    /** A frame about a space: only in a welcomed session that syncs spaces (PROTOCOL.md 8); else malformed-frame. */
    private void spaceFrame(Session s, Frame frame, Runnable handle) {
        if (!s.welcomed || s.spaces == null || c.spaces == null) {
            undecodable(s, "a '" + frame.type().wire() + "' frame about a space in a session that does not sync spaces");
            return;
        }
        handle.run();
    }

    private void onWelcome(Session s, Frame.Welcome welcome) {
        if (s.welcomed) {
            loop.report("malformed-frame", "the server sent a second welcome");
            loop.publish();
            return;
        }
        if (!s.offered.contains(welcome.protocol())) {
            failPermanently(s, "protocol-version", "the server speaks protocol " + welcome.protocol() + ", this client " + s.offered);
            return;
        }
        if (c.user != null && !c.user.equals(welcome.user())) {
            // Another user's token: nothing of this device may be pushed to that account, nor its data applied here.
            failPermanently(s, "wrong-user", "the token is for user '" + welcome.user() + "', this device holds user '" + c.user + "'");
            return;
        }
        s.protocol = welcome.protocol();
        s.welcomed = true;
        SyncLoop.cancel(s.handshakeTimer);
        s.maxBatch = welcome.maxBatch() > 0 ? welcome.maxBatch() : c.batchSize;
        s.maxFrameBytes = welcome.maxFrameBytes() > 0 ? welcome.maxFrameBytes() : Frame.Welcome.DEFAULT_MAX_FRAME_BYTES;
        long headroomed = s.maxFrameBytes > Long.MAX_VALUE / 100
                ? s.maxFrameBytes / 100 * PushPipeline.FRAME_BUDGET_PERCENT : s.maxFrameBytes * PushPipeline.FRAME_BUDGET_PERCENT / 100;
        s.frameBudget = Math.max(1, headroomed >> frameBudgetHalvings);
        s.serverSections = welcome.sections() == null ? null : Set.copyOf(welcome.sections().keySet());
        s.knownHead = welcome.head();
        if (!pullFailed && !frameTooBig) {
            backoff.reset();
        }
        loop.report(null, null);
        unauthorizedInARow = 0;
        if (outageLogged) {
            outageLogged = false;
            LOG.log(System.Logger.Level.INFO, "cairn sync: connected again");
        }
        if (welcome.head() < c.port.cursor()) {
            // The server lost data or was restored from a backup: it sends everything from 0 (PROTOCOL.md 3.1).
            LOG.log(System.Logger.Level.WARNING, "cairn sync: server head " + welcome.head() + " is behind this replica's cursor "
                    + c.port.cursor() + "; resetting the cursor");
            c.port.resetCursor();
        }
        c.port.serverMaxFrameBytes(s.maxFrameBytes); // writes that could never fit are refused at once
        c.port.setSyncConnected(true);
        long period = Math.max(1, c.keepAlive.toNanos() / 4);
        s.keepAliveTask = loop.every(() -> keepAlive(s), period);
        loop.state = SyncState.CATCHING_UP;
        if (c.spaces != null) {
            c.spaces.onWelcome(s, welcome);
            if (s.spaces != null) {
                long refresh = SpaceSync.PRESENCE_TICK.toNanos();
                s.presenceTask = loop.every(() -> c.spaces.refreshPresence(s), refresh);
            }
        }
        loop.publish();
        c.pumpAll();
    }

    private void onErrorFrame(Session s, Frame.Error error) {
        ErrorCode code = error.code();
        if (code == ErrorCode.PROTOCOL_VERSION) {
            failPermanently(s, "protocol-version", "the server does not speak protocol " + s.offered + ": " + error.message());
        } else if (code == ErrorCode.SLOW_CONSUMER) {
            endSession(s, code.wire(), "server error " + code.wire() + ": " + error.message(), Reconnect.BACKOFF);
        } else if (error.batch() != null) {
            if (!c.pushFor(s, error.batch()).onError(s, error)) {
                loop.publish();
            }
        } else if (error.space() != null) {
            // about a space but no batch: a refused presence (PROTOCOL.md 8.6); nothing to retry
            loop.report(code.wire(), "server error " + code.wire() + " for space '" + error.space() + "': " + error.message());
            loop.publish();
        } else {
            if (code == ErrorCode.RATE_LIMITED && c.spaces != null) {
                c.spaces.pipelines.values().forEach(p -> p.parkAll(s));
            }
            if (!c.push.onError(s, error)) {
                loop.publish();
            }
        }
    }

    /** A ping after keepAlive of silence; no frame for as long again and the socket is dead. */
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
            if (now - s.pingSentNanos >= c.keepAlive.toNanos()) {
                endSession(s, "silent-socket", "the server did not answer a ping within " + c.keepAlive.toMillis() + " ms", Reconnect.BACKOFF);
            }
        } else if (now - s.lastReceivedNanos >= c.keepAlive.toNanos()) {
            s.pingSentNanos = now;
            send(s, new Frame.Ping());
        }
    }

    void send(Session s, Frame frame) {
        sendText(s, FrameCodec.encode(frame));
    }

    /**
     * Sends a push: a binary page in a v2 session, else its JSON text. Its size was checked on
     * the text, which is never smaller than the uncompressed page (PROTOCOL.md 7.4).
     */
    void sendPush(Session s, Frame.Push push, String text) {
        if (s.protocol >= Frame.PROTOCOL_V2) {
            byte[] page = PageCodec.encode(push);
            transmit(s, () -> s.connection.send(page));
        } else {
            sendText(s, text);
        }
    }

    void sendText(Session s, String text) {
        transmit(s, () -> s.connection.send(text));
    }

    private void transmit(Session s, java.util.function.Supplier<CompletableFuture<Void>> sending) {
        CompletableFuture<Void> sent;
        try {
            sent = sending.get();
        } catch (RuntimeException e) {
            sent = CompletableFuture.failedFuture(e);
        }
        sent.whenComplete((ignored, error) -> {
            if (error != null) {
                loop.post(() -> {
                    if (s.current()) {
                        endSession(s, "connection-lost", "could not send to the server: " + SyncLoop.messageOf(error), Reconnect.BACKOFF);
                    }
                });
            }
        });
    }
}
