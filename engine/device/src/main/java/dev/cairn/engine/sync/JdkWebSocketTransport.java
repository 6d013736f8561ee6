package dev.cairn.engine.sync;

import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;

/**
 * {@link Transport} over the JDK's {@code java.net.http} WebSocket client (no extra dependency).
 *
 * <ul>
 *   <li>the bearer token goes in the {@code Authorization} header of the upgrade request;</li>
 *   <li>a refused upgrade (HTTP 401, 404, ...) fails {@link #connect} with a
 *       {@link SyncConnectException} naming the status;</li>
 *   <li>fragmented text messages are assembled before the listener sees them, and the next
 *       message is requested only after the previous one was handed over;</li>
 *   <li>sends are chained, because a JDK WebSocket allows only one outstanding text send;</li>
 *   <li>WebSocket pings are answered by the JDK; binary messages are not part of the protocol and
 *       are ignored.</li>
 * </ul>
 */
public final class JdkWebSocketTransport implements Transport {

    /** How long opening a connection (TCP, TLS and the upgrade) may take by default. */
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(10);

    /** A message larger than this (in chars) is refused: the connection is aborted. */
    static final int MAX_MESSAGE_CHARS = 64 << 20;

    /** How long a closing connection waits for the server's close before it is aborted. */
    private static final long CLOSE_GRACE_MILLIS = 5_000;

    /** Null once {@link #release()}d: a JDK 17 HttpClient has no close, its threads end when nothing refers to it. */
    private volatile HttpClient http;
    private final Duration connectTimeout;
    /** The executor of the HttpClient this transport built for a SyncClient; stopped by {@link #release()}. */
    private final ExecutorService ownedExecutor;
    /** Connections opening or open, each done when it ended: {@link #release()} waits for them. */
    private final Set<CompletableFuture<Void>> live = ConcurrentHashMap.newKeySet();

    /** A transport with its own {@link HttpClient} and a 10 second connect timeout. */
    public JdkWebSocketTransport() {
        this(DEFAULT_CONNECT_TIMEOUT);
    }

    /** A transport with its own {@link HttpClient}; {@code connectTimeout} must be positive (IllegalArgumentException). */
    public JdkWebSocketTransport(Duration connectTimeout) {
        this(HttpClient.newHttpClient(), connectTimeout);
    }

    /** A transport over a given client (for TLS settings, a proxy or an executor). */
    public JdkWebSocketTransport(HttpClient http, Duration connectTimeout) {
        this(http, null, connectTimeout);
    }

    private JdkWebSocketTransport(HttpClient http, ExecutorService ownedExecutor, Duration connectTimeout) {
        this.http = Objects.requireNonNull(http, "http");
        Objects.requireNonNull(connectTimeout, "connectTimeout");
        if (connectTimeout.isNegative() || connectTimeout.isZero()) {
            throw new IllegalArgumentException("connectTimeout must be positive: " + connectTimeout);
        }
        this.connectTimeout = connectTimeout;
        this.ownedExecutor = ownedExecutor;
    }

    /**
     * A {@link SyncClient}'s default transport: over the app's {@code client}, or over one built
     * here (with {@code ssl} if given) that runs on the app's {@code executor} or, if none, on a
     * pool of daemon threads ({@code cairn-sync-http}) that {@link #release()} stops.
     */
    static JdkWebSocketTransport forSyncClient(HttpClient client, Executor executor, SSLContext ssl, Duration connectTimeout) {
        if (client != null) {
            return new JdkWebSocketTransport(client, null, connectTimeout);
        }
        ExecutorService owned = null;
        if (executor == null) {
            AtomicInteger n = new AtomicInteger();
            owned = Executors.newCachedThreadPool(r -> {
                Thread t = new Thread(r, "cairn-sync-http-" + n.incrementAndGet());
                t.setDaemon(true);
                return t;
            });
        }
        HttpClient.Builder builder = HttpClient.newBuilder().executor(executor != null ? executor : owned);
        if (ssl != null) {
            builder.sslContext(ssl);
        }
        return new JdkWebSocketTransport(builder.build(), owned, connectTimeout);
    }

    /**
     * Its sync client closed: drops the HttpClient (so the JDK's selector thread ends) and, once
     * every connection has ended (at the latest a close grace later), stops the executor this
     * transport owns. An app's client or executor is left running. Later connects fail.
     */
    void release() {
        http = null;
        if (ownedExecutor == null) {
            return;
        }
        CompletableFuture.allOf(live.toArray(CompletableFuture[]::new))
                .completeOnTimeout(null, CLOSE_GRACE_MILLIS + 1_000, TimeUnit.MILLISECONDS)
                .whenComplete((ignored, error) -> ownedExecutor.shutdown());
    }

