package dev.cairn.engine.sync;

import static dev.cairn.engine.sync.SyncTestSupport.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.Cairn;
import dev.cairn.engine.crdt.Change;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link JdkWebSocketTransport} against a real (minimal) WebSocket server on a loopback socket. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class JdkWebSocketTransportTest {

    private final List<AutoCloseable> closeables = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    /** Records what the transport hands over. */
    private static final class Recorder implements Transport.Listener {
        final BlockingQueue<String> texts = new LinkedBlockingQueue<>();
        final CompletableFuture<String> closed = new CompletableFuture<>();
        final CompletableFuture<Throwable> failed = new CompletableFuture<>();

        @Override
        public void onText(String frame) {
            texts.add(frame);
        }

        @Override
        public void onClosed(int code, String reason) {
            closed.complete(code + " " + reason);
        }

        @Override
        public void onError(Throwable error) {
            failed.complete(error);
        }

        String next() throws InterruptedException {
            String t = texts.poll(10, TimeUnit.SECONDS);
            assertNotNull(t, "no message within 10 s");
            return t;
        }
    }

    @Test
    void sendsTheTokenAssemblesFragmentsAndSerializesSends() throws Exception {
        MiniWebSocketServer server = server();
        Recorder recorder = new Recorder();
        JdkWebSocketTransport transport = new JdkWebSocketTransport(Duration.ofSeconds(5));
        Transport.Connection connection = transport.connect(server.uri(), "t0k", recorder).get(10, TimeUnit.SECONDS);
        closeables.add(connection::close);
        assertEquals(List.of("Bearer t0k"), server.authorizations);
        await("server sees the peer", () -> !server.peers().isEmpty());
        MiniWebSocketServer.Peer peer = server.peers().get(0);

        peer.sendFragmented("{\"type\":\"caught-up\",\"cursor\":12345}", 5);
        assertEquals("{\"type\":\"caught-up\",\"cursor\":12345}", recorder.next(), "fragments arrive as one message");
        String big = "{\"pad\":\"" + "x".repeat(300_000) + "\"}";
        peer.sendText(big);
        assertEquals(big, recorder.next(), "a large frame arrives whole");

        // Many threads sending at once: the JDK allows one outstanding sendText, the transport chains them.
        int threads = 8;
        int each = 50;
        List<CompletableFuture<Void>> all = new java.util.concurrent.CopyOnWriteArrayList<>();
        List<Thread> senders = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int id = t;
            Thread thread = new Thread(() -> {
                for (int i = 0; i < each; i++) {
                    all.add(connection.send("m-" + id + "-" + i));
                }
            });
            senders.add(thread);
            thread.start();
        }
        for (Thread thread : senders) {
            thread.join();
        }
        CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
        Set<String> got = new HashSet<>();
        while (got.size() < threads * each) {
            String m = server.received.poll(10, TimeUnit.SECONDS);
            assertNotNull(m, "missing messages: got " + got.size());
            got.add(m);
        }
        assertEquals(threads * each, got.size());

        peer.sendClose(1001, "going away");
        assertEquals("1001 going away", recorder.closed.get(10, TimeUnit.SECONDS));
    }

    @Test
    void aRefusedUpgradeFailsWithTheHttpStatus() throws Exception {
        MiniWebSocketServer server = server();
        server.refuseWith = 401;
        JdkWebSocketTransport transport = new JdkWebSocketTransport(Duration.ofSeconds(5));
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> transport.connect(server.uri(), "expired", new Recorder()).get(10, TimeUnit.SECONDS));
        SyncConnectException refused = assertInstanceOf(SyncConnectException.class, e.getCause());
        assertEquals(401, refused.httpStatus());
        assertTrue(refused.getMessage().contains("HTTP 401") && refused.getMessage().contains("token"), refused.getMessage());
        assertEquals(List.of("Bearer expired"), server.authorizations);
    }

    @Test
    void anUnreachableServerFailsClearly() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        URI uri = URI.create("ws://127.0.0.1:" + port + "/sync");
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> new JdkWebSocketTransport(Duration.ofSeconds(5)).connect(uri, "t", new Recorder()).get(10, TimeUnit.SECONDS));
        SyncConnectException failed = assertInstanceOf(SyncConnectException.class, e.getCause());
        assertEquals(0, failed.httpStatus());
        assertTrue(failed.getMessage().startsWith("could not connect to " + uri), failed.getMessage());
    }

    @Test
    void syncClientOverRealWebSocketsWithTheDefaultTransport() throws Exception {
        // The mini server bridges each WebSocket to the in-JVM protocol server.
        FakeServer protocol = new FakeServer();
        closeables.add(protocol);
        MiniWebSocketServer server = server();
        server.bridgeTo(protocol);
        protocol.commit("alice", List.of(new Change.Put("state", "from-server", "42",
                new dev.cairn.engine.clock.Stamp(dev.cairn.engine.clock.Stamp.pack(System.currentTimeMillis(), 0), "web-1"))));

        Cairn cairn = Cairn.builder().inMemory().replicaId("phone-1").open();
        closeables.add(cairn);
        SyncClient sync = SyncClient.builder(cairn, server.uri(), () -> "alice").backoff(Duration.ofMillis(5), Duration.ofMillis(50)).build();
        closeables.add(sync);
        cairn.map("state").put("from-phone", true);
        sync.start();
        sync.syncNow().get(10, TimeUnit.SECONDS);

        assertEquals(42, cairn.map("state").get("from-server", Integer.class));
        assertTrue(protocol.committed("alice").values().stream().anyMatch(c -> c.target().equals("from-phone")));
        // (the echo of our own change may still be on its way: the ack does not carry the head)
        await("cursor reaches the head", () -> cairn.cursor() == protocol.head("alice"));
        assertEquals(List.of("Bearer alice"), server.authorizations);

        // the server drops the socket: the client reconnects over a new WebSocket
        server.peers().get(0).kill();
        await("reconnected", () -> server.authorizations.size() == 2 && sync.status().isLive());
        cairn.map("state").put("after-reconnect", 1);
        sync.syncNow().get(10, TimeUnit.SECONDS);
        assertTrue(protocol.committed("alice").values().stream().anyMatch(c -> c.target().equals("after-reconnect")));
    }

    private MiniWebSocketServer server() throws Exception {
        MiniWebSocketServer server = new MiniWebSocketServer();
        closeables.add(server);
        return server;
    }
}
