package dev.cairn.engine.sync;

import static dev.cairn.engine.sync.SyncTestSupport.await;
import static dev.cairn.engine.sync.SyncTestSupport.holds;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.cairn.engine.Cairn;
import java.net.URI;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A sync client's lifecycle: the engine closes its clients, a closed client leaves no thread
 * behind (50 open/sync/close cycles over real WebSockets), the app's HttpClient or executor.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SyncClientLifecycleTest {

    private static final URI SYNC_URI = URI.create("ws://fake.test/sync");
    private static final String USER = "alice";

    private final FakeServer server = new FakeServer();
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
        server.close();
    }

    @Test
    void closingTheEngineStopsItsSyncClientWithAFinalStatus() throws Exception {
        Cairn cairn = Cairn.builder().inMemory().replicaId("phone-1").open();
        closeables.add(cairn);
        SyncClient sync = SyncClient.builder(cairn, SYNC_URI, () -> USER).transport(server)
                .backoff(Duration.ofMillis(1), Duration.ofMillis(5)).build();
        closeables.add(sync);
        List<SyncStatus> seen = new CopyOnWriteArrayList<>();
        sync.onStatus(seen::add);
        sync.start();
        sync.syncNow().get(10, TimeUnit.SECONDS);

        server.holdAcks = true; // a syncNow that cannot complete before the engine closes
        cairn.map("state").put("k", 1);
        CompletableFuture<Void> waiting = sync.syncNow();
        await("the push to reach the server", () -> server.committed(USER).size() == 1);
        int attempts = server.connectAttempts();

        cairn.close();

        ExecutionException e = assertThrows(ExecutionException.class, () -> waiting.get(10, TimeUnit.SECONDS));
        SyncException failed = assertInstanceOf(SyncException.class, e.getCause());
        assertEquals("engine-closed", failed.code());
        SyncStatus last = sync.status();
        assertEquals(SyncState.OFFLINE, last.state());
        assertEquals("engine-closed", last.lastErrorCode());
        assertEquals(last, seen.get(seen.size() - 1), "listeners saw the final status");
        assertThrows(IllegalStateException.class, sync::start);
        SyncException later = assertThrows(ExecutionException.class, () -> sync.syncNow().get(1, TimeUnit.SECONDS)).getCause() instanceof SyncException s
                ? s : fail("syncNow after close fails with a SyncException");
        assertTrue(later.getMessage().contains("closed"), later.getMessage());
        holds("no reconnect to a closed engine", 300, () -> server.connectAttempts() == attempts);
    }

    @Test
    void aClientForAClosedEngineIsRefused() {
        Cairn cairn = Cairn.builder().inMemory().replicaId("phone-1").open();
        cairn.close();
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> SyncClient.builder(cairn, SYNC_URI, () -> USER).transport(server).build());
        assertEquals("engine is closed", e.getMessage());
    }

    @Test
    void httpClientAndExecutorApplyToTheDefaultTransportOnly() throws Exception {
        Cairn cairn = Cairn.builder().inMemory().replicaId("phone-1").open();
        closeables.add(cairn);
        HttpClient http = HttpClient.newHttpClient();
        ExecutorService pool = Executors.newSingleThreadExecutor();
        closeables.add(pool::shutdownNow);
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> SyncClient.builder(cairn, SYNC_URI, () -> USER).httpClient(http).executor(pool));
        assertTrue(e.getMessage().startsWith("executor applies to the client the default transport builds"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> SyncClient.builder(cairn, SYNC_URI, () -> USER).transport(server).httpClient(http));
        assertThrows(IllegalStateException.class, () -> SyncClient.builder(cairn, SYNC_URI, () -> USER).executor(pool).transport(server));
        assertThrows(IllegalStateException.class, () -> SyncClient.builder(cairn, SYNC_URI, () -> USER).httpClient(http).sslContext(SSLContext.getDefault()));
        assertThrows(IllegalStateException.class, () -> SyncClient.builder(cairn, SYNC_URI, () -> USER).httpClient(http).httpClient(http));
        assertThrows(NullPointerException.class, () -> SyncClient.builder(cairn, SYNC_URI, () -> USER).executor(null));
    }

    @Test
    void theAppsExecutorCarriesTheSocketAndOutlivesTheClient() throws Exception {
        MiniWebSocketServer ws = new MiniWebSocketServer().bridgeTo(server);
        closeables.add(ws);
        Cairn cairn = Cairn.builder().inMemory().replicaId("phone-1").open();
        closeables.add(cairn);
        ExecutorService pool = Executors.newCachedThreadPool(r -> new Thread(r, "app-http"));
        closeables.add(pool::shutdownNow);
        try (SyncClient sync = SyncClient.builder(cairn, ws.uri(), () -> USER).executor(pool).build()) {
            cairn.map("state").put("k", 1);
            sync.syncNow().get(10, TimeUnit.SECONDS);
            assertTrue(liveThreadNames().contains("app-http"), "the HttpClient ran on the app's executor");
        }
        assertFalse(pool.isShutdown(), "the app's executor is the app's to stop");
        assertEquals(1, server.committed(USER).size());
    }

    @Test
    void fiftyOpenSyncCloseCyclesLeaveNoThreadsBehind() throws Exception {
        MiniWebSocketServer ws = new MiniWebSocketServer().bridgeTo(server);
        closeables.add(ws);
        Cairn cairn = Cairn.builder().inMemory().replicaId("phone-1").open();
        closeables.add(cairn);
        List<SyncClient> kept = new ArrayList<>(); // a closed client still referenced by the app holds no thread
        cairn.map("state").put("before", 1);
        cairn.save().join(); // the engine's own persistence thread starts with its first save
        int baseline = liveThreadNames().size();
        for (int i = 0; i < 50; i++) {
            kept.add(cycle(cairn, ws, "k" + i));
        }
        assertEquals(50, server.committed(USER).keySet().size() - 1);
        int after = settle(baseline, 30_000);
        assertTrue(after <= baseline, "live threads after 50 open/sync/close cycles: " + after + ", baseline " + baseline
                + "; live: " + byName(liveThreadNames()));
        assertEquals(50, kept.size());
    }

    /** Opens a client over real WebSockets, syncs one write, closes it. */
    private static SyncClient cycle(Cairn cairn, MiniWebSocketServer ws, String key) throws Exception {
        SyncClient sync = SyncClient.builder(cairn, ws.uri(), () -> USER).backoff(Duration.ofMillis(5), Duration.ofMillis(50)).build();
        sync.start();
        cairn.map("state").put(key, 1);
        sync.syncNow().get(10, TimeUnit.SECONDS);
        sync.close();
        return sync;
    }

    /**
     * Waits (collecting garbage: an unreferenced HttpClient's selector thread ends on its own) until
     * at most {@code target} threads are alive or {@code millis} passed; returns the last count.
     */
    private static int settle(int target, long millis) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        int live;
        do {
            System.gc();
            SyncTestSupport.pause(200);
            live = liveThreadNames().size();
        } while (live > target && System.nanoTime() < deadline);
        return live;
    }

    /**
     * Live threads, without the JDK's JVM-wide ones that a first use starts and that stay, shared
     * by everyone (CompletableFuture's delay scheduler, the common pool's workers, bounded).
     */
    private static List<String> liveThreadNames() {
        Set<Thread> threads = Thread.getAllStackTraces().keySet();
        return threads.stream().filter(Thread::isAlive).map(Thread::getName)
                .filter(n -> !n.equals("CompletableFutureDelayScheduler") && !n.startsWith("ForkJoinPool.commonPool-worker-"))
                .sorted().collect(Collectors.toList());
    }

    private static TreeMap<String, Long> byName(List<String> names) {
        return names.stream().collect(Collectors.groupingBy(n -> n.replaceAll("\\d+", "#"), TreeMap::new, Collectors.counting()));
    }
}