    @Override
    public CompletableFuture<Connection> connect(URI uri, String bearerToken, Listener listener) {
        Objects.requireNonNull(uri, "uri");
        Objects.requireNonNull(listener, "listener");
        CompletableFuture<Connection> result = new CompletableFuture<>();
        HttpClient client = http;
        if (client == null) {
            result.completeExceptionally(new SyncConnectException("cannot connect to " + uri + ": the sync client is closed", 0, null));
            return result;
        }
        CompletableFuture<Void> ended = new CompletableFuture<>();
        live.add(ended);
        ended.whenComplete((ignored, error) -> live.remove(ended));
        Adapter adapter = new Adapter(listener, ended);
        CompletableFuture<WebSocket> opening;
        try {
            WebSocket.Builder builder = client.newWebSocketBuilder().connectTimeout(connectTimeout);
            if (bearerToken != null) {
                builder.header("Authorization", "Bearer " + bearerToken);
            }
            opening = builder.buildAsync(uri, adapter);
        } catch (RuntimeException e) { // a bad URI or header
            ended.complete(null);
            result.completeExceptionally(new SyncConnectException("cannot connect to " + uri + ": " + e.getMessage(), 0, e));
            return result;
        }
        opening.whenComplete((ws, error) -> {
            if (error != null) {
                ended.complete(null);
                result.completeExceptionally(describe(uri, error));
                return;
            }
            result.complete(new JdkConnection(ws, ended));
            ws.request(1); // messages flow only once the caller holds the connection
        });
        return result;
    }

    /** Turns what the JDK reports for a failed connection into a message a person can act on. */
    static SyncConnectException describe(URI uri, Throwable error) {
        Throwable cause = error;
        while ((cause instanceof CompletionException || cause instanceof ExecutionException) && cause.getCause() != null) {
            cause = cause.getCause();
        }
        if (cause instanceof WebSocketHandshakeException handshake) {
            HttpResponse<?> response = handshake.getResponse();
            int status = response == null ? 0 : response.statusCode();
            String hint = switch (status) {
                case 401 -> " (the bearer token is missing, expired or invalid)";
                case 403 -> " (the token is not allowed to sync)";
                case 404 -> " (no sync endpoint at this address)";
                case 429 -> " (this user has the most sockets the server allows open)";
                case 503 -> " (the server is at its connection limit or unavailable; retrying later)";
                default -> "";
            };
            return new SyncConnectException("the server refused the WebSocket upgrade to " + uri + " with HTTP " + status + hint
                    + bodyOf(response), status, rawBody(response), cause);
        }
        SSLHandshakeException tls = tlsFailure(cause);
        if (tls != null) {
            return new SyncConnectException("the TLS handshake with " + uri + " failed: " + tls.getMessage()
                    + " (a self-signed or private certificate needs an SSLContext that trusts it: SyncClient.Builder.sslContext)", 0, tls);
        }
        if (cause instanceof HttpConnectTimeoutException || cause instanceof HttpTimeoutException) {
            return new SyncConnectException("could not connect to " + uri + ": timed out", 0, cause);
        }
        if (cause instanceof ConnectException) {
            return new SyncConnectException("could not connect to " + uri + ": connection refused", 0, cause);
        }
        String detail = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getClass().getSimpleName() + ": " + cause.getMessage();
        return new SyncConnectException("could not connect to " + uri + ": " + detail, 0, cause);
    }

