package dev.cairn.server.faults;

import dev.cairn.engine.Cairn;
import dev.cairn.engine.ChangeEvent;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.codec.CanonicalJson;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.engine.sync.SyncClient;
import dev.cairn.server.TestServer;
import dev.cairn.server.section.SectionRegistry;
import dev.cairn.server.store.ServerStore;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * What the server fault tests ({@link ServerKillIT}, {@link PostgresOutageIT}) share: seed and
 * long-mode settings, devices that write and record what they wrote and what the server
 * acknowledged, and the checks (0 acknowledged lost, converged).
 */
final class FaultRun {

    private FaultRun() {
    }

    // ------------------------------------------------------------------ conventions

    /** The seed from {@code CAIRN_SEED} / {@code -Dcairn.seed}, else a fresh one; printed by the caller. */
    static long seed() {
        String s = System.getProperty("cairn.seed", System.getenv("CAIRN_SEED"));
        return s == null || s.isBlank() ? System.nanoTime() : Long.parseLong(s.trim());
    }

    /** {@code CAIRN_LONG=1} or {@code -Dcairn.long=true}. */
    static boolean longRun() {
        return "1".equals(System.getenv("CAIRN_LONG")) || "true".equalsIgnoreCase(System.getenv("CAIRN_LONG"))
                || Boolean.getBoolean("cairn.long");
    }

    static void log(String line) {
        System.out.println(line);
        System.out.flush();
    }

