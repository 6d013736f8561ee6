package dev.cairn.server.session;

import dev.cairn.engine.clock.HybridClock;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.protocol.CloseCodes;
import dev.cairn.engine.protocol.ErrorCode;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.FrameCodec;
import dev.cairn.engine.protocol.PageCodec;
import dev.cairn.engine.protocol.PageTooLargeException;
import dev.cairn.engine.protocol.ProtocolException;
import dev.cairn.server.MonotonicMillis;
import dev.cairn.server.auth.TokenAuth;
import dev.cairn.server.commit.GroupCommitter;
import dev.cairn.server.presence.PresenceBoard;
import dev.cairn.server.section.SectionRegistry;
import dev.cairn.server.store.ServerStore.Sequenced;
import dev.cairn.server.store.ServerStore;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.ServerWebSocket;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One WebSocket of one authenticated user: the handshake, push/ack, delivery of catch-up and live
 * changes (PROTOCOL.md section 3), and in a session whose hello named {@code spaces} the user's
 * spaces (section 8): each space's catch-up after the user's, its pushes authorized at commit,
 * the cut when the user's membership ends, and presence.
 *
 * <p>Delivery is one {@link Feed} per store key: the user's own, and one per space; the spaces are
 * {@link SessionSpaces}, pushes and their acks {@link SessionPushes}, what goes to the socket
 * {@link SessionWriter}. This class reads the socket, answers hello and routes the rest.
 *
 * <p>Confined to the event loop that accepted its socket: the hub's deliveries hop there, and
 * the committer's answers complete there.
 */
public final class SyncSession {

    private static final Logger LOG = LoggerFactory.getLogger(SyncSession.class);
    private static final long HELLO_TIMEOUT_MS = 10_000;

    /** Limits and collaborators a session needs. */
    public record Context(Vertx vertx, Hub hub, GroupCommitter committer, ServerStore store, SectionRegistry sections,
                          HybridClock clock, int maxBatch, int pageSize, int maxFramesPerSecond, int maxFrameBytes,
                          int maxPendingWriteBytes, SessionMetrics metrics, int maxChangesPerSecond, long slowConsumerMillis,
                          OutboundBudget outbound, int maxPageBytes, PresenceBoard presence) {
    }

    /** Most spaces a hello may name. */
    static final int MAX_SPACES = 1000;

    private final Context ctx;
    private final ServerWebSocket ws;
    private final String user;
    private final long tokenExpiresAtMillis;
    private final Runnable released;
    /** The event loop this session lives on: every call into it runs there (the hub hops to it). */
    private io.vertx.core.Context loop;
    /** When the sweep closes the socket for its token (Long.MAX_VALUE: never, or done). */
    private long expiresAt = Long.MAX_VALUE;
    /** When the sweep closes a socket that sent no hello, on {@link MonotonicMillis} (Long.MAX_VALUE: hello came, or done). */
    private long helloDeadline = Long.MAX_VALUE;
    private final SessionSweep sweep;

    private String replica;
    /** The version hello negotiated (PROTOCOL.md 7.1): 2 sends changes, push and ack as binary pages. */
    private int protocol = Frame.PROTOCOL_VERSION;
    private boolean ready;
    private boolean welcomed;
    private boolean closed;
    /** The user's own state. */
    private final Feed own;
    /** The user's spaces, when hello named {@code spaces} in a version 2 session (PROTOCOL.md 8.1); else null. */
    private SessionSpaces spaces;
    private final FrameRate rate;
    private final SessionWriter writer;
    private final SessionPushes pushes;
    private final MessageReader reader;

    /**
     * @param tokenExpiresAtMillis when the socket's token expires: the socket is closed then
     *                             ({@link CloseCodes#TOKEN_EXPIRED}), so a revoked user cannot keep it open
     * @param released             run once when the socket has closed (frees its slot in the socket limits)
     * @param sweep                the timer of this event loop's sessions, which checks this one's deadlines
     */
    public SyncSession(Context ctx, ServerWebSocket ws, String user, long tokenExpiresAtMillis, Runnable released, SessionSweep sweep) {
        this.ctx = ctx;
        this.sweep = sweep;
        this.ws = ws;
        this.user = user;
        this.tokenExpiresAtMillis = tokenExpiresAtMillis;
        this.released = released;
        this.own = new Feed(this, user, null);
        this.rate = new FrameRate(ctx.maxFramesPerSecond(), ctx.maxChangesPerSecond());
        this.writer = new SessionWriter(this, ws);
        this.pushes = new SessionPushes(this, ws, rate);
        this.reader = new MessageReader(this, ws);
    }

