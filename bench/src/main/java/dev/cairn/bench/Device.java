package dev.cairn.bench;

import dev.cairn.engine.Cairn;
import dev.cairn.engine.sync.JdkWebSocketTransport;
import dev.cairn.engine.sync.SyncClient;
import dev.cairn.engine.sync.SyncStatus;
import dev.cairn.engine.sync.Transport;
import java.net.URI;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A real client device: an engine {@link Cairn} (durable in a temp dir, or in memory) and a
 * {@link SyncClient} on the engine's own JDK WebSocket transport, wrapped only to count the
 * payload bytes of the text frames it receives and sends (UTF-8; WebSocket framing and the HTTP
 * upgrade are not counted).
 */
final class Device implements AutoCloseable {

    final Cairn cairn;
    final SyncClient sync;
    final Path dir;
    private final AtomicLong bytesIn;
    private final AtomicLong bytesOut;

    private Device(Cairn cairn, SyncClient sync, Path dir, AtomicLong bytesIn, AtomicLong bytesOut) {
        this.cairn = cairn;
        this.sync = sync;
        this.dir = dir;
        this.bytesIn = bytesIn;
        this.bytesOut = bytesOut;
    }

    /** The highest protocol version devices offer (the {@code --protocol} option). */
    static volatile int maxProtocol = 2;

    /** A device that is not started yet ({@link #start}); {@code dir == null} means the memory store. */
    static Device open(String replica, Path dir, URI uri, String user) {
        Cairn.Builder b = Cairn.builder().replicaId(replica);
        Cairn cairn = dir == null ? b.inMemory().open() : b.dataDir(dir).open();
        String token = Tokens.mint(user);
        AtomicLong in = new AtomicLong();
        AtomicLong out = new AtomicLong();
        Transport counting = counting(new JdkWebSocketTransport(), in, out);
        SyncClient sync = SyncClient.builder(cairn, uri, () -> token).transport(counting).maxProtocol(maxProtocol).build();
        return new Device(cairn, sync, dir, in, out);
    }

    /** Payload bytes of the messages (text frames, and binary pages in protocol v2) received so far. */
    long received() {
        return bytesIn.get();
    }

    /** Payload bytes of the messages sent so far. */
    long sent() {
        return bytesOut.get();
    }

    Device start() {
        sync.start();
        return this;
    }

    /** Waits until the sync client is live (connected and caught up). */
    Device awaitLive(long timeoutMillis) throws Exception {
        CompletableFuture<Void> live = new CompletableFuture<>();
        var sub = sync.onStatus((SyncStatus s) -> {
            if (s.isLive()) {
                live.complete(null);
            }
        });
        try {
            live.get(timeoutMillis, TimeUnit.MILLISECONDS);
        } finally {
            sub.close();
        }
        return this;
    }

    static Transport counting(Transport inner, AtomicLong in, AtomicLong out) {
        return (uri, token, listener) -> inner.connect(uri, token, new Transport.Listener() {
            @Override
            public void onText(String frame) {
                in.addAndGet(utf8Length(frame));
                listener.onText(frame);
            }

            @Override
            public void onBinary(byte[] page) {
                in.addAndGet(page.length); // a protocol v2 page
                listener.onBinary(page);
            }

            @Override
            public void onProgress() {
                listener.onProgress();
            }

            @Override
            public void onClosed(int code, String reason) {
                listener.onClosed(code, reason);
            }

            @Override
            public void onError(Throwable error) {
                listener.onError(error);
            }
        }).thenApply(conn -> new Transport.Connection() {
            @Override
            public CompletableFuture<Void> send(String text) {
                out.addAndGet(utf8Length(text));
                return conn.send(text);
            }

            @Override
            public boolean binary() {
                return conn.binary();
            }

            @Override
            public CompletableFuture<Void> send(byte[] page) {
                out.addAndGet(page.length);
                return conn.send(page);
            }

            @Override
            public void close() {
                conn.close();
            }
        });
    }

    static long utf8Length(CharSequence s) {
        long n = 0;
        for (int i = 0, len = s.length(); i < len; i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                n++;
            } else if (c < 0x800) {
                n += 2;
            } else if (Character.isHighSurrogate(c)) {
                n += 4;
                i++;
            } else {
                n += 3;
            }
        }
        return n;
    }

    @Override
    public void close() {
        try {
            sync.close();
        } finally {
            cairn.close();
            if (dir != null) {
                Dirs.deleteTree(dir);
            }
        }
    }
}
