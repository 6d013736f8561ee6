package dev.cairn.engine.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.Cairn;
import dev.cairn.engine.ChangeEvent;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.section.StandardSections;
import dev.cairn.engine.sync.SyncClient;
import dev.cairn.engine.sync.Transport;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The real {@link SyncClient} (its own threads and timers) against the same server model, over an
 * in-memory {@link Transport} whose dispatcher thread delivers one frame at a time and, chosen by
 * the seed, resets connections (dropping every frame in flight both ways, acks after commit
 * included). Not step-deterministic like {@link SimulatorTest} (the client's threads interleave
 * freely), but it runs the shipped client code rather than the simulator's mirror of it. Checks:
 * after the faults stop and every client's syncNow completes, every device and the server have
 * the same canonical state and every local write is present or superseded.
 */
class SyncClientSimTest {

    @Test
    void realClientsConvergeThroughResets() throws Exception {
        boolean longRun = SimulatorTest.longMode();
        Long replay = SimulatorTest.replaySeed();
        long firstSeed = replay != null ? replay : 1;
        int seeds = replay != null ? 1 : longRun ? 50 : 5;
        int devices = longRun ? 5 : 3;
        int ops = longRun ? 5_000 : 1_000;
        System.out.println("SyncClientSimTest seed=" + firstSeed + ".." + (firstSeed + seeds - 1) + " (replay: CAIRN_SEED=<n>) "
                + devices + " devices x " + ops + " ops");
        long resets = 0;
        for (long seed = firstSeed; seed < firstSeed + seeds; seed++) {
            resets += runSeed(seed, devices, ops);
        }
        System.out.println("SyncClientSimTest: " + seeds + " seeds, " + resets + " connection resets, lost=0, converged");
    }

    /** The server side of the in-memory transport: one lock around the model, one dispatcher thread. */
    private static final class Net {
        final Object lock = new Object();
        final Random rng;
        final ServerModel server;
        final List<Link> links = new ArrayList<>();
        volatile boolean faults = true;
        volatile boolean stop;
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        long resets;
        int nextId = 1;

        Net(long seed) {
            rng = new Random(seed);
            server = new ServerModel(16, 20, 60_000, System::currentTimeMillis, KeySpace::kind, new SimStats(), new Trace(10), rng);
        }
    }

    /** One connection: the simulator's queues plus the client's listener. */
    private static final class Link implements Transport.Connection {
        final Net net;
        final Connection conn;
        final Transport.Listener listener;
        volatile boolean closed;

        Link(Net net, Connection conn, Transport.Listener listener) {
            this.net = net;
            this.conn = conn;
            this.listener = listener;
        }

        @Override
        public CompletableFuture<Void> send(String text) {
            synchronized (net.lock) {
                conn.toServer(text);
            }
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public void close() {
            synchronized (net.lock) {
                kill();
            }
        }

        void kill() {
            closed = true;
            conn.clientAlive = false;
            conn.serverAlive = false;
            conn.toClientOpen = false;
            conn.toServer.clear();
            conn.toClient.clear();
            net.server.close(conn.serverSession);
            net.links.remove(this);
        }
    }