    private static SSLHandshakeException tlsFailure(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof SSLHandshakeException h) {
                return h;
            }
        }
        return null;
    }

    private static String rawBody(HttpResponse<?> response) {
        Object body = response == null ? null : response.body();
        if (body instanceof String s) {
            return s;
        } else if (body instanceof byte[] bytes) {
            return new String(bytes, StandardCharsets.UTF_8);
        }
        return null;
    }

    private static String bodyOf(HttpResponse<?> response) {
        String text = rawBody(response);
        if (text == null || text.isBlank()) {
            return "";
        }
        text = text.strip();
        if (!text.startsWith("{")) {
            return " (the answer is not a Cairn error: a web page or another service at this address?)"; // never an HTML page in lastError
        }
        return ": " + (text.length() > 200 ? text.substring(0, 200) + "..." : text);
    }

    /** Adapts the JDK's listener: whole messages, flow control, one terminal event. */
    private static final class Adapter implements WebSocket.Listener {

        private final Listener listener;
        private final StringBuilder partial = new StringBuilder();
        private final java.io.ByteArrayOutputStream binary = new java.io.ByteArrayOutputStream();
        private final AtomicBoolean terminated = new AtomicBoolean();
        private final CompletableFuture<Void> ended;

        Adapter(Listener listener, CompletableFuture<Void> ended) {
            this.listener = listener;
            this.ended = ended;
        }

        @Override
        public void onOpen(WebSocket webSocket) {
            // No request(1) yet: connect() asks for the first message once the future completed.
        }

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            partial.append(data); // copied: the JDK may reuse data afterwards
            if (partial.length() > MAX_MESSAGE_CHARS) {
                partial.setLength(0);
                partial.trimToSize();
                fail(new SyncException("the server sent a message of more than " + MAX_MESSAGE_CHARS + " characters"));
                webSocket.abort();
                return null;
            }
            if (!last) {
                listener.onProgress(); // a large frame on a slow link: alive, though not complete
            }
            if (last) {
                String message = partial.toString();
                partial.setLength(0);
                if (!terminated.get()) {
                    try {
                        listener.onText(message);
                    } catch (RuntimeException e) {
                        // the listener's problem; the connection goes on
                    }
                }
            }
            webSocket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
            // A v2 page (PROTOCOL.md 7), bounded like a text message.
            if (binary.size() + data.remaining() > MAX_MESSAGE_CHARS) {
                binary.reset();
                fail(new SyncException("the server sent a message of more than " + MAX_MESSAGE_CHARS + " bytes"));
                webSocket.abort();
                return null;
            }
            byte[] chunk = new byte[data.remaining()];
            data.get(chunk);
            binary.writeBytes(chunk);
            if (!last) {
                listener.onProgress();
            } else {
                byte[] message = binary.toByteArray();
                binary.reset();
                if (!terminated.get()) {
                    try {
                        listener.onBinary(message);
                    } catch (RuntimeException e) {
                        // the listener's problem; the connection goes on
                    }
                }
            }
            webSocket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onPing(WebSocket webSocket, ByteBuffer message) {
            webSocket.request(1); // the JDK answers with a pong itself
            return null;
        }

        @Override
        public CompletionStage<?> onPong(WebSocket webSocket, ByteBuffer message) {
            webSocket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
            ended.complete(null);
            if (terminated.compareAndSet(false, true)) {
                try {
                    listener.onClosed(statusCode, reason);
                } catch (RuntimeException e) {
                    // ignored: nothing more will be delivered anyway
                }
            }
            return null; // the JDK answers the close
        }

        @Override
        public void onError(WebSocket webSocket, Throwable error) {
            fail(error);
        }

        private void fail(Throwable error) {
            ended.complete(null);
            if (terminated.compareAndSet(false, true)) {
                try {
                    listener.onError(error);
                } catch (RuntimeException e) {
                    // ignored
                }
            }
        }
    }

    private static final class JdkConnection implements Connection {

        private final WebSocket ws;
        private final Object lock = new Object();
        private final AtomicBoolean closing = new AtomicBoolean();
        private CompletableFuture<Void> tail = CompletableFuture.completedFuture(null);
        private final CompletableFuture<Void> ended;

        JdkConnection(WebSocket ws, CompletableFuture<Void> ended) {
            this.ws = ws;
            this.ended = ended;
        }

        private void abort() {
            ws.abort();
            ended.complete(null);
        }

        @Override
        public CompletableFuture<Void> send(String text) {
            Objects.requireNonNull(text, "text");
            synchronized (lock) {
                // One outstanding sendText at a time: each send starts when the previous one is done.
                CompletableFuture<Void> next = tail.handle((ignored, error) -> null)
                        .thenCompose(ignored -> ws.sendText(text, true))
                        .thenApply(ignored -> null);
                tail = next;
                return next;
            }
        }

        @Override
        public boolean binary() {
            return true;
        }

        @Override
        public CompletableFuture<Void> send(byte[] page) {
            Objects.requireNonNull(page, "page");
            synchronized (lock) {
                CompletableFuture<Void> next = tail.handle((ignored, error) -> null)
                        .thenCompose(ignored -> ws.sendBinary(ByteBuffer.wrap(page), true))
                        .thenApply(ignored -> null);
                tail = next;
                return next;
            }
        }

        @Override
        public void close() {
            if (!closing.compareAndSet(false, true)) {
                return;
            }
            try {
                ws.sendClose(WebSocket.NORMAL_CLOSURE, "").whenComplete((w, error) -> {
                    if (error != null) {
                        abort();
                    }
                });
            } catch (RuntimeException e) {
                abort();
                return;
            }
            // A server that never answers the close must not keep the socket open.
            CompletableFuture.delayedExecutor(CLOSE_GRACE_MILLIS, TimeUnit.MILLISECONDS).execute(() -> {
                if (!ws.isInputClosed()) {
                    abort();
                }
            });
        }
    }
}
