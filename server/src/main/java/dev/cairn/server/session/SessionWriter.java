package dev.cairn.server.session;

import dev.cairn.engine.protocol.ErrorCode;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.FrameCodec;
import dev.cairn.engine.protocol.PageCodec;
import dev.cairn.server.MonotonicMillis;
import io.vertx.core.Future;
import io.vertx.core.http.ServerWebSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What one session writes to its socket: frames as text or binary pages (PROTOCOL.md 7), shared
 * pre-encoded frames, and the accounting of what waits to be written, which the node's outbound
 * budget and the slow-consumer close (RELIABILITY.md) are judged by. Confined to the session's event loop.
 */
final class SessionWriter {

    // The session's logger: its lines keep the category operators filter on.
    private static final Logger LOG = LoggerFactory.getLogger(SyncSession.class);
    /** How long a socket closed as a slow consumer may take to finish its close handshake before its connection is cut. */
    private static final long SLOW_CLOSE_GRACE_MS = 5_000;

    private final SyncSession session;
    private final SyncSession.Context ctx;
    private final ServerWebSocket ws;
    /** The version hello negotiated (PROTOCOL.md 7.1): 2 sends changes, push and ack as binary pages. */
    private int protocol = Frame.PROTOCOL_VERSION;
    private boolean slowClosing;
    /** Text handed to the socket and not yet written to the network (this session's share of the node's budget). */
    private long queuedChars;
    /** Since when text has waited with no write completing: the last completion, or when the queue became non-empty. */
    private long waitingSince;

    SessionWriter(SyncSession session, ServerWebSocket ws) {
        this.session = session;
        this.ctx = session.context();
        this.ws = ws;
    }

    /** The version hello negotiated: from then on frames are written in it. */
    void protocol(int protocol) {
        this.protocol = protocol;
    }

    boolean writeQueueFull() {
        return ws.writeQueueFull();
    }

    /** Writes {@code frame}: a binary page in protocol 2 where it has one, else text. */
    void send(Frame frame) {
        if (session.isClosed()) {
            return;
        }
        if (protocol >= Frame.PROTOCOL_V2 && PageCodec.carries(frame)) {
            byte[] page = PageCodec.encode(frame); // a binary page (PROTOCOL.md 7); counted in bytes
            written(page.length, ws.writeBinaryMessage(io.vertx.core.buffer.Buffer.buffer(page)));
        } else {
            String text = FrameCodec.encode(frame);
            written(text.length(), ws.writeTextMessage(text));
        }
    }

    /**
     * Sends a commit's frame encoded once for all sessions of its protocol version (a text frame,
     * or a binary page in protocol 2): its bytes go out without being encoded or copied again (a
     * frame over the WebSocket frame limit, which Vert.x would split, goes as a whole message).
     */
    void sendShared(CommittedFrame committed) {
        boolean page = protocol >= Frame.PROTOCOL_V2;
        sendShared(page ? committed.page() : committed.encoded(), page);
    }

    private void sendShared(CommittedFrame.Encoded frame, boolean page) {
        if (session.isClosed()) {
            return;
        }
        if (frame.bytes().readableBytes() > ctx.maxFrameBytes()) {
            byte[] bytes = new byte[frame.bytes().readableBytes()];
            frame.forOneWrite().readBytes(bytes);
            io.vertx.core.buffer.Buffer whole = io.vertx.core.buffer.Buffer.buffer(bytes);
            written(frame.chars(), page ? ws.writeBinaryMessage(whole) : ws.writeTextMessage(whole.toString(java.nio.charset.StandardCharsets.UTF_8)));
            return;
        }
        written(frame.chars(), ws.writeFrame(new io.vertx.core.http.impl.ws.WebSocketFrameImpl(
                page ? io.vertx.core.http.WebSocketFrameType.BINARY : io.vertx.core.http.WebSocketFrameType.TEXT, frame.forOneWrite(), true)));
    }

    /** Accounts a frame of {@code chars} (bytes, for a page) handed to the socket until {@code write} completes. */
    private void written(int chars, Future<Void> write) {
        ctx.outbound().queued(chars);
        if (queuedChars == 0) {
            waitingSince = MonotonicMillis.now();
        }
        queuedChars += chars;
        // completes when written to the network, fails when the socket closes first: both free it
        write.onComplete(ar -> {
            ctx.outbound().written(chars);
            queuedChars -= chars;
            waitingSince = MonotonicMillis.now();
        });
        ctx.metrics().frameOut();
    }

    void sendError(ErrorCode code, String message, Long batch, String space) {
        ctx.metrics().errorSent(code.wire());
        send(new Frame.Error(code, message, batch, space));
    }

    /** Sends the text of a frame encoded once for several sessions (presence). */
    void sendText(String text) {
        if (!session.isClosed()) {
            written(text.length(), ws.writeTextMessage(text));
        }
    }

    /**
     * A slow consumer is a socket with text waiting and no write completing for the allowed time
     * (it reads slowly or not at all). Judged by this session's own accounting, not only by
     * Vert.x's queue: a single large frame can sit in Netty's buffer with Vert.x's queue empty.
     */
    void checkSlowConsumer() {
        if (session.isClosed() || slowClosing || queuedChars == 0) {
            return;
        }
        long now = MonotonicMillis.now(); // as waitingSince: a wall clock set forward closes no socket
        // When the node is over its outbound budget, a socket that cannot take more is closed
        // after a quarter of the usual time: the memory is needed by sockets that read.
        long allowed = ctx.outbound().exhausted() ? ctx.slowConsumerMillis() / 4 : ctx.slowConsumerMillis();
        if (now - waitingSince > allowed) {
            // Once: the error and close frames queue behind the full write queue, and a graceful close
            // never completes on a socket that does not read, so re-sending grew the queue every check
            // (SlowConsumersIT: 17,576 error frames queued for 200 stalled sockets in 30 s).
            slowClosing = true;
            sendError(ErrorCode.SLOW_CONSUMER, "the socket did not read for " + (now - waitingSince) + " ms", null, null);
            ws.close((short) 1008, "slow consumer");
            // The close frame waits behind the full queue and a socket that never reads never
            // answers it: cut the connection after a grace, which frees everything queued to it.
            long grace = Math.min(SLOW_CLOSE_GRACE_MS, allowed);
            ctx.vertx().setTimer(grace, id -> {
                if (!session.isClosed()) {
                    cutConnection();
                }
            });
        }
    }

    /** Closes the TCP connection without a WebSocket close handshake. */
    private void cutConnection() {
        session.fields(LOG.atInfo()).log("cutting the connection of a slow consumer");
        if (ws instanceof io.vertx.core.internal.http.WebSocketInternal internal) {
            // Not channel().close(): Vert.x intercepts that in the pipeline and closes only after
            // the queued writes are flushed, which on this socket never happens. The channel's
            // own close skips the pipeline: the socket closes now and its queued writes fail,
            // which frees them (and Vert.x still sees the channel go inactive).
            io.netty.channel.Channel channel = internal.channelHandlerContext().channel();
            channel.unsafe().close(channel.voidPromise());
        } else {
            ws.close(); // not expected with Vert.x's own sockets
        }
    }
}