    static void until(String what, Duration deadline, BooleanSupplier condition, Supplier<String> seen) {
        long end = System.nanoTime() + deadline.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out after " + deadline.toMillis() + " ms waiting for " + what + "; seen: " + seen.get());
            }
            LockSupport.parkNanos(20_000_000);
        }
    }

    // ------------------------------------------------------------------ devices

    /**
     * One device: a real engine with its durable journal in {@code dir} and a real sync client
     * whose transport records acks ({@link AckTracker}). {@link #written} holds the identity of
     * every local change (from the engine's change events).
     */
    static final class Device implements AutoCloseable {
        final String name;
        final Cairn cairn;
        final SyncClient sync;
        final AckTracker acks = new AckTracker();
        final Set<String> written = ConcurrentHashMap.newKeySet();
        final Map<String, Change> writtenChanges = new ConcurrentHashMap<>();

        Device(String name, Path dir, URI uri, String token) {
            this.name = name;
            this.cairn = Cairn.builder().dataDir(dir).replicaId(name).open();
            cairn.onChange(e -> {
                if (e.origin() == ChangeEvent.Origin.LOCAL) {
                    String id = ChangeId.of(e.change());
                    written.add(id);
                    writtenChanges.put(id, e.change());
                }
            });
            // Small batches: more commits per second, so more points to kill at (a kill between COMMIT and ack needs commits).
            this.sync = SyncClient.builder(cairn, uri, () -> token).transport(acks).batchSize(25)
                    .backoff(Duration.ofMillis(20), Duration.ofMillis(300)).build();
        }

        String describe() {
            var s = sync.status();
            return name + "{state=" + s.state() + ", cursor=" + s.cursor() + ", pending=" + s.pendingChanges()
                    + ", written=" + written.size() + ", acked=" + acks.acknowledged().size() + ", lastError=" + s.lastError() + "}";
        }

        @Override
        public void close() {
            try {
                sync.close();
            } finally {
                cairn.close();
            }
        }
    }

    /**
     * A writer thread per device: change {@code n} of a device is written once {@code n < quota};
     * a tenth are chat appends, a tenth overwrite one of 20 keys every device writes (conflicts),
     * the rest set a key of their own. Paced at about one change per {@code pauseMicros}.
     */
    static final class Writers {
        final AtomicInteger quota = new AtomicInteger();
        final AtomicInteger done = new AtomicInteger();
        final AtomicReference<Throwable> failed = new AtomicReference<>();
        private final List<Thread> threads = new ArrayList<>();

        Writers(List<Device> devices, int perDevice, long pauseMicros) {
            for (Device d : devices) {
                Thread t = new Thread(() -> {
                    try {
                        for (int n = 0; n < perDevice; n++) {
                            while (n >= quota.get()) {
                                LockSupport.parkNanos(2_000_000);
                            }
                            if (n % 10 == 3) {
                                d.cairn.chat().append("conv", "user", d.name + "-m-" + n);
                            } else if (n % 10 == 7) {
                                d.cairn.map("state").put("shared-" + (n / 10) % 20, d.name + "-" + n);
                            } else {
                                d.cairn.map("state").put(d.name + "-k-" + n, n);
                            }
                            done.incrementAndGet();
                            LockSupport.parkNanos(pauseMicros * 1000);
                        }
                    } catch (Throwable e) {
                        failed.set(e);
                    }
                }, "writer-" + d.name);
                t.setDaemon(true);
                threads.add(t);
            }
        }

        void start() {
            threads.forEach(Thread::start);
        }

        void join(Duration deadline) throws InterruptedException {
            long end = System.nanoTime() + deadline.toNanos();
            for (Thread t : threads) {
                t.join(Math.max(1, (end - System.nanoTime()) / 1_000_000));
                if (t.isAlive()) {
                    throw new AssertionError(t.getName() + " did not finish within " + deadline);
                }
            }
            if (failed.get() != null) {
                throw new AssertionError("a writer failed", failed.get());
            }
        }
    }

    // ------------------------------------------------------------------ the server's view and the checks

    /** A user's state as the server's store holds it: every change readSince returns, and its canonical form. */
    record ServerView(List<ServerStore.Sequenced> changes, String canonical, long head) {

        static ServerView read(ServerStore store, String user) {
            ReplicaState state = new ReplicaState(new SectionRegistry(Map.of()));
            List<ServerStore.Sequenced> all = new ArrayList<>();
            long cursor = 0;
            while (true) {
                ServerStore.Page page = TestServer.await(store.readSince(user, cursor, 1000));
                page.changes().forEach(s -> state.apply(s.change()));
                all.addAll(page.changes());
                cursor = page.cursor();
                if (!page.more()) {
                    break;
                }
            }
            return new ServerView(all, CanonicalJson.encode(state), TestServer.await(store.head(user)));
        }

        /** The changes of {@code wanted} the server does not hold: a put whose key holds an older stamp, a missing append. */
        List<String> missing(Map<String, Change> wanted) {
            Map<String, Stamp> mapStamps = new HashMap<>();
            Map<String, Stamp> mapCleared = new HashMap<>();
            Set<String> appends = new HashSet<>();
            for (ServerStore.Sequenced s : changes) {
                if (s.change() instanceof Change.Clear clear && clear.isWholeSection()) {
                    mapCleared.merge(clear.section(), clear.stamp(), (a, b) -> a.compareTo(b) >= 0 ? a : b);
                } else if (s.change() instanceof Change.Put p) {
                    mapStamps.put(p.section() + "|" + p.key(), p.stamp());
                } else if (s.change() instanceof Change.Append a) {
                    appends.add(ChangeId.of(a));
                }
            }
            List<String> missing = new ArrayList<>();
            wanted.forEach((id, c) -> {
                if (c instanceof Change.Put p) {
                    Stamp cleared = mapCleared.get(p.section());
                    if (cleared != null && p.stamp().compareTo(cleared) <= 0) {
                        return; // the section was cleared later: superseded
                    }
                    Stamp held = mapStamps.get(p.section() + "|" + p.key());
                    if (held == null || held.compareTo(p.stamp()) < 0) {
                        missing.add(id + " (server holds " + held + ")");
                    }
                } else if (c instanceof Change.Append && !appends.contains(id)) {
                    missing.add(id);
                }
            });
            missing.sort(null);
            return missing;
        }
    }

    /** Every device has pushed everything, is live, and all devices hold the same state. */
    static boolean devicesSettled(List<Device> devices) {
        for (Device d : devices) {
            if (!d.sync.status().isLive() || d.cairn.pendingChanges() > 0) {
                return false;
            }
        }
        long cursor = devices.get(0).sync.status().cursor();
        for (Device d : devices) {
            if (d.sync.status().cursor() != cursor) {
                return false;
            }
        }
        String first = devices.get(0).cairn.canonicalState();
        for (Device d : devices) {
            if (!d.cairn.canonicalState().equals(first)) {
                return false;
            }
        }
        return true;
    }

    static int pending(List<Device> devices) {
        return devices.stream().mapToInt(d -> d.cairn.pendingChanges()).sum();
    }

    static String describe(List<Device> devices) {
        StringBuilder b = new StringBuilder();
        devices.forEach(d -> b.append(d.describe()).append(' '));
        return b.toString();
    }

    /** All changes the devices' transports saw acknowledged, by identity. */
    static Map<String, Change> acknowledged(List<Device> devices) {
        Map<String, Change> all = new HashMap<>();
        devices.forEach(d -> all.putAll(d.acks.acknowledgedChanges()));
        return all;
    }

    static Map<String, Change> written(List<Device> devices) {
        Map<String, Change> all = new HashMap<>();
        devices.forEach(d -> all.putAll(d.writtenChanges));
        return all;
    }
}
