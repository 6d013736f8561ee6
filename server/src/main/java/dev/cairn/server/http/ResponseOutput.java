package dev.cairn.server.http;

import io.vertx.core.Context;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * An {@link OutputStream} for a worker thread that writes a chunked HTTP response: bytes are
 * sent in 64 KiB chunks on the response's event loop, and a write waits while the response's
 * queue is full (the client reads slower than we write), so a large export never piles up in
 * memory. A client that closes the connection, or reads nothing for {@code stallMillis}, fails
 * the next write with an {@link IOException}.
 */
final class ResponseOutput extends OutputStream {

    private static final int CHUNK = 64 << 10;

    private final Context context;
    private final HttpServerResponse response;
    private final long stallMillis;
    private final byte[] buffer = new byte[CHUNK];
    private int used;
    private long written;
    private volatile boolean gone;

    /** Call on the response's event loop. */
    ResponseOutput(Context context, HttpServerResponse response, long stallMillis) {
        this.context = context;
        this.response = response;
        this.stallMillis = stallMillis;
        response.closeHandler(v -> gone = true);
        response.exceptionHandler(e -> gone = true);
    }

    @Override
    public void write(int b) throws IOException {
        if (used == buffer.length) {
            send();
        }
        buffer[used++] = (byte) b;
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        while (len > 0) {
            if (used == buffer.length) {
                send();
            }
            int n = Math.min(len, buffer.length - used);
            System.arraycopy(b, off, buffer, used, n);
            used += n;
            off += n;
            len -= n;
        }
    }

    @Override
    public void flush() throws IOException {
        if (used > 0) {
            send();
        }
    }

    /** Bytes handed to the response so far. */
    long written() {
        return written;
    }

    private void send() throws IOException {
        if (gone) {
            throw new IOException("the client closed the connection");
        }
        Buffer chunk = Buffer.buffer(Arrays.copyOf(buffer, used));
        written += used;
        used = 0;
        CompletableFuture<Void> ready = new CompletableFuture<>();
        context.runOnContext(v -> {
            if (gone) {
                ready.completeExceptionally(new IOException("the client closed the connection"));
                return;
            }
            response.write(chunk);
            if (response.writeQueueFull()) {
                response.drainHandler(x -> ready.complete(null));
            } else {
                ready.complete(null);
            }
        });
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(stallMillis);
        while (true) {
            try {
                ready.get(200, TimeUnit.MILLISECONDS);
                return;
            } catch (TimeoutException e) {
                if (gone) {
                    throw new IOException("the client closed the connection");
                }
                if (System.nanoTime() > deadline) {
                    throw new IOException("the client read nothing for " + stallMillis + " ms");
                }
            } catch (ExecutionException e) {
                throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
        }
    }
}
