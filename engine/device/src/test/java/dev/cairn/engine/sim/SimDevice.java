package dev.cairn.engine.sim;

import dev.cairn.engine.sync.internal.SyncPorts;
import dev.cairn.engine.Cairn;
import dev.cairn.engine.ChangeEvent;
import dev.cairn.engine.EngineAccess;
import dev.cairn.engine.MapSection;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.GrowOnlyLog;
import dev.cairn.engine.crdt.LogEntry;
import dev.cairn.engine.crdt.LwwEntry;
import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.engine.protocol.ErrorCode;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.FrameCodec;
import dev.cairn.engine.protocol.ProtocolException;
import dev.cairn.engine.section.SectionSpec;
import dev.cairn.engine.store.TieredLocalStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * One device: a real {@link Cairn} engine on a journal in its own directory, driven the way
 * {@code SyncClient} drives it (the client logic below mirrors SyncClient's, method for method:
 * hello with the cursor, welcome, pages applied with {@link Cairn#applyRemote(List, long)}, outbox
 * pushed in batches of at most maxBatch with at most 4 in flight, ack -> {@link Cairn#acknowledge},
 * earlier unanswered batches re-sent, clock-skew batches parked and retried after 5..30 s, frames
 * of a dead session ignored), with the simulator's time instead of threads and timers. Also the
 * device's oracle: what it has read and written, to check that its reads never go back.
 */
final class SimDevice {

    static final int BATCH_SIZE = 500;
    static final int MAX_IN_FLIGHT = 4;
    static final long BACKOFF_MIN = 200;
    static final long BACKOFF_MAX = 30_000;
    static final long SKEW_RETRY_MIN = 5_000;
    static final long SKEW_RETRY_MAX = 30_000;

    final int index;
    final String replica;
    final Path dir;
    private final Simulation sim;
    private final KeySpace keys;
    Cairn cairn;
    private MapSection[] handles;
    private final List<Change> opChanges = new ArrayList<>();

    /** This device's wall clock is the simulation time plus this. */
    long offsetMillis;
    boolean partitioned;
    long partitionEndsAtStep;

    ClientSession session;
    long reconnectAt;
    private int backoffAttempt;
    private long nextBatchId = 1;

    // ---- oracle: the newest stamp this device has read or written per key, and per stream watermark
    private Stamp[] floor;
    private Stamp[] wmFloor;
    /** The floors at the last save: what a crash may take the device back to, no further. */
    private Stamp[] savedFloor;
    private Stamp[] savedWmFloor;
    /** Own appends, to check each stays visible or is hidden by a watermark at or after it. */
    final List<Change.Append> ownAppends = new ArrayList<>();
    /** Own writes since the last save: a crash may lose them (never saved, never in the outbox). */
    final List<Change> unsaved = new ArrayList<>();
    private int eventsSinceLogCheck;

    SimDevice(int index, Simulation sim, KeySpace keys, Path dir) {
        this.index = index;
        this.replica = "dev-" + index;
        this.sim = sim;
        this.keys = keys;
        this.dir = dir;
        this.floor = new Stamp[keys.mapKeys.size()];
        this.wmFloor = new Stamp[keys.streams.size()];
        this.savedFloor = floor.clone();
        this.savedWmFloor = wmFloor.clone();
        open();
    }

    long wallMillis() {
        return sim.now() + offsetMillis;
    }

    private void open() {
        Cairn.Builder b = Cairn.builder().dataDir(dir).replicaId(replica).wallClock(this::wallMillis);
        for (String section : sim.sectionNames()) {
            b.section(section, KeySpace.kind(section), KeySpace.POLICY);
        }
        cairn = b.open();
        cairn.onChange(this::onChange);
        handles = new MapSection[keys.mapKeys.size()];
        for (int i = 0; i < handles.length; i++) {
            handles[i] = cairn.map(keys.mapKeys.get(i).section());
        }
    }

    private void onChange(ChangeEvent event) {
        if (event.origin() == ChangeEvent.Origin.LOCAL) {
            opChanges.add(event.change());
        }
    }

    // ------------------------------------------------------------------ ops (the app writing)

    /** Runs one app operation; returns the local changes it made. */
    List<Change> write(Runnable op) {
        opChanges.clear();
        op.run();
        List<Change> made = List.copyOf(opChanges);
        opChanges.clear();
        for (Change c : made) {
            if (c instanceof Change.Put put) {
                int i = keys.keyIndex(put.section(), put.key());
                if (floor[i] != null && put.stamp().compareTo(floor[i]) <= 0) {
                    throw new AssertionError(replica + " wrote " + put + " with a stamp not after one it had read: " + floor[i]);
                }
                floor[i] = put.stamp();
            } else if (c instanceof Change.Append append) {
                keys.streamIndex(append.section(), append.stream());
                ownAppends.add(append);
            } else if (((Change.Clear) c).isWholeSection()) {
                // A map section's clear: every key of it now reads as "cleared at this stamp".
                for (int i = 0; i < floor.length; i++) {
                    if (keys.mapKeys.get(i).section().equals(c.section()) && (floor[i] == null || floor[i].compareTo(c.stamp()) < 0)) {
                        floor[i] = c.stamp();
                    }
                }
            } else {
                Change.Clear clear = (Change.Clear) c;
                int i = keys.streamIndex(clear.section(), clear.stream());
                wmFloor[i] = clear.stamp();
            }
            unsaved.add(c);
        }
        checkReads();
        return made;
    }

    /** Commits everything queued (the engine's save; with a sync connection this is immediate). */
    void save() {
        cairn.save().join();
        savedFloor = floor.clone();
        savedWmFloor = wmFloor.clone();
        unsaved.clear();
    }

    // ------------------------------------------------------------------ checks

    /** A device never reads an older stamp for a key than one it read or wrote before; watermarks never go back. */
    void checkReads() {
        ReplicaState state = EngineAccess.state(cairn);
        for (int i = 0; i < handles.length; i++) {
            KeySpace.MapKey k = keys.mapKeys.get(i);
            LwwEntry e = handles[i].entry(k.key());
            // What the key reads as: its entry, or (a purged entry) the section's clear watermark above it.
            Stamp seen = e == null ? null : e.stamp();
            Stamp cleared = state.map(k.section()).watermark();
            if (cleared != null && (seen == null || cleared.compareTo(seen) > 0)) {
                seen = cleared;
            }
            Stamp f = floor[i];
            if (f != null && (seen == null || seen.compareTo(f) < 0)) {
                throw new AssertionError(replica + " read " + k.section() + "/" + k.key() + " at stamp " + (seen == null ? "none" : seen)
                        + " after it had read or written stamp " + f + " (a write disappeared or a read went back)");
            }
            if (seen != null) {
                floor[i] = seen;
            }
        }
        for (int i = 0; i < wmFloor.length; i++) {
            KeySpace.Stream s = keys.streams.get(i);
            Stamp w = state.log(s.section()).watermark(s.stream());
            Stamp f = wmFloor[i];
            if (f != null && (w == null || w.compareTo(f) < 0)) {
                throw new AssertionError(replica + " read the watermark of " + s.section() + "/" + s.stream() + " at " + w + " after " + f);
            }
            if (w != null) {
                wmFloor[i] = w;
            }
        }
        if (++eventsSinceLogCheck >= 64) {
            eventsSinceLogCheck = 0;
            checkOwnAppends();
        }
    }

    /** Every own append is still visible, or hidden by a watermark at or after it; no entry twice. */
    void checkOwnAppends() {
        ReplicaState state = EngineAccess.state(cairn);
        Map<String, Set<Stamp>> visible = new java.util.HashMap<>();
        for (KeySpace.Stream s : keys.streams) {
            Set<Stamp> stamps = new HashSet<>();
            Set<String> values = new HashSet<>();
            for (LogEntry e : state.log(s.section()).entries(s.stream())) {
                stamps.add(e.stamp());
                if (!values.add(e.value())) {
                    throw new AssertionError(replica + " shows the log entry " + e.value() + " twice in " + s.section() + "/" + s.stream());
                }
            }
            visible.put(s.section() + '\u0000' + s.stream(), stamps);
        }
        for (Change.Append a : ownAppends) {
            GrowOnlyLog log = state.log(a.section());
            Stamp mark = log.watermark(a.stream());
            boolean hidden = mark != null && a.stamp().compareTo(mark) <= 0;
            if (!hidden && !visible.get(a.section() + '\u0000' + a.stream()).contains(a.stamp())) {
                throw new AssertionError(replica + " lost its own append " + a);
            }
        }
    }

    // ------------------------------------------------------------------ restarts

    /**
     * Closes and reopens the engine on its store. {@code crash}: as after kill -9 at this moment
     * (the journal as it is on disk now; everything queued and not yet saved is gone).
     */
    void restart(boolean crash) {
        if (session != null) {
            sim.cut(session.conn, Connection.Cut.RESET, "process " + (crash ? "killed" : "restarted"));
        }
        awaitAcknowledgements();
        Path image = dir.resolveSibling(dir.getFileName() + ".crash");
        try {
            if (crash) {
                deleteStoreFiles(image);
                TieredLocalStore.copyFiles(dir, image); // the store's files as a kill would leave them now
            }
            cairn.close();
            if (crash) {
                deleteStoreFiles(dir);
                try (var files = Files.list(image)) {
                    for (Path f : files.toList()) {
                        Files.move(f, dir.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (crash) {
            floor = savedFloor.clone();
            wmFloor = savedWmFloor.clone();
            sim.mayBeLost(unsaved);
            ownAppends.removeAll(unsaved);
        } else {
            savedFloor = floor.clone();
            savedWmFloor = wmFloor.clone();
        }
        unsaved.clear();
        nextBatchId = 1;
        open();
        checkReads();
    }

    void close() {
        cairn.close();
    }

    private static void deleteStoreFiles(Path d) throws IOException {
        if (!Files.isDirectory(d)) {
            return;
        }
        try (var files = Files.list(d)) {
            for (Path f : files.filter(f -> f.getFileName().toString().startsWith("cairn-")
                    || f.getFileName().toString().startsWith("cairn.manifest")).toList()) {
                Files.delete(f);
            }
        }
    }

    // ------------------------------------------------------------------ the sync client (mirrors SyncClient)

    /** Some outbox entries: seqs and their changes, in the same order. */
    record Part(List<Long> seqs, List<Change> changes) {
        int size() {
            return seqs.size();
        }

        Part slice(int from, int to) {
            return new Part(List.copyOf(seqs.subList(from, to)), List.copyOf(changes.subList(from, to)));
        }
    }

    record Batch(long id, Part part) {
    }

    /** One connection's client side. */
    final class ClientSession {
        final Connection conn;
        boolean welcomed;
        boolean caughtUp;
        int maxBatch;
        long knownHead;
        final LinkedHashMap<Long, Batch> inFlight = new LinkedHashMap<>();
        final ArrayDeque<Part> resend = new ArrayDeque<>();
        final Set<Long> owned = new HashSet<>();
        final List<Part> skewParked = new ArrayList<>();
        long skewRetryAt = -1;
        int skewAttempt;

        ClientSession(Connection conn) {
            this.conn = conn;
        }
    }

    boolean canConnect() {
        return session == null && !partitioned && sim.now() >= reconnectAt;
    }

    void connect() {
        Connection conn = sim.openConnection(this);
        session = new ClientSession(conn);
        conn.clientSession = session;
        send(session, new Frame.Hello(Frame.PROTOCOL_VERSION, replica, cairn.cursor()));
    }

    /** The connection died (told by the transport): forget what was in flight, reconnect after a backoff. */
    void connectionLost(Connection conn) {
        if (session != null && session.conn == conn) {
            session = null;
            long ceiling = BACKOFF_MIN;
            for (int i = 0; i < backoffAttempt && ceiling < BACKOFF_MAX; i++) {
                ceiling *= 2;
            }
            backoffAttempt++;
            reconnectAt = sim.now() + sim.rng().nextLong(Math.min(ceiling, BACKOFF_MAX) + 1);
        }
    }

    /** A frame arrives on {@code conn}. */
    void onFrame(Connection conn, String text) {
        ClientSession s = session;
        if (s == null || conn.clientSession != s) {
            sim.stats().staleFramesIgnored++; // a frame of a dead session (SyncClient: !s.current())
            return;
        }
        Frame frame;
        try {
            frame = FrameCodec.decode(text);
        } catch (ProtocolException e) {
            throw new AssertionError(replica + " could not decode a server frame: " + e.getMessage() + ": " + text);
        }
        if (frame instanceof Frame.Welcome welcome) {
            s.welcomed = true;
            s.maxBatch = welcome.maxBatch() > 0 ? welcome.maxBatch() : BATCH_SIZE;
            s.knownHead = welcome.head();
            backoffAttempt = 0;
            if (welcome.head() < cairn.cursor()) {
                SyncPorts.of(cairn).resetCursor();
            }
            pump();
        } else if (frame instanceof Frame.Changes page) {
            onChanges(s, page);
        } else if (frame instanceof Frame.CaughtUp caughtUp) {
            s.knownHead = Math.max(s.knownHead, caughtUp.cursor());
            s.caughtUp = true;
            backoffAttempt = 0;
        } else if (frame instanceof Frame.Ack ack) {
            onAck(s, ack);
        } else if (frame instanceof Frame.Error error) {
            onError(s, error);
        } else if (frame instanceof Frame.Ping) {
            send(s, new Frame.Pong());
        }
    }

    private void onChanges(ClientSession s, Frame.Changes page) {
        if (!s.welcomed) {
            throw new AssertionError(replica + ": changes before welcome");
        }
        Map<String, SectionSpec> sections = sim.sectionSpecs();
        List<Change> changes = new ArrayList<>(page.changes().size());
        for (Frame.SeqChange c : page.changes()) {
            if (sections.containsKey(c.change().section())) {
                changes.add(c.change());
            }
        }
        SyncPorts.of(cairn).applyRemote(changes, page.cursor());
        sim.stats().pagesApplied++;
        s.knownHead = Math.max(s.knownHead, page.cursor());
        if (sim.rng().nextInt(8) == 0) {
            save(); // the engine's debounced save of remote changes and the cursor
        }
        checkReads();
    }

    private void onAck(ClientSession s, Frame.Ack ack) {
        Batch batch = s.inFlight.remove(ack.batch());
        if (batch == null) {
            return; // a duplicate, or a batch given up on and sent again under another id
        }
        // Acks come in the order the server received the batches: an earlier unanswered one was dropped.
        List<Part> dropped = new ArrayList<>();
        for (Iterator<Batch> it = s.inFlight.values().iterator(); it.hasNext(); ) {
            Batch earlier = it.next();
            if (earlier.id() > batch.id()) {
                break;
            }
            it.remove();
            dropped.add(earlier.part());
        }
        for (int i = dropped.size() - 1; i >= 0; i--) {
            s.resend.addFirst(dropped.get(i));
        }
        if (s.skewParked.isEmpty()) {
            s.skewAttempt = 0;
        }
        s.owned.removeAll(batch.part().seqs());
        acknowledgeLocally(batch.part().seqs());
        sim.acknowledged(batch.part().changes());
        pump();
    }

    private void onError(ClientSession s, Frame.Error error) {
        Batch batch = error.batch() == null ? null : s.inFlight.get(error.batch());
        if (error.code() == ErrorCode.CLOCK_SKEW && batch != null) {
            // Not wrong, only early: keep the changes (still owned by this session) and retry later.
            s.inFlight.remove(batch.id());
            s.skewParked.add(batch.part());
            if (s.skewRetryAt < 0) {
                long ceiling = SKEW_RETRY_MIN;
                for (int i = 0; i < s.skewAttempt && ceiling < SKEW_RETRY_MAX; i++) {
                    ceiling *= 2;
                }
                s.skewAttempt++;
                long delay = Math.max(SKEW_RETRY_MIN, sim.rng().nextLong(Math.min(ceiling, SKEW_RETRY_MAX) + 1));
                s.skewRetryAt = sim.now() + delay;
                sim.trace().add(replica + " clock-skew for batch " + batch.id() + " (" + batch.part().size() + " changes), retry in " + delay + " ms");
            }
            pump();
            return;
        }
        throw new AssertionError(replica + " got an error the simulation never provokes: " + error);
    }

    /** Timers: the clock-skew retry. */
    void tick() {
        ClientSession s = session;
        if (s != null && s.skewRetryAt >= 0 && sim.now() >= s.skewRetryAt) {
            s.skewRetryAt = -1;
            s.resend.addAll(s.skewParked);
            s.skewParked.clear();
            pump();
        }
    }

    long nextTimer() {
        long t = Long.MAX_VALUE;
        if (session == null && !partitioned) {
            t = reconnectAt;
        } else if (session != null && session.skewRetryAt >= 0) {
            t = session.skewRetryAt;
        }
        return t;
    }

    /** Sends outbox entries while the in-flight window has room. */
    void pump() {
        ClientSession s = session;
        if (s == null || !s.welcomed) {
            return;
        }
        int perBatch = Math.max(1, Math.min(BATCH_SIZE, s.maxBatch));
        while (s.inFlight.size() < MAX_IN_FLIGHT) {
            Part part = s.resend.pollFirst();
            boolean fromOutbox = part == null;
            if (fromOutbox) {
                part = readOutbox(s, perBatch);
                if (part == null) {
                    return;
                }
            } else {
                sim.stats().resentChanges += part.size();
            }
            if (part.size() > perBatch) {
                s.resend.addFirst(part.slice(perBatch, part.size()));
                part = part.slice(0, perBatch);
            }
            if (fromOutbox) {
                s.owned.addAll(part.seqs());
            }
            long id = nextBatchId++;
            s.inFlight.put(id, new Batch(id, part));
            send(s, new Frame.Push(id, part.changes()));
        }
    }

    /** Removes acknowledged entries from the outbox; until that commit is done they are skipped (SyncClient's acking). */
    private void acknowledgeLocally(List<Long> seqs) {
        acking.addAll(seqs);
        ackRemovals.add(new AckRemoval(seqs, SyncPorts.of(cairn).acknowledge(seqs)));
    }

    private record AckRemoval(List<Long> seqs, CompletableFuture<Void> done) {
    }

    private final Set<Long> acking = new HashSet<>();
    private final List<AckRemoval> ackRemovals = new ArrayList<>();

    /** Waits for outbox removals in progress (before a crash image, so a replay takes the same image). */
    void awaitAcknowledgements() {
        for (AckRemoval r : ackRemovals) {
            r.done().join();
            acking.removeAll(r.seqs());
        }
        ackRemovals.clear();
    }

    private void forgetFinishedAcknowledgements() {
        for (Iterator<AckRemoval> it = ackRemovals.iterator(); it.hasNext(); ) {
            AckRemoval r = it.next();
            if (r.done().isDone()) {
                r.done().join(); // a failed removal fails the run
                acking.removeAll(r.seqs());
                it.remove();
            }
        }
    }

    private Part readOutbox(ClientSession s, int n) {
        forgetFinishedAcknowledgements();
        NavigableMap<Long, Change> outbox = SyncPorts.of(cairn).outbox(s.owned.size() + acking.size() + n);
        List<Long> seqs = new ArrayList<>(n);
        List<Change> changes = new ArrayList<>(n);
        for (Map.Entry<Long, Change> e : outbox.entrySet()) {
            if (!s.owned.contains(e.getKey()) && !acking.contains(e.getKey())) {
                seqs.add(e.getKey());
                changes.add(e.getValue());
                if (seqs.size() == n) {
                    break;
                }
            }
        }
        return seqs.isEmpty() ? null : new Part(List.copyOf(seqs), List.copyOf(changes));
    }

    private void send(ClientSession s, Frame frame) {
        s.conn.toServer(FrameCodec.encode(frame));
    }

    /** Connected, caught up, nothing in flight or parked, nothing unsaved or unacknowledged. */
    boolean settled(long lastSeq) {
        awaitAcknowledgements();
        ClientSession s = session;
        return s != null && s.welcomed && s.caughtUp && s.inFlight.isEmpty() && s.resend.isEmpty() && s.skewParked.isEmpty()
                && cairn.pendingChanges() == 0 && cairn.cursor() >= lastSeq;
    }
}
