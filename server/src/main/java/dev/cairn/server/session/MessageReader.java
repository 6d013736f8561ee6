package dev.cairn.server.session;

import io.vertx.core.http.ServerWebSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Puts one session's messages together from their WebSocket frames and holds them to the limits
 * of PROTOCOL.md 2: a message over maxFrameBytes closes the socket with 1009, text that is not
 * UTF-8 with 1007. Done here, not by Vert.x's textMessageHandler, which decodes leniently (invalid
 * UTF-8 becomes U+FFFD and would be stored); binary messages (v2 pages) the same way, so both meet
 * maxFrameBytes alike. Complete messages go to {@link SyncSession#onText} and {@link SyncSession#onBinary}.
 */
final class MessageReader {

    // The session's logger: its lines keep the category operators filter on.
    private static final Logger LOG = LoggerFactory.getLogger(SyncSession.class);

    private final SyncSession session;
    private final SyncSession.Context ctx;
    private final ServerWebSocket ws;
    private final String user;

    MessageReader(SyncSession session, ServerWebSocket ws) {
        this.session = session;
        this.ctx = session.context();
        this.ws = ws;
        this.user = session.user();
    }

    /** The message being received, while its frames arrive; null between messages. */
    private io.vertx.core.buffer.Buffer textMessage;
    private boolean binaryMessage;

    void onFrame(io.vertx.core.http.WebSocketFrame frame) {
        boolean first = frame.isText() || frame.isBinary();
        if (session.isClosed() || !(first || frame.isContinuation() && textMessage != null)) {
            return; // control frames are Vert.x's
        }
        if (first) {
            binaryMessage = frame.isBinary();
        }
        textMessage = textMessage == null ? frame.binaryData().copy() : textMessage.appendBuffer(frame.binaryData());
        if (textMessage.length() > ctx.maxFrameBytes()) {
            long size = textMessage.length();
            textMessage = null;
            closeTooLarge(size, "message larger than the server's limit");
            return;
        }
        if (!frame.isFinal()) {
            return;
        }
        byte[] bytes = textMessage.getBytes();
        textMessage = null;
        if (binaryMessage) {
            session.onBinary(bytes);
            return;
        }
        String text;
        try {
            text = java.nio.charset.StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(bytes)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            ws.close((short) 1007, "text frame is not valid UTF-8");
            return;
        }
        session.onText(text);
    }

    /**
     * PROTOCOL.md 2: a frame larger than maxFrameBytes closes the socket with 1009. Vert.x does not
     * do that itself: a single oversized frame surfaces here as a CorruptedWebSocketFrameException
     * (the decoder then drops everything that follows) and a fragmented message over the limit as an
     * IllegalStateException after which the message is silently dropped and the socket stays open.
     */
    void onSocketError(Throwable e) {
        session.fields(LOG.atDebug()).log("socket error: {}", e.toString());
        if (session.isClosed()) {
            return;
        }
        if (e instanceof io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException corrupt) {
            int status = corrupt.closeStatus() == null ? 1002 : corrupt.closeStatus().code();
            if (status == 1009) {
                closeTooLarge(-1, "frame larger than the server's limit");
            } else {
                ws.close((short) status, "protocol violation");
            }
        } else if (e instanceof IllegalStateException && e.getMessage() != null && e.getMessage().contains("max message size")) {
            closeTooLarge(-1, "message larger than the server's limit");
        }
    }

    /** Closes with 1009 and counts it for the user's storm warning ({@link OversizeWarnings}). */
    void closeTooLarge(long frameBytes, String reason) {
        session.fields(LOG.atInfo()).log("socket closed with 1009 frameBytes={}", frameBytes < 0 ? "over-limit" : frameBytes);
        ctx.hub().oversize.closed(user, frameBytes, ctx.maxFrameBytes(), dev.cairn.server.MonotonicMillis.now());
        ws.close((short) 1009, reason);
    }
}