    private long runSeed(long seed, int deviceCount, int ops) throws Exception {
        Net net = new Net(seed);
        Transport transport = (uri, token, listener) -> {
            synchronized (net.lock) {
                Connection c = new Connection(net.nextId++, null);
                c.serverSession = net.server.open(c);
                Link link = new Link(net, c, listener);
                net.links.add(link);
                return CompletableFuture.completedFuture(link);
            }
        };
        Thread dispatcher = new Thread(() -> dispatch(net), "sim-dispatcher");
        dispatcher.setDaemon(true);
        dispatcher.start();
        List<Cairn> engines = new ArrayList<>();
        List<SyncClient> clients = new ArrayList<>();
        List<Change> written = Collections.synchronizedList(new ArrayList<>());
        Random ops2 = new Random(seed * 31 + 7);
        try {
            for (int i = 0; i < deviceCount; i++) {
                Cairn c = Cairn.builder().inMemory().replicaId("real-" + i).open();
                c.onChange(e -> {
                    if (e.origin() == ChangeEvent.Origin.LOCAL) {
                        written.add(e.change());
                    }
                });
                engines.add(c);
                SyncClient client = SyncClient.builder(c, URI.create("ws://sim/sync"), () -> "token").transport(transport)
                        .backoff(Duration.ofMillis(1), Duration.ofMillis(40)).random(new Random(seed + i))
                        .keepAlive(Duration.ofSeconds(60)).build();
                clients.add(client);
                client.start();
            }
            for (int n = 0; n < ops; n++) {
                Cairn c = engines.get(ops2.nextInt(deviceCount));
                int r = ops2.nextInt(10);
                String section = KeySpace.MAP_SECTIONS.get(ops2.nextInt(KeySpace.MAP_SECTIONS.size()));
                String key = "k" + ops2.nextInt(KeySpace.KEYS_PER_SECTION);
                if (r < 6) {
                    c.map(section).put(key, "v" + n);
                } else if (r < 7) {
                    c.map(section).remove(key);
                } else if (r < 9) {
                    c.chat().append("conv-1", "user", "m" + n);
                } else {
                    c.chat().clear("conv-1");
                }
                if (n % 10 == 0) {
                    Thread.sleep(1);
                }
                if (net.failure.get() != null) {
                    throw new AssertionError("seed " + seed + ": the server model failed", net.failure.get());
                }
            }
            net.faults = false;
            for (int round = 0; round < 2; round++) {
                for (SyncClient client : clients) {
                    client.syncNow().get(30, TimeUnit.SECONDS);
                }
            }
            String expected;
            synchronized (net.lock) {
                expected = net.server.canonicalFromStore();
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            for (Cairn c : engines) {
                while (!c.canonicalState().equals(expected) && System.nanoTime() < deadline) {
                    Thread.sleep(5);
                }
                assertEquals(expected, c.canonicalState(), "seed " + seed + ": " + c.replicaId() + " did not converge (replay: CAIRN_SEED=" + seed + ")");
                assertEquals(0, c.pendingChanges(), "seed " + seed + ": " + c.replicaId() + " still has unacknowledged changes");
            }
            var state = net.server.foldAccepted();
            for (Change ch : written) {
                if (ch instanceof Change.Put put) {
                    var e = state.map(put.section()).entry(put.key());
                    assertTrue(e != null && e.stamp().compareTo(put.stamp()) >= 0, "seed " + seed + ": lost " + put);
                } else if (ch instanceof Change.Append a) {
                    var mark = state.log(StandardSections.CHAT).watermark(a.stream());
                    boolean ok = (mark != null && mark.compareTo(a.stamp()) >= 0)
                            || state.log(StandardSections.CHAT).entries(a.stream()).stream().anyMatch(x -> x.stamp().equals(a.stamp()));
                    assertTrue(ok, "seed " + seed + ": lost " + a);
                }
            }
            if (net.failure.get() != null) {
                throw new AssertionError("seed " + seed + ": the server model failed", net.failure.get());
            }
            return net.resets;
        } finally {
            net.stop = true;
            for (SyncClient client : clients) {
                client.close();
            }
            for (Cairn c : engines) {
                c.close();
            }
            dispatcher.join(5_000);
        }
    }

    /** Delivers frames one at a time, steps the server's catch-up, and resets connections while faults are on. */
    private static void dispatch(Net net) {
        try {
            while (!net.stop) {
                Link target = null;
                String toClient = null;
                synchronized (net.lock) {
                    if (!net.links.isEmpty()) {
                        Link link = net.links.get(net.rng.nextInt(net.links.size()));
                        Connection c = link.conn;
                        if (net.faults && net.rng.nextInt(25) == 0 && (!c.toServer.isEmpty() || !c.toClient.isEmpty())) {
                            net.resets++;
                            link.kill();
                            target = link; // told outside the lock
                        } else if (!c.toServer.isEmpty() && (c.toClient.isEmpty() || net.rng.nextBoolean())) {
                            net.server.receive(c.serverSession, c.toServer.pollFirst());
                        } else if (!c.toClient.isEmpty()) {
                            toClient = c.toClient.pollFirst();
                            target = link;
                        } else if (c.serverSession.needsPump()) {
                            net.server.pumpOne(c.serverSession);
                        }
                    }
                }
                if (target != null && toClient == null) {
                    target.listener.onClosed(1006, "connection reset by the simulator");
                } else if (target != null) {
                    target.listener.onText(toClient);
                } else {
                    Thread.onSpinWait();
                    Thread.sleep(0, 50_000);
                }
            }
        } catch (Throwable e) {
            net.failure.compareAndSet(null, e);
        }
    }
}
