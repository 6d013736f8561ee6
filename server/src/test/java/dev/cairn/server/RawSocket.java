package dev.cairn.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.FrameCodec;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A bare WebSocket client (JDK {@code java.net.http}) for protocol tests: it sends whatever text
 * it is given and queues every text message the server sends, so a test can assert frame by
 * frame. Nothing is interpreted; {@link #hello} and {@link #push} are conveniences.
 *
 * <p>A refused upgrade is reported by {@link #refusal} (the HTTP status of the
 * {@link WebSocketHandshakeException}); {@link #closeStatus} gives the WebSocket close code the
 * server sent (or {@link #ABORTED} if the connection dropped without one).
 */
public final class RawSocket implements AutoCloseable {

    /** {@link #closeStatus} when the connection ended without a close frame. */
    public static final int ABORTED = -1;

    public static final Duration WAIT = Duration.ofSeconds(10);

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    /** Lenient on purpose (Jackson's default depth limit, not the protocol's): a test sees whatever the server sent. */
    private static final ObjectMapper LENIENT = new ObjectMapper();

    private final BlockingQueue<String> frames = new LinkedBlockingQueue<>();
    private final BlockingQueue<byte[]> pages = new LinkedBlockingQueue<>();
    private final CompletableFuture<Integer> closed = new CompletableFuture<>();
    private final List<String> received = new ArrayList<>();
    private volatile WebSocket ws;

    private RawSocket() {
    }

    // ------------------------------------------------------------------ connecting

    /** Connects with {@code Authorization: Bearer token} (no header if token is null); fails if refused. */
    public static RawSocket connect(URI uri, String token) {
        return open(uri, token == null ? Map.of() : Map.of("Authorization", "Bearer " + token));
    }

    /** Connects with the token in the {@code access_token} query parameter (as browsers do). */
    public static RawSocket connectQuery(URI uri, String token) {
        return open(withQuery(uri, token), Map.of());
    }

    /**
     * Connects as the browser client does: the token in an offered subprotocol beside
     * {@code cairn}; the JDK's client fails the upgrade unless the server picks one of them.
     */
    public static RawSocket connectProtocol(URI uri, String token) {
        return open(uri, Map.of(), "cairn", "cairn.bearer." + token);
    }

    /** Connects with the given upgrade headers; fails the test if the upgrade is refused. */
    public static RawSocket open(URI uri, Map<String, String> headers) {
        return open(uri, headers, new String[0]);
    }

    /** The WebSocket subprotocol the server picked (empty: none). */
    public String subprotocol() {
        return ws.getSubprotocol();
    }

    private static RawSocket open(URI uri, Map<String, String> headers, String... subprotocols) {
        RawSocket socket = new RawSocket();
        try {
            socket.ws = build(uri, headers, socket.new Listener(), subprotocols).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            return socket;
        } catch (ExecutionException e) {
            throw new AssertionError("WebSocket upgrade to " + uri + " failed: " + describe(e.getCause()), e.getCause());
        } catch (InterruptedException | TimeoutException e) {
            throw new AssertionError("WebSocket upgrade to " + uri + " did not complete", e);
        }
    }

    /**
     * The HTTP status with which the server refused the upgrade; fails the test if the upgrade
     * succeeded (the socket is then closed) or failed without an HTTP answer.
     */
    public static int refusal(URI uri, Map<String, String> headers) {
        return refusal(uri, headers, new String[0]);
    }

    /** {@link #refusal} with these subprotocols offered (a browser's token rides in one). */
    public static int refusalProtocols(URI uri, String... subprotocols) {
        return refusal(uri, Map.of(), subprotocols);
    }

    private static int refusal(URI uri, Map<String, String> headers, String... subprotocols) {
        RawSocket probe = new RawSocket();
        try {
            WebSocket opened = build(uri, headers, probe.new Listener(), subprotocols).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            opened.abort();
            throw new AssertionError("the WebSocket upgrade to " + uri + " was accepted; expected it to be refused");
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof WebSocketHandshakeException h) {
                return h.getResponse().statusCode();
            }
            throw new AssertionError("the upgrade failed without an HTTP answer: " + describe(cause), cause);
        } catch (InterruptedException | TimeoutException e) {
            throw new AssertionError("the WebSocket upgrade to " + uri + " did not complete", e);
        }
    }

    /** {@link #refusal} with the token as a bearer header (none if null). */
    public static int refusal(URI uri, String token) {
        return refusal(uri, token == null ? Map.of() : Map.of("Authorization", "Bearer " + token));
    }

    /** {@link #refusal} with the token as the {@code access_token} query parameter. */
    public static int refusalQuery(URI uri, String token) {
        return refusal(withQuery(uri, token), Map.of());
    }

    private static URI withQuery(URI uri, String token) {
        return URI.create(uri + (uri.getQuery() == null ? "?" : "&") + "access_token=" + URLEncoder.encode(token, StandardCharsets.UTF_8));
    }

    private static CompletableFuture<WebSocket> build(URI uri, Map<String, String> headers, WebSocket.Listener listener, String... subprotocols) {
        WebSocket.Builder b = HTTP.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(5));
        headers.forEach(b::header);
        if (subprotocols.length > 0) {
            b.subprotocols(subprotocols[0], java.util.Arrays.copyOfRange(subprotocols, 1, subprotocols.length));
        }
        return b.buildAsync(uri, listener);
    }

    private static String describe(Throwable t) {
        if (t instanceof WebSocketHandshakeException h) {
            return "HTTP " + h.getResponse().statusCode() + " " + h.getResponse().body();
        }
        return String.valueOf(t);
    }

    // ------------------------------------------------------------------ sending

    /** Sends one text message (whole). */
    public RawSocket send(String text) {
        complete(ws.sendText(text, true), "send");
        return this;
    }

    public RawSocket send(Frame frame) {
        return send(FrameCodec.encode(frame));
    }

    public RawSocket sendBinary(byte[] data) {
        complete(ws.sendBinary(ByteBuffer.wrap(data), true), "send binary");
        return this;
    }

    /** Sends hello, expects welcome, then reads changes frames until caught-up. */
    public Handshake hello(String replica, long cursor) {
        send("{\"type\":\"hello\",\"protocol\":1,\"replica\":\"" + replica + "\",\"cursor\":" + cursor + "}");
        JsonNode welcome = expectType("welcome", WAIT);
        List<JsonNode> changes = new ArrayList<>();
        while (true) {
            JsonNode f = next(WAIT);
            String type = f.path("type").asText();
            if ("caught-up".equals(type)) {
                return new Handshake(welcome, changes, f.path("cursor").asLong());
            }
            if (!"changes".equals(type)) {
                fail("expected changes or caught-up during catch-up, got " + f);
            }
            changes.add(f);
        }
    }

    /** What a handshake returned: the welcome, every catch-up page and the caught-up cursor. */
    public record Handshake(JsonNode welcome, List<JsonNode> pages, long cursor) {
        /** Every change of the catch-up pages (the inner change objects). */
        public List<JsonNode> changes() {
            List<JsonNode> out = new ArrayList<>();
            for (JsonNode p : pages) {
                p.path("changes").forEach(c -> out.add(c.path("change")));
            }
            return out;
        }
    }

    /** Sends {@code {"type":"push","batch":batch,"changes":[...]}} with change objects given as JSON text. */
    public RawSocket push(long batch, String... changes) {
        return send("{\"type\":\"push\",\"batch\":" + batch + ",\"changes\":[" + String.join(",", changes) + "]}");
    }

    /** Pushes and waits for the ack of that batch (skipping changes and pong frames, which may interleave). */
    public void pushAcked(long batch, String... changes) {
        push(batch, changes);
        JsonNode f = skipUntil(t -> !"changes".equals(t) && !"pong".equals(t), WAIT);
        assertEquals("ack", f.path("type").asText(), "expected an ack of batch " + batch + ", got " + f);
        assertEquals(batch, f.path("batch").asLong(), "ack of the wrong batch: " + f);
    }

    // ------------------------------------------------------------------ receiving

    /** The next text frame as JSON; fails the test if none arrives in time. */
    public JsonNode next(Duration timeout) {
        String text = nextText(timeout);
        if (text == null) {
            fail("no frame within " + timeout + (closed.isDone() ? " (socket closed with " + closed.join() + ")" : "")
                    + "; received so far: " + received());
        }
        try {
            return LENIENT.readTree(text);
        } catch (IOException e) {
            throw new AssertionError("the server sent a frame that is not JSON: " + text, e);
        }
    }

    /** The next text frame decoded by {@link FrameCodec}, as a real client would (strict: a ProtocolException if it breaks the protocol). */
    public Frame nextFrame(Duration timeout) {
        String text = nextText(timeout);
        if (text == null) {
            fail("no frame within " + timeout + "; received so far: " + received());
        }
        return FrameCodec.decode(text);
    }

    /** The next frame, which must have the given type. */
    public JsonNode expectType(String type, Duration timeout) {
        JsonNode f = next(timeout);
        assertEquals(type, f.path("type").asText(), "unexpected frame: " + f);
        return f;
    }

    /** The next error frame, which must carry the given code. */
    public JsonNode expectError(String code) {
        JsonNode f = expectType("error", WAIT);
        assertEquals(code, f.path("code").asText(), "unexpected error: " + f);
        if (!f.path("message").isTextual() || f.path("message").asText().isBlank()) {
            fail("error frame without a message: " + f);
        }
        return f;
    }

    /** Skips frames until one whose type matches. */
    public JsonNode skipUntil(java.util.function.Predicate<String> type, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            long left = deadline - System.nanoTime();
            JsonNode f = next(Duration.ofNanos(Math.max(1, left)));
            if (type.test(f.path("type").asText())) {
                return f;
            }
        }
    }

    /** Fails if any frame arrives within {@code wait}. */
    public void expectSilence(Duration wait) {
        String text = nextText(wait);
        if (text != null) {
            fail("expected no frame, got " + text);
        }
    }

    /** The next raw text frame, or null after the timeout. */
    public String nextText(Duration timeout) {
        try {
            return frames.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    /** The next binary message (a v2 page), or null after the timeout. */
    public byte[] nextPage(Duration timeout) {
        try {
            return pages.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    /** Every text frame received so far (including those already taken). */
    public synchronized List<String> received() {
        return List.copyOf(received);
    }

    /** The close code the server sent ({@link #ABORTED} if the connection just dropped), waiting up to {@code timeout}; null if still open. */
    public Integer closeStatus(Duration timeout) {
        try {
            return closed.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        } catch (ExecutionException e) {
            throw new AssertionError(e.getCause());
        }
    }

    public boolean isClosed() {
        return closed.isDone();
    }

    /** Sends a normal close and drops the connection. */
    @Override
    public void close() {
        WebSocket w = ws;
        if (w == null) {
            return;
        }
        try {
            if (!w.isOutputClosed()) {
                w.sendClose(WebSocket.NORMAL_CLOSURE, "bye").get(2, TimeUnit.SECONDS);
            }
        } catch (Exception ignored) {
            // already gone
        } finally {
            w.abort();
        }
    }

    private static void complete(CompletableFuture<WebSocket> f, String what) {
        try {
            f.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new AssertionError(what + " failed: " + e.getCause(), e.getCause());
        } catch (InterruptedException | TimeoutException e) {
            throw new AssertionError(what + " did not complete", e);
        }
    }

    private final class Listener implements WebSocket.Listener {
        private final StringBuilder partial = new StringBuilder();

        @Override
        public void onOpen(WebSocket webSocket) {
            webSocket.request(1);
        }

        @Override
        public java.util.concurrent.CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                String text = partial.toString();
                partial.setLength(0);
                synchronized (RawSocket.this) {
                    received.add(text);
                }
                frames.add(text);
            }
            webSocket.request(1);
            return null;
        }

        private final java.io.ByteArrayOutputStream binary = new java.io.ByteArrayOutputStream();

        /** Binary messages are protocol v2 pages (PROTOCOL.md 7): kept apart from the text frames. */
        @Override
        public java.util.concurrent.CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
            byte[] chunk = new byte[data.remaining()];
            data.get(chunk);
            binary.writeBytes(chunk);
            if (last) {
                pages.add(binary.toByteArray());
                binary.reset();
            }
            webSocket.request(1);
            return null;
        }

        @Override
        public java.util.concurrent.CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
            closed.complete(statusCode);
            return null;
        }

        @Override
        public void onError(WebSocket webSocket, Throwable error) {
            closed.complete(ABORTED);
        }
    }
}
