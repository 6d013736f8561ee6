package dev.cairn.server.spaces;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.FrameCodec;
import dev.cairn.engine.protocol.PageCodec;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A raw version 2 socket for the spaces tests: every message the server sends, text frames and
 * binary pages alike, decoded strictly (FrameCodec, PageCodec) into one queue in arrival order,
 * so a test sees exactly where {@code space-left} falls among a space's pages.
 */
final class SpaceWire implements AutoCloseable {

    static final Duration WAIT = Duration.ofSeconds(10);
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    private final LinkedBlockingQueue<Frame> frames = new LinkedBlockingQueue<>();
    private final List<Frame> all = new ArrayList<>();
    private final CompletableFuture<Integer> closed = new CompletableFuture<>();
    private WebSocket ws;

    private SpaceWire() {
    }

    static SpaceWire connect(URI sync, String token) {
        SpaceWire wire = new SpaceWire();
        try {
            wire.ws = HTTP.newWebSocketBuilder().header("Authorization", "Bearer " + token).connectTimeout(WAIT)
                    .buildAsync(sync, wire.new Listener()).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            throw new AssertionError("connect failed: " + e, e);
        }
        return wire;
    }

    /** Sends hello offering versions 1 and 2 with these space cursors, and returns the welcome. */
    Frame.Welcome hello(String replica, long cursor, Map<String, Long> spaces) {
        send(FrameCodec.encode(new Frame.Hello(1, replica, cursor, List.of(1, 2), spaces)));
        Frame f = next(WAIT);
        if (!(f instanceof Frame.Welcome w)) {
            throw new AssertionError("expected welcome, got " + f);
        }
        assertEquals(2, w.protocol());
        return w;
    }

    SpaceWire send(String text) {
        join(ws.sendText(text, true));
        return this;
    }

    SpaceWire send(Frame frame) {
        if (PageCodec.carries(frame)) {
            join(ws.sendBinary(ByteBuffer.wrap(PageCodec.encode(frame)), true));
            return this;
        }
        return send(FrameCodec.encode(frame));
    }

    /** The next frame, or null after the timeout. */
    Frame poll(Duration timeout) {
        try {
            return frames.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    Frame next(Duration timeout) {
        Frame f = poll(timeout);
        if (f == null) {
            fail("no frame within " + timeout + "; received so far: " + received());
        }
        return f;
    }

    /** Frames until one that matches (returned); the skipped ones are in {@link #received}. */
    Frame until(Predicate<Frame> wanted, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                fail("no matching frame within " + timeout + "; received so far: " + received());
            }
            Frame f = next(Duration.ofNanos(left));
            if (wanted.test(f)) {
                return f;
            }
        }
    }

    synchronized List<Frame> received() {
        return List.copyOf(all);
    }

    /** Aborts the TCP connection without a close frame (a socket that died). */
    void kill() {
        ws.abort();
    }

    @Override
    public void close() {
        try {
            if (!ws.isOutputClosed()) {
                ws.sendClose(WebSocket.NORMAL_CLOSURE, "bye").get(2, TimeUnit.SECONDS);
            }
        } catch (Exception ignored) {
            // already gone
        } finally {
            ws.abort();
        }
    }

    private static void join(CompletableFuture<WebSocket> f) {
        try {
            f.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            throw new AssertionError("send failed: " + e, e);
        }
    }

    private synchronized void add(Frame f) {
        all.add(f);
        frames.add(f);
    }

    private final class Listener implements WebSocket.Listener {
        private final StringBuilder text = new StringBuilder();
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        @Override
        public void onOpen(WebSocket webSocket) {
            webSocket.request(1);
        }

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            text.append(data);
            if (last) {
                add(FrameCodec.decode(text.toString()));
                text.setLength(0);
            }
            webSocket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
            byte[] chunk = new byte[data.remaining()];
            data.get(chunk);
            bytes.writeBytes(chunk);
            if (last) {
                add(PageCodec.decode(bytes.toByteArray(), 64L << 20));
                bytes.reset();
            }
            webSocket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
            closed.complete(statusCode);
            return null;
        }

        @Override
        public void onError(WebSocket webSocket, Throwable error) {
            closed.complete(-1);
        }
    }
}
