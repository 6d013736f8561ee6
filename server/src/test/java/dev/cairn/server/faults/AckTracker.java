package dev.cairn.server.faults;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.codec.ChangeJson;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.PageCodec;
import dev.cairn.engine.sync.JdkWebSocketTransport;
import dev.cairn.engine.sync.Transport;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A {@link Transport} decorator that records what the server acknowledged: it remembers the
 * changes of every {@code push} a connection sends and, when an {@code ack} for that batch
 * arrives on the same connection, adds them to {@link #acknowledged()}. That is the protocol's
 * definition of acknowledged (PROTOCOL.md 3.3), seen from the wire, independent of the client;
 * in protocol 1 (JSON text) and protocol 2 (binary pages) alike.
 */
final class AckTracker implements Transport {

    /** The tap reads every page the client or the server sends, whatever their limits. */
    private static final long MAX_PAGE_BYTES = 256L << 20;

    private final Transport delegate = new JdkWebSocketTransport();
    private final Set<String> acknowledged = ConcurrentHashMap.newKeySet();
    /** Every acknowledged change, by identity (for checks that need the stamp and value). */
    private final Map<String, Change> acknowledgedChanges = new ConcurrentHashMap<>();
    private final Set<String> pushedOnce = ConcurrentHashMap.newKeySet();
    private final java.util.concurrent.atomic.AtomicLong resent = new java.util.concurrent.atomic.AtomicLong();

    /** Identities ({@link ChangeId}) of every change the server acknowledged. */
    Set<String> acknowledged() {
        return acknowledged;
    }

    /** Changes pushed again after an earlier push of them (not acknowledged before a kill or a cut). */
    long resent() {
        return resent.get();
    }

    Map<String, Change> acknowledgedChanges() {
        return acknowledgedChanges;
    }

    @Override
    public CompletableFuture<Connection> connect(URI uri, String bearerToken, Listener listener) {
        Map<Long, List<Change>> pushed = new ConcurrentHashMap<>();
        Listener tap = new Listener() {
            @Override
            public void onText(String frame) {
                JsonNode node = parse(frame);
                if ("ack".equals(node.path("type").asText())) {
                    acked(pushed.remove(node.path("batch").asLong()));
                }
                listener.onText(frame);
            }

            @Override
            public void onBinary(byte[] page) {
                // protocol 2: the same ack, as a page (PROTOCOL.md 7)
                if (PageCodec.decode(page, MAX_PAGE_BYTES) instanceof Frame.Ack ack) {
                    acked(pushed.remove(ack.batch()));
                }
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
        };
        return delegate.connect(uri, bearerToken, tap).thenApply(connection -> new Connection() {
            @Override
            public CompletableFuture<Void> send(String text) {
                JsonNode node = parse(text);
                if ("push".equals(node.path("type").asText())) {
                    List<Change> changes = new ArrayList<>();
                    for (JsonNode c : node.path("changes")) {
                        Change change = ChangeJson.decode(c.toString());
                        changes.add(change);
                        if (!pushedOnce.add(ChangeId.of(change))) {
                            resent.incrementAndGet();
                        }
                    }
                    pushed.put(node.path("batch").asLong(), changes);   // before sending: the ack cannot overtake it
                }
                return connection.send(text);
            }

            @Override
            public boolean binary() {
                return connection.binary();
            }

            @Override
            public CompletableFuture<Void> send(byte[] page) {
                if (PageCodec.decode(page, MAX_PAGE_BYTES) instanceof Frame.Push push) {
                    for (Change change : push.changes()) {
                        if (!pushedOnce.add(ChangeId.of(change))) {
                            resent.incrementAndGet();
                        }
                    }
                    pushed.put(push.batch(), push.changes());   // before sending: the ack cannot overtake it
                }
                return connection.send(page);
            }

            @Override
            public void close() {
                connection.close();
            }
        });
    }

    /** The changes of an acknowledged push (null: not a push of this connection). */
    private void acked(List<Change> changes) {
        if (changes != null) {
            for (Change c : changes) {
                String id = ChangeId.of(c);
                acknowledged.add(id);
                acknowledgedChanges.put(id, c);
            }
        }
    }

    private static JsonNode parse(String frame) {
        try {
            return Json.MAPPER.readTree(frame);
        } catch (IOException e) {
            throw new UncheckedIOException("not a JSON frame: " + frame, e);
        }
    }
}