    public String user() {
        return user;
    }

    /** Wires the socket's handlers. */
    public void start() {
        loop = ctx.vertx().getOrCreateContext();
        ws.setWriteQueueMaxSize(ctx.maxPendingWriteBytes());
        // Messages are put together by the reader, not by textMessageHandler (see MessageReader).
        ws.frameHandler(reader::onFrame);
        ws.exceptionHandler(reader::onSocketError);
        ws.closeHandler(v -> onClosed());
        ws.drainHandler(v -> {
            pushes.updateReadPause();
            pumpAll();
        });
        helloDeadline = MonotonicMillis.now() + HELLO_TIMEOUT_MS;
        expiresAt = expiry(System.currentTimeMillis());
        // Deadlines are checked by the loop's one sweep, not a timer per session; the slow-consumer
        // check too: a socket that stops reading must be closed even if the user writes nothing more.
        sweep.add(this);
        ctx.metrics().sessionOpened();
    }

    /**
     * When the socket is closed for its token. A token accepted within the verifier's leeway
     * (already past its exp) gets the rest of that leeway, so it is not closed the moment it opens.
     */
    private long expiry(long now) {
        if (tokenExpiresAtMillis == Long.MAX_VALUE) {
            return Long.MAX_VALUE;
        }
        return tokenExpiresAtMillis > now ? tokenExpiresAtMillis : tokenExpiresAtMillis + TokenAuth.LEEWAY_SECONDS * 1000L;
    }

    /** The sweep's check (on this session's loop): hello deadline, token expiry (at {@code now} on the wall clock), slow consumer. */
    void sweep(long now) {
        if (closed) {
            return;
        }
        if (!ready && MonotonicMillis.now() >= helloDeadline) {
            helloDeadline = Long.MAX_VALUE;
            ws.close((short) 1008, "no hello within " + HELLO_TIMEOUT_MS + " ms");
        }
        if (now >= expiresAt) {
            expiresAt = Long.MAX_VALUE;
            fields(LOG.atInfo()).log("session token expired");
            ws.close((short) CloseCodes.TOKEN_EXPIRED, "token expired");
        }
        writer.checkSlowConsumer();
    }

    // ------------------------------------------------------------------ inbound

    /** A complete text message: a JSON frame (PROTOCOL.md 3). */
    void onText(String text) {
        if (closed) {
            return;
        }
        ctx.metrics().frameIn();
        if (!rate.withinRate()) {
            // Name the batch if the dropped frame was a push, so the client re-sends just that one.
            RefusedFrame dropped = RefusedFrame.of(text);
            sendError(ErrorCode.RATE_LIMITED, "more than " + ctx.maxFramesPerSecond() + " frames per second; frame dropped", dropped.batch(), dropped.space());
            return;
        }
        Frame frame;
        try {
            frame = FrameCodec.decode(text);
        } catch (ProtocolException e) {
            RefusedFrame refused = RefusedFrame.of(text);
            sendError(e.code(), e.getMessage(), refused.batch(), refused.space());
            return;
        }
        if (frame instanceof Frame.Hello hello) {
            onHello(hello);
        } else if (frame instanceof Frame.Push push && protocol >= Frame.PROTOCOL_V2) {
            sendError(ErrorCode.MALFORMED_FRAME, "this session speaks protocol " + protocol + ": a push is a binary page", push.batch());
        } else if (frame instanceof Frame.Push push && push.space() != null) {
            sendError(ErrorCode.MALFORMED_FRAME, "spaces need protocol 2 (PROTOCOL.md 8.1)", push.batch());
        } else if (frame instanceof Frame.Push push) {
            pushes.onPush(push);
        } else if (frame instanceof Frame.Presence presence) {
            onPresenceFrame(presence);
        } else if (frame instanceof Frame.Ping) {
            send(new Frame.Pong());
        } else if (frame instanceof Frame.Pong) {
            // keepalive answer: nothing to do
        } else {
            sendError(ErrorCode.MALFORMED_FRAME, "a client may not send '" + frame.type().wire() + "' frames", null);
        }
    }

