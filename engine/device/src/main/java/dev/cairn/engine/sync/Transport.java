package dev.cairn.engine.sync;

import java.net.URI;
import java.util.concurrent.CompletableFuture;

/**
 * The port the {@link SyncClient} talks through: a text-message socket to the sync endpoint
 * (PROTOCOL.md section 2). {@link JdkWebSocketTransport} is the real one; tests plug in an
 * in-memory server.
 *
 * <p>Contract: if the connection cannot be established (refused, timed out, upgrade answered
 * with HTTP 401, ...) the future returned by {@link #connect} fails and the listener is never
 * called; an upgrade answered over HTTP fails it with a {@link SyncConnectException} carrying the
 * status and the body, from which the client tells a passing refusal from a permanent one. Once the future has completed, the listener receives whole text messages in order and
 * at most one of {@link Listener#onClosed} or {@link Listener#onError}, after which nothing
 * more. Listener methods may be called on any thread but never concurrently for one connection.
 */
public interface Transport {

    /**
     * Opens a connection to {@code uri}, authenticating with {@code bearerToken}
     * ({@code Authorization: Bearer <token>}; no header if the token is null).
     */
    CompletableFuture<Connection> connect(URI uri, String bearerToken, Listener listener);

    /** Receives what the server sends on one connection. */
    interface Listener {

        /** One complete text message (one protocol frame). */
        void onText(String frame);

        /** One complete binary message (a protocol v2 page, PROTOCOL.md 7), on a transport that {@link Connection#binary() carries them}. */
        default void onBinary(byte[] page) {
        }

        /** The connection was closed (by either side) with a WebSocket status code. */
        void onClosed(int code, String reason);

        /** The connection failed. */
        void onError(Throwable error);

        /**
         * Part of a message arrived (a sign of life, not a frame): on a slow link one large frame
         * can take longer than the keepalive period, and the connection is not dead meanwhile.
         * May be called from any thread, also concurrently with the other methods.
         */
        default void onProgress() {
        }
    }

    /** One open connection. */
    interface Connection {

        /**
         * Sends one text message. Sends are delivered in call order; the future completes when
         * the message has been handed to the network (or fails if it could not be).
         */
        CompletableFuture<Void> send(String text);

        /**
         * True if this connection carries binary messages ({@link #send(byte[])} and
         * {@link Listener#onBinary}): only then does the client offer protocol v2.
         */
        default boolean binary() {
            return false;
        }

        /** Sends one binary message, in call order with the text messages. */
        default CompletableFuture<Void> send(byte[] page) {
            return CompletableFuture.failedFuture(new UnsupportedOperationException("this transport carries no binary messages"));
        }

        /**
         * Closes the connection (normal closure); idempotent. The listener may still be told
         * {@code onClosed} afterwards.
         */
        void close();
    }
}
