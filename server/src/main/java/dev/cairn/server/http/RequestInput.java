package dev.cairn.server.http;

import io.vertx.core.Context;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayDeque;

/**
 * A request body as an {@link InputStream} for a worker thread: the event loop queues arriving
 * buffers, the worker reads them. The request is paused while more than 1 MiB waits (a fast
 * client cannot fill the heap) and resumed once the reader has caught up. A body that sends
 * nothing for {@code idleMillis} fails the read; so does a connection that breaks.
 *
 * <p>JSON travels as UTF-8 (RFC 8259): a byte sequence that is not UTF-8, or a NUL byte (which
 * JSON never holds raw, and which would let the parser take the file for UTF-16 or UTF-32),
 * fails the read, as the other routes refuse a body that does not decode.
 *
 * <p>Construct on the request's event loop with the request paused; {@link #start} resumes it.
 */
final class RequestInput extends InputStream {

    private static final int HIGH = 1 << 20;
    private static final int LOW = 256 << 10;

    private final Context context;
    private final HttpServerRequest request;
    private final long idleMillis;
    private final ArrayDeque<Buffer> queue = new ArrayDeque<>();
    private long queued;
    private boolean paused = true;
    private boolean ended;
    private Throwable failure;
    private byte[] current;
    private int position;
    private long count;
    /** Set by {@link #discardRest}: what to run once the body has ended (or was cut). */
    private Runnable afterDiscard;
    private long discardLimit;
    /** UTF-8 check across chunks: continuation bytes still expected, and the range the next one must be in. */
    private int need;
    private int lower = 0x80;
    private int upper = 0xBF;

    RequestInput(Context context, HttpServerRequest request, long idleMillis) {
        this.context = context;
        this.request = request;
        this.idleMillis = idleMillis;
        request.handler(this::arrived);
        request.endHandler(v -> onEnd());
        request.exceptionHandler(this::onFailure);
    }

    void start() {
        synchronized (this) {
            paused = false;
        }
        request.resume();
    }

    /** Bytes taken from the request so far (read or discarded). */
    synchronized long count() {
        return count;
    }

    private void arrived(Buffer b) {
        Runnable then = null;
        synchronized (this) {
            if (afterDiscard != null) {
                count += b.length();
                if (count > discardLimit) {
                    then = afterDiscard;   // too much to swallow politely: answer, the caller closes
                    afterDiscard = null;
                    request.pause();
                }
            } else {
                queue.add(b);
                queued += b.length();
                if (queued > HIGH && !paused) {
                    paused = true;
                    request.pause();
                }
                notifyAll();
            }
        }
        if (then != null) {
            then.run();
        }
    }

    private void onEnd() {
        Runnable then;
        synchronized (this) {
            ended = true;
            then = afterDiscard;
            afterDiscard = null;
            notifyAll();
        }
        if (then != null) {
            then.run();
        }
    }

    private void onFailure(Throwable e) {
        Runnable then;
        synchronized (this) {
            failure = e;
            then = afterDiscard;
            afterDiscard = null;
            notifyAll();
        }
        if (then != null) {
            then.run();
        }
    }

    /**
     * On the event loop, once the request is answered early (refused before its end): drops the
     * rest of the body, at most {@code more} further bytes, then runs {@code then} (which closes
     * the connection). Swallowing first lets a client that is still uploading read the answer; a
     * connection closed with unread data would be reset and the answer lost.
     */
    void discardRest(long more, Runnable then) {
        boolean now;
        synchronized (this) {
            queue.clear();
            queued = 0;
            now = ended || failure != null;
            if (!now) {
                afterDiscard = then;
                discardLimit = count + more;
            }
        }
        if (now) {
            then.run();
        } else {
            request.resume();
        }
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) {
            return 0;
        }
        synchronized (this) {
            while (current == null || position == current.length) {
                Buffer next = queue.poll();
                if (next != null) {
                    current = next.getBytes();
                    position = 0;
                    queued -= current.length;
                    if (paused && queued < LOW) {
                        paused = false;
                        context.runOnContext(v -> request.resume());
                    }
                    continue;
                }
                if (failure != null) {
                    throw new IOException("the upload broke off", failure); // the cause's (Netty's) text is not for the answer
                }
                if (ended) {
                    if (need != 0) {
                        throw new IOException("the file is not valid UTF-8 (it ends inside a character)");
                    }
                    return -1;
                }
                long before = System.nanoTime();
                try {
                    wait(idleMillis);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted", e);
                }
                if (queue.isEmpty() && !ended && failure == null && System.nanoTime() - before >= idleMillis * 1_000_000L) {
                    throw new IOException("the upload stalled: no data for " + idleMillis + " ms");
                }
            }
            int n = Math.min(len, current.length - position);
            checkUtf8(current, position, n);
            System.arraycopy(current, position, b, off, n);
            position += n;
            count += n;
            return n;
        }
    }

    private void checkUtf8(byte[] bytes, int from, int n) throws IOException {
        for (int i = from; i < from + n; i++) {
            int x = bytes[i] & 0xff;
            if (need > 0) {
                if (x < lower || x > upper) {
                    throw notUtf8(count + i - from);
                }
                lower = 0x80;
                upper = 0xBF;
                need--;
            } else if (x == 0) {
                throw new IOException("the file holds a NUL byte at offset " + (count + i - from) + ": it is not UTF-8 JSON");
            } else if (x >= 0x80) {
                // Well-formed UTF-8 (Unicode 3.9, table 3-7): no overlongs, no surrogates, nothing past U+10FFFF.
                if (x >= 0xC2 && x <= 0xDF) {
                    need = 1;
                } else if (x >= 0xE0 && x <= 0xEF) {
                    need = 2;
                    lower = x == 0xE0 ? 0xA0 : 0x80;
                    upper = x == 0xED ? 0x9F : 0xBF;
                } else if (x >= 0xF0 && x <= 0xF4) {
                    need = 3;
                    lower = x == 0xF0 ? 0x90 : 0x80;
                    upper = x == 0xF4 ? 0x8F : 0xBF;
                } else {
                    throw notUtf8(count + i - from);
                }
            }
        }
    }

    private static IOException notUtf8(long offset) {
        return new IOException("the file is not valid UTF-8 (bad byte at offset " + offset + ")");
    }
}