    /** A binary message: a v2 page (PROTOCOL.md 7), checked as a text frame is. */
    void onBinary(byte[] bytes) {
        if (closed) {
            return;
        }
        ctx.metrics().frameIn();
        if (!rate.withinRate()) {
            sendError(ErrorCode.RATE_LIMITED, "more than " + ctx.maxFramesPerSecond() + " frames per second; frame dropped", PageCodec.batchOf(bytes));
            return;
        }
        if (protocol < Frame.PROTOCOL_V2) {
            sendError(ErrorCode.MALFORMED_FRAME, "binary frames are not part of protocol " + protocol, null);
            return;
        }
        Frame frame;
        try {
            frame = PageCodec.decode(bytes, ctx.maxFrameBytes());
        } catch (PageTooLargeException e) {
            reader.closeTooLarge(e.bytes(), "page larger than the server's limit");
            return;
        } catch (ProtocolException e) {
            sendError(e.code(), e.getMessage(), e.batch());
            return;
        }
        if (frame instanceof Frame.Push push && push.space() != null) {
            onSpacePush(push);
        } else if (frame instanceof Frame.Push push) {
            pushes.onPush(push);
        } else {
            sendError(ErrorCode.MALFORMED_FRAME, "a client may not send '" + frame.type().wire() + "' frames", null);
        }
    }

    private void onHello(Frame.Hello hello) {
        if (ready) {
            sendError(ErrorCode.NOT_READY, "hello was already received on this socket", null);
            return;
        }
        int chosen = hello.negotiate(Frame.SUPPORTED_VERSIONS);
        if (chosen < 0) {
            String speaks = Frame.SUPPORTED_VERSIONS.toString().replace(" ", "");
            ws.writeTextMessage("{\"type\":\"error\",\"code\":\"protocol-version\",\"message\":\"protocol "
                    + (hello.versions() == null ? hello.protocol() : hello.versions()) + " is not supported; this server speaks "
                    + speaks + "\",\"supported\":" + speaks + "}");
            ws.close((short) 1002, "unsupported protocol version");
            return;
        }
        if (!Stamp.isValidReplicaId(hello.replica())) {
            sendError(ErrorCode.MALFORMED_FRAME, "invalid replica id '" + hello.replica() + "'", null);
            return;
        }
        if (hello.spaces() != null && hello.spaces().size() > MAX_SPACES) {
            sendError(ErrorCode.MALFORMED_FRAME, "hello names more than " + MAX_SPACES + " spaces", null);
            return;
        }
        helloDeadline = Long.MAX_VALUE;
        replica = hello.replica();
        protocol = chosen;
        writer.protocol(chosen);
        // A session that negotiates version 1 ignores spaces (8.1).
        spaces = hello.spaces() != null && protocol >= Frame.PROTOCOL_V2 ? new SessionSpaces(this) : null;
        ready = true;
        ws.pause(); // frames after hello wait until welcome is out, so replies keep protocol order
        // Join the hub BEFORE reading the head: a commit that lands while the head is read is
        // then either in the head or reported to this session, never neither.
        ctx.hub().add(user, this);
        Future<java.util.Map<String, Frame.SpaceInfo>> memberOf = spaces != null ? spaces.atHello() : Future.succeededFuture(null);
        Future.all(ctx.store().head(user), memberOf).onComplete(ar -> {
            if (closed) {
                return;
            }
            ws.resume();
            if (ar.failed()) {
                fields(LOG.atWarn()).log("store unavailable at hello: {}", ar.cause().toString());
                sendError(ErrorCode.UNAVAILABLE, "the store is unavailable; connect again later", null); // no driver text to the client
                ws.close((short) 1011, "store unavailable");
                return;
            }
            long head = ar.result().resultAt(0);
            java.util.Map<String, Frame.SpaceInfo> member = ar.result().resultAt(1);
            send(new Frame.Welcome(protocol, user, head, ctx.maxBatch(), ctx.clock().maxAheadMillis(), ctx.maxFrameBytes(),
                    sectionKinds(), member));
            welcomed = true;
            fields(LOG.atInfo()).log("session open protocol={} cursor={} head={} spaces={}", protocol, hello.cursor(), head,
                    member == null ? "-" : member.size());
            if (member != null) {
                spaces.welcomed(hello.spaces(), member);
            }
            own.start(hello.cursor(), head);
        });
    }

    /** Every section this server knows, with its kind: welcome's {@code sections} (PROTOCOL.md 3.1). */
    private java.util.Map<String, String> sectionKinds() {
        java.util.Map<String, String> out = new java.util.TreeMap<>();
        ctx.sections().all().forEach((name, kind) -> out.put(name, kind.wireName()));
        return out;
    }

    /** A push of a space's changes (page kind 5): checked as any push, authorized at commit by its guard (8.2). */
    private void onSpacePush(Frame.Push push) {
        if (ready && spaces == null) {
            sendError(ErrorCode.MALFORMED_FRAME, "this session did not name spaces in its hello (PROTOCOL.md 8.1)", push.batch(), push.space());
            return;
        }
        pushes.onPush(push);
    }

