package dev.cairn.server.faults;

import dev.cairn.engine.Cairn;
import dev.cairn.engine.ChangeEvent;
import dev.cairn.engine.clock.WallClock;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.sync.SyncClient;
import dev.cairn.engine.sync.SyncStatus;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * One device of a fault test: a real {@link Cairn} engine with the durable journal store in its
 * own directory and a real {@link SyncClient} (JDK WebSocket), usually connected through its own
 * {@link FaultProxy}. Records every change it wrote (origin LOCAL, with its stamp) and the sync
 * errors it saw.
 */
final class FaultDevice implements AutoCloseable {

    final String name;
    final Cairn cairn;
    final SyncClient sync;
    /** The device's route to the server, or null for a direct connection. */
    final FaultProxy proxy;
    private final List<Change> made = new ArrayList<>();
    /** Changes the client dropped as never acceptable (must stay 0). */
    final AtomicLong droppedReports = new AtomicLong();
    /** Status updates saying the server refused a push for clock skew. */
    final AtomicLong clockSkewReports = new AtomicLong();
    volatile String lastError;

    private FaultDevice(String name, Cairn cairn, SyncClient sync, FaultProxy proxy) {
        this.name = name;
        this.cairn = cairn;
        this.sync = sync;
        this.proxy = proxy;
        cairn.onChange(e -> {
            if (e.origin() == ChangeEvent.Origin.LOCAL) {
                synchronized (made) {
                    made.add(e.change());
                }
            }
        });
        sync.onStatus(this::onStatus);
    }

    /** Opens the engine in {@code dir} (replica id {@code name}); the client is built with {@code tune} and not started. */
    static FaultDevice open(String name, Path dir, URI uri, String token, WallClock clock, FaultProxy proxy,
                            Consumer<SyncClient.Builder> tune) {
        Cairn cairn = Cairn.builder().dataDir(dir).replicaId(name).wallClock(clock).open();
        try {
            SyncClient.Builder b = SyncClient.builder(cairn, proxy == null ? uri : proxy.via(uri), () -> token);
            tune.accept(b);
            return new FaultDevice(name, cairn, b.build(), proxy);
        } catch (RuntimeException e) {
            cairn.close();
            throw e;
        }
    }

    private void onStatus(SyncStatus s) {
        String error = s.lastError();
        if (error != null && !error.equals(lastError)) {
            if (error.contains("which were dropped") || error.contains("which was dropped")) {
                droppedReports.incrementAndGet();
            }
            if (error.contains("clock is ahead")) {
                clockSkewReports.incrementAndGet();
            }
        }
        lastError = error;
    }

    /** Every change this device wrote so far (a copy). */
    List<Change> made() {
        synchronized (made) {
            return new ArrayList<>(made);
        }
    }

    int madeCount() {
        synchronized (made) {
            return made.size();
        }
    }

    String describe() {
        SyncStatus s = sync.status();
        return name + "{state=" + s.state() + ", cursor=" + s.cursor() + ", pending=" + s.pendingChanges()
                + ", made=" + madeCount() + ", lastError=" + s.lastError() + "}";
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
