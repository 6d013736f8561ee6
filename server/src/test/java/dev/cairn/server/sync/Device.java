package dev.cairn.server.sync;

import dev.cairn.engine.Cairn;
import dev.cairn.engine.ChangeEvent;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.section.StoragePolicy;
import dev.cairn.engine.sync.SyncClient;
import dev.cairn.engine.sync.SyncStatus;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * One device of a test: a real {@link Cairn} engine in its own data directory with a real
 * {@link SyncClient} (JDK WebSocket transport) to one server node, a {@link ManualClock}, and
 * every change it received from the server (origin REMOTE) recorded.
 *
 * <p>Every device registers the app section {@value #LOCAL_NOTES} as local-only
 * ({@code StoragePolicy.withSync(false)}); the test servers know it as a map section.
 */
final class Device implements AutoCloseable {

    /** A custom map section every device registers with sync off (the server knows it too). */
    static final String LOCAL_NOTES = "notes";
    /** The server-side spelling of {@link #LOCAL_NOTES} (TestServer.Builder#sections). */
    static final String SERVER_SECTIONS = LOCAL_NOTES + ":map";

    private static final Duration SYNC_TIMEOUT = Duration.ofSeconds(20);

    final String name;
    final Cairn cairn;
    final SyncClient sync;
    final ManualClock clock;
    final URI uri;
    /** Changes that reached this engine from the server, in arrival order. */
    final List<ChangeEvent> remote = new CopyOnWriteArrayList<>();

    private Device(String name, Cairn cairn, SyncClient sync, ManualClock clock, URI uri) {
        this.name = name;
        this.cairn = cairn;
        this.sync = sync;
        this.clock = clock;
        this.uri = uri;
        cairn.onChange(e -> {
            if (e.origin() == ChangeEvent.Origin.REMOTE) {
                remote.add(e);
            }
        });
    }

    /** Opens the engine in {@code dir} (replica id {@code name}) and builds its client; not started. */
    static Device open(String name, Path dir, URI uri, String token, long clockStart) {
        return open(name, dir, uri, token, clockStart, b -> { });
    }

    /** As {@link #open(String, Path, URI, String, long)}, with extra client settings (e.g. end-to-end encryption). */
    static Device open(String name, Path dir, URI uri, String token, long clockStart, Consumer<SyncClient.Builder> client) {
        ManualClock clock = new ManualClock(clockStart);
        Cairn cairn = Cairn.builder()
                .dataDir(dir)
                .replicaId(name)
                .wallClock(clock)
                .section(LOCAL_NOTES, SectionKind.MAP, StoragePolicy.DEFAULT.withSync(false))
                .open();
        try {
            SyncClient.Builder builder = SyncClient.builder(cairn, uri, () -> token)
                    .backoff(Duration.ofMillis(20), Duration.ofMillis(400));
            client.accept(builder);
            SyncClient sync = builder.build();
            return new Device(name, cairn, sync, clock, uri);
        } catch (RuntimeException e) {
            cairn.close();
            throw e;
        }
    }

    Device start() {
        sync.start();
        return this;
    }

    /** Starts the client and waits until it is LIVE (caught up and receiving live changes). */
    Device startLive() {
        start();
        awaitLive();
        return this;
    }

    void awaitLive() {
        Poll.until(name + " to be LIVE on " + uri, () -> sync.status().isLive(), this::describe);
    }

    /** {@link SyncClient#syncNow()}, waited for with a deadline; a failure names this device and its status. */
    void syncNow() {
        try {
            sync.syncNow().orTimeout(SYNC_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS).join();
        } catch (CompletionException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            String why = cause instanceof TimeoutException ? "did not complete within " + SYNC_TIMEOUT.toMillis() + " ms" : "failed: " + cause;
            throw new AssertionError(name + ": syncNow " + why + "; " + describe(), cause);
        }
    }

    void goOffline() {
        sync.goOffline();
    }

    void goOnline() {
        sync.goOnline();
    }

    String canonical() {
        return cairn.canonicalState();
    }

    String describe() {
        SyncStatus s = sync.status();
        return name + "{state=" + s.state() + ", cursor=" + s.cursor() + ", pending=" + s.pendingChanges()
                + ", lastError=" + s.lastError() + ", remoteChanges=" + remote.size() + "}";
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