    /** A client's presence in a space (8.6). */
    private void onPresenceFrame(Frame.Presence presence) {
        if (presence.user() != null) {
            sendError(ErrorCode.MALFORMED_FRAME, "a client's presence has only 'type', 'space' and 'state'", null, presence.space());
        } else if (!ready) {
            sendError(ErrorCode.NOT_READY, "send hello first", null, presence.space());
        } else if (spaces == null) {
            sendError(ErrorCode.MALFORMED_FRAME, "this session did not name spaces in its hello (PROTOCOL.md 8.1)", null, presence.space());
        } else {
            spaces.onPresence(presence);
        }
    }

    // ------------------------------------------------------------------ outbound: delivery

    /** The event loop this session lives on (the hub delivers to it there). */
    io.vertx.core.Context loop() {
        return loop;
    }

    /** A commit made on this node for one of this session's store keys (the user's, or a space's). */
    void onCommitted(CommittedFrame committed) {
        if (closed) {
            return;
        }
        Feed feed = feedOf(committed.result().user());
        if (feed != null) {
            feed.onCommitted(committed);
        }
    }

    /** Another node moved the head of one of this session's store keys. */
    void onHead(String key, long head) {
        if (closed) {
            return;
        }
        Feed feed = feedOf(key);
        if (feed != null) {
            feed.onHead(head);
        }
    }

    /** The membership service ended the user's membership of a space (PROTOCOL.md 8.4). */
    void onSpaceEnded(String spaceId, String reason) {
        if (!closed && spaces != null) {
            spaces.ended(spaceId, reason);
        }
    }

    /** Someone's presence in a space this session is listed under. */
    void onPresence(dev.cairn.server.presence.PresenceUpdate update) {
        if (!closed && spaces != null && update.origin() != this) {
            spaces.deliverPresence(update);
        }
    }

    private Feed feedOf(String key) {
        if (key.equals(user)) {
            return own;
        }
        return spaces == null ? null : spaces.feedOf(key);
    }

    /** Every feed reads on (the socket drained). */
    private void pumpAll() {
        own.pump();
        if (spaces != null) {
            spaces.pumpAll();
        }
    }

    // ------------------------------------------------------------------ what the feeds call

    Context context() {
        return ctx;
    }

    String replica() {
        return replica;
    }

    boolean isClosed() {
        return closed;
    }

    void logWarn(String message) {
        fields(LOG.atWarn()).log(message);
    }

    /** A feed sent these changes: the user's own may add spaces the user joined (8.1). */
    void sent(Feed feed, List<Sequenced> changes) {
        if (feed == own && spaces != null && !changes.isEmpty()) {
            spaces.userChangesSent(changes);
        }
    }

    /** The index of the change where a space's feed must end for this user (the cut, 8.4), or -1. */
    int cutAt(Feed feed, List<Sequenced> changes) {
        return feed == own ? -1 : SessionSpaces.cutAt(user, changes);
    }

    /** A space's feed reached its cut at {@code change}. */
    void cut(Feed feed, Change change) {
        spaces.cut(feed, change);
    }

    /** A feed sent its {@code caught-up}: the user's own starts the spaces' catch-up; a space's sends who is present. */
    void caughtUp(Feed feed) {
        if (spaces == null) {
            return;
        }
        if (feed == own) {
            spaces.startAll();
        } else {
            spaces.live(feed);
        }
    }

    // ------------------------------------------------------------------ plumbing

    /** {@code event} with the session's user and replica (once known) as fields (JSON logs: {@code kvpList}). */
    org.slf4j.spi.LoggingEventBuilder fields(org.slf4j.spi.LoggingEventBuilder event) {
        event = event.addKeyValue("user", user);
        return replica == null ? event : event.addKeyValue("replica", replica);
    }

    SessionWriter writer() {
        return writer;
    }

    boolean isReady() {
        return ready;
    }

    boolean isWelcomed() {
        return welcomed;
    }

    void send(Frame frame) {
        writer.send(frame);
    }

    void sendError(ErrorCode code, String message, Long batch) {
        writer.sendError(code, message, batch, null);
    }

    void sendError(ErrorCode code, String message, Long batch, String space) {
        writer.sendError(code, message, batch, space);
    }

    private void onClosed() {
        if (closed) {
            return;
        }
        closed = true;
        sweep.remove(this);
        released.run();
        ctx.hub().remove(user, this);
        if (spaces != null) {
            spaces.closed();
        }
        ctx.metrics().sessionClosed();
        fields(LOG.atInfo()).log("session closed sentCursor={}", own.sentCursor());
    }
}
