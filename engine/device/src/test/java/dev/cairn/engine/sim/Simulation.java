package dev.cairn.engine.sim;

import dev.cairn.engine.Cairn;
import dev.cairn.engine.ChatMessage;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.codec.CanonicalJson;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.GrowOnlyLog;
import dev.cairn.engine.crdt.LogEntry;
import dev.cairn.engine.crdt.LwwEntry;
import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.section.SectionSpec;
import dev.cairn.engine.section.StandardSections;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * One seeded run: N devices (real engines) and the server model exchange frames through
 * {@link Connection}s while a seeded random schedule interleaves app writes, frame deliveries,
 * server steps and faults; then the network heals, everything drains, and the run is checked.
 * Single-threaded and driven by simulated time, so a seed replays the same schedule.
 *
 * <p>Faults (all within what TCP can do: a live connection never loses, duplicates or reorders a
 * frame, so every drop kills its connection): a dropped frame (connection reset), a dropped ack
 * after the commit (the batch is re-sent: duplicates at the server), a reset, a half-open cut
 * whose last pushes reach the server after the client's next connection (pushes reordered across
 * connections, acks lost), a cut whose last server frames reach the client after it reconnected
 * (stale pages and acks it must ignore), a server re-sending pages (at-least-once), a partition
 * (a device offline for hundreds of steps while it keeps writing), a graceful restart of a
 * device, a crash of a device (kill -9: the journal as on disk, unsaved writes gone), a server
 * restart (every connection reset; committed data stays), and wall-clock jumps (+-24 h, back).
 */
final class Simulation {

    static final long EPOCH = 1_750_000_000_000L; // 2025-06-15T12:00:00Z
    static final long DAY = 24L * 3600 * 1000;

    /** What to run; faults are weights per 1000 steps. */
    record Config(long seed, int replicas, int ops, int maxBatch, int pageSize, long maxAheadMillis,
                  int faultsPerThousand, boolean clockSkew, boolean crashes) {

        static Config of(long seed, int replicas, int ops) {
            return new Config(seed, replicas, ops, 16, 20, 60_000, 12, true, true);
        }

        Config withClockSkew(boolean on) {
            return new Config(seed, replicas, ops, maxBatch, pageSize, maxAheadMillis, faultsPerThousand, on, crashes);
        }

        Config withFaults(int perThousand) {
            return new Config(seed, replicas, ops, maxBatch, pageSize, maxAheadMillis, perThousand, clockSkew, crashes);
        }
    }

    private static final Map<String, SectionSpec> SECTIONS;

    static {
        TreeMap<String, SectionSpec> m = new TreeMap<>();
        for (SectionSpec s : StandardSections.ALL) {
            m.put(s.name(), new SectionSpec(s.name(), s.kind(), KeySpace.POLICY));
        }
        SECTIONS = Map.copyOf(m);
    }

    private final Config cfg;
    private final Path root;
    private final Random rng;
    private final SimStats stats = new SimStats();
    private final Trace trace = new Trace(30);
    private final KeySpace keys = new KeySpace();
    private final ServerModel server;
    private final List<SimDevice> devices = new ArrayList<>();
    private final List<Connection> conns = new ArrayList<>();
    private int nextConnId = 1;
    private long now = EPOCH;
    private long step;
    private int opsDone;
    private int opSerial;

    /** Changes whose ack reached their device (the "acknowledged" of the brief). */
    private final Set<Change> acknowledged = new LinkedHashSet<>();
    /** Every local write, in order. */
    private final List<Change> written = new ArrayList<>();
    /**
     * Writes a crash took before they were saved (allowed to be missing). By object identity: after
     * a crash the engine may issue the same stamp again (its clock's high-water mark is saved with
     * each commit, so only stamps of lost writes come back), and an equal change written again
     * after the crash must still arrive.
     */
    private final Set<Change> mayBeLost = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());

    Simulation(Config cfg, Path root) {
        this.cfg = cfg;
        this.root = root;
        this.rng = new Random(cfg.seed());
        this.server = new ServerModel(cfg.maxBatch(), cfg.pageSize(), cfg.maxAheadMillis(), () -> now,
                section -> SECTIONS.containsKey(section) ? SECTIONS.get(section).kind() : null, stats, trace, rng);
    }

    // ------------------------------------------------------------------ services for devices

    long now() {
        return now;
    }

    Random rng() {
        return rng;
    }

    SimStats stats() {
        return stats;
    }

    Trace trace() {
        return trace;
    }

    List<String> sectionNames() {
        return List.copyOf(SECTIONS.keySet());
    }

    Map<String, SectionSpec> sectionSpecs() {
        return SECTIONS;
    }

    void acknowledged(List<Change> changes) {
        acknowledged.addAll(changes);
        stats.acknowledgedChanges += changes.size();
    }

    void mayBeLost(List<Change> changes) {
        mayBeLost.addAll(changes);
    }

    Connection openConnection(SimDevice device) {
        Connection c = new Connection(nextConnId++, device);
        c.serverSession = server.open(c);
        conns.add(c);
        return c;
    }

    void cut(Connection c, Connection.Cut how, String why) {
        if (!c.clientAlive && !c.serverAlive) {
            return;
        }
        trace.fault("cut conn " + c.id + " of " + c.device.replica + " (" + how + "): " + why);
        switch (how) {
            case RESET -> {
                c.toServer.clear();
                c.toClient.clear();
                c.serverAlive = false;
            }
            case LATE_PUSHES -> {
                c.toClient.clear();
                if (c.toServer.isEmpty()) {
                    c.serverAlive = false;
                }
            }
            case STALE_FRAMES -> {
                c.toServer.clear();
                c.serverAlive = false;
            }
        }
        c.clientAlive = false;
        c.toClientOpen = false;
        if (!c.serverAlive) {
            server.close(c.serverSession);
        }
        c.device.connectionLost(c);
    }

    // ------------------------------------------------------------------ the run

    /** Runs the seed; throws an AssertionError with the seed and a trace when a check fails. */
    SimStats run() {
        try {
            Files.createDirectories(root);
            for (int i = 0; i < cfg.replicas(); i++) {
                devices.add(new SimDevice(i, this, keys, root.resolve("dev-" + i)));
            }
            if (cfg.clockSkew()) {
                for (SimDevice d : devices) {
                    if (rng.nextInt(3) == 0) {
                        d.offsetMillis = pickOffset();
                        trace.fault(d.replica + " starts with its clock " + d.offsetMillis + " ms off");
                    }
                }
            }
            while (opsDone < cfg.ops()) {
                nextStep(rng.nextInt(20));
                int r = rng.nextInt(1000);
                if (r < 300) {
                    op();
                } else if (r < 700) {
                    deliver();
                } else if (r < 830) {
                    serverStep();
                } else if (r < 1000 - cfg.faultsPerThousand()) {
                    devicePump(devices.get(rng.nextInt(devices.size())));
                } else {
                    fault();
                }
            }
            heal();
            check();
            stats.seeds = 1;
            stats.ops = opsDone;
            stats.steps = step;
            return stats;
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError("seed " + cfg.seed() + " failed (" + cfg + "): " + e.getMessage()
                    + "\n  replay: CAIRN_SEED=" + cfg.seed() + "\n" + trace.dump(), e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            for (SimDevice d : devices) {
                try {
                    d.close();
                } catch (RuntimeException ignored) {
                    // already closed by a failure
                }
            }
            deleteTree(root);
        }
    }

    private void nextStep(long millis) {
        step++;
        now += millis;
        trace.at(step, now - EPOCH);
        for (SimDevice d : devices) {
            if (d.partitioned && step >= d.partitionEndsAtStep) {
                d.partitioned = false;
                trace.add(d.replica + " partition healed");
            }
            d.tick();
            if (d.canConnect()) {
                d.connect();
            }
        }
        conns.removeIf(Connection::finished);
    }

    private long pickOffset() {
        return switch (rng.nextInt(6)) {
            case 0 -> DAY;
            case 1 -> -DAY;
            case 2 -> 30_000;      // ahead, within the server's bound
            case 3 -> 90_000;      // ahead, past the bound
            case 4 -> -5 * 60_000; // behind
            default -> 0;          // jumps back to the right time
        };
    }

    // ------------------------------------------------------------------ events

    private void op() {
        SimDevice d = devices.get(rng.nextInt(devices.size()));
        Cairn c = d.cairn;
        int serial = ++opSerial;
        String tag = d.replica + "-" + serial;
        int r = rng.nextInt(100);
        Runnable op;
        if (r < 40) {
            String section = KeySpace.MAP_SECTIONS.get(rng.nextInt(KeySpace.MAP_SECTIONS.size()));
            String key = "k" + rng.nextInt(KeySpace.KEYS_PER_SECTION);
            Object value = switch (rng.nextInt(3)) {
                case 0 -> rng.nextInt(100);
                case 1 -> tag;
                default -> Map.of("by", tag, "n", rng.nextInt(10));
            };
            op = () -> c.map(section).put(key, value);
        } else if (r < 50) {
            String section = KeySpace.MAP_SECTIONS.get(rng.nextInt(KeySpace.MAP_SECTIONS.size()));
            String key = "k" + rng.nextInt(KeySpace.KEYS_PER_SECTION);
            op = () -> c.map(section).remove(key);
        } else if (r < 65) {
            String card = "c" + rng.nextInt(KeySpace.CARDS);
            int which = rng.nextInt(3);
            boolean flag = rng.nextBoolean();
            op = () -> {
                var handle = c.cards().card(card);
                switch (which) {
                    case 0 -> handle.toggle();
                    case 1 -> handle.setVisible(flag);
                    default -> handle.setExpanded(flag);
                }
            };
        } else if (r < 85) {
            String conv = KeySpace.CHAT_STREAMS.get(rng.nextInt(KeySpace.CHAT_STREAMS.size()));
            op = () -> c.chat().append(conv, "user", "m-" + tag);
        } else if (r < 92) {
            String stream = KeySpace.CONSENT_STREAMS.get(0);
            op = () -> c.log(StandardSections.CONSENT).append(stream, Map.of("event", "accepted", "id", tag));
        } else if (r < 96) {
            String conv = KeySpace.CHAT_STREAMS.get(rng.nextInt(KeySpace.CHAT_STREAMS.size()));
            op = () -> c.chat().clear(conv);
        } else if (r < 98) {
            String section = KeySpace.MAP_SECTIONS.get(rng.nextInt(KeySpace.MAP_SECTIONS.size()));
            op = () -> c.clear(section);
        } else {
            op = () -> c.clear(StandardSections.CARDS);
        }
        List<Change> made = d.write(op);
        written.addAll(made);
        stats.localChanges += made.size();
        opsDone++;
        // Connected, the engine commits syncing writes at once and the client pushes them.
        if (d.session != null && rng.nextInt(4) == 0) {
            devicePump(d);
        }
    }

    private void devicePump(SimDevice d) {
        if (!d.unsaved.isEmpty()) {
            d.save();
        }
        d.pump();
    }

    private void deliver() {
        List<Connection> busy = new ArrayList<>();
        for (Connection c : conns) {
            if (c.hasWork()) {
                busy.add(c);
            }
        }
        if (busy.isEmpty()) {
            return;
        }
        Connection c = busy.get(rng.nextInt(busy.size()));
        boolean toServer = c.serverAlive && !c.toServer.isEmpty() && (c.toClient.isEmpty() || rng.nextBoolean());
        deliver(c, toServer);
    }

    private void deliver(Connection c, boolean toServer) {
        if (toServer) {
            String text = c.toServer.pollFirst();
            if (!c.clientAlive) {
                stats.lateFramesProcessed++;
                trace.add("late frame of dead conn " + c.id + " reaches the server: " + brief(text));
            }
            server.receive(c.serverSession, text);
            if (!c.clientAlive && c.toServer.isEmpty()) {
                c.serverAlive = false;
                server.close(c.serverSession);
            }
        } else {
            c.device.onFrame(c, c.toClient.pollFirst());
        }
    }

    private static String brief(String text) {
        return text.length() > 80 ? text.substring(0, 80) + "..." : text;
    }

    private void serverStep() {
        List<ServerModel.ServerSession> pumping = new ArrayList<>();
        for (ServerModel.ServerSession s : server.sessions) {
            if (s.needsPump()) {
                pumping.add(s);
            }
        }
        if (!pumping.isEmpty()) {
            server.pumpOne(pumping.get(rng.nextInt(pumping.size())));
        }
    }

    // ------------------------------------------------------------------ faults

    private Connection liveConn(boolean withFrames) {
        List<Connection> live = new ArrayList<>();
        for (Connection c : conns) {
            if (c.clientAlive && c.serverAlive && (!withFrames || !c.toServer.isEmpty() || !c.toClient.isEmpty())) {
                live.add(c);
            }
        }
        return live.isEmpty() ? null : live.get(rng.nextInt(live.size()));
    }

    private void fault() {
        int r = rng.nextInt(100);
        if (r < 20) {
            Connection c = liveConn(true);
            if (c != null) {
                boolean up = !c.toServer.isEmpty() && (c.toClient.isEmpty() || rng.nextBoolean());
                String lost = up ? c.toServer.peekFirst() : c.toClient.peekFirst();
                if (!up && lost.startsWith("{\"type\":\"ack\"")) {
                    stats.ackDrops++;
                } else {
                    stats.drops++;
                }
                cut(c, Connection.Cut.RESET, "frame dropped " + (up ? "to server: " : "to client: ") + brief(lost));
            }
        } else if (r < 30) {
            // The ack of a committed batch is lost (e.g. the server died between COMMIT and ack).
            for (Connection c : conns) {
                if (c.clientAlive && c.serverAlive && !c.toClient.isEmpty() && c.toClient.peekFirst().startsWith("{\"type\":\"ack\"")) {
                    stats.ackDrops++;
                    cut(c, Connection.Cut.RESET, "ack lost after commit: " + c.toClient.peekFirst());
                    break;
                }
            }
        } else if (r < 40) {
            Connection c = liveConn(false);
            if (c != null) {
                stats.resets++;
                cut(c, Connection.Cut.RESET, "connection reset");
            }
        } else if (r < 50) {
            Connection c = liveConn(true);
            if (c != null) {
                stats.latePushCuts++;
                cut(c, Connection.Cut.LATE_PUSHES, "client timed out; its last " + c.toServer.size() + " frames still reach the server");
            }
        } else if (r < 58) {
            Connection c = liveConn(true);
            if (c != null) {
                stats.staleFrameCuts++;
                cut(c, Connection.Cut.STALE_FRAMES, "server side gone; " + c.toClient.size() + " frames still reach the client");
            }
        } else if (r < 64) {
            Connection c = liveConn(false);
            if (c != null && server.resendOld(c.serverSession, 1 + rng.nextInt(40))) {
                stats.duplicatePages++;
                trace.fault("server re-sends an old page on conn " + c.id);
            }
        } else if (r < 74) {
            SimDevice d = devices.get(rng.nextInt(devices.size()));
            if (!d.partitioned) {
                stats.partitions++;
                d.partitioned = true;
                d.partitionEndsAtStep = step + 100 + rng.nextInt(rng.nextInt(8) == 0 ? 5000 : 800);
                trace.fault(d.replica + " partitioned until step " + d.partitionEndsAtStep);
                if (d.session != null) {
                    cut(d.session.conn, Connection.Cut.RESET, "partition");
                }
            }
        } else if (r < 82) {
            SimDevice d = devices.get(rng.nextInt(devices.size()));
            stats.restarts++;
            trace.fault(d.replica + " restarts");
            d.restart(false);
        } else if (r < 88) {
            if (cfg.crashes()) {
                SimDevice d = devices.get(rng.nextInt(devices.size()));
                stats.crashes++;
                trace.fault(d.replica + " killed (" + d.unsaved.size() + " unsaved writes lost) and reopened");
                d.restart(true);
            }
        } else if (r < 90) {
            stats.serverRestarts++;
            trace.fault("server restart: every connection reset");
            for (Connection c : new ArrayList<>(conns)) {
                if (c.clientAlive || c.serverAlive) {
                    cut(c, Connection.Cut.RESET, "server restart");
                }
            }
            server.restartProcess();
        } else if (r < 95) {
            if (cfg.clockSkew()) {
                SimDevice d = devices.get(rng.nextInt(devices.size()));
                long before = d.offsetMillis;
                d.offsetMillis = pickOffset();
                stats.clockJumps++;
                trace.fault(d.replica + " wall clock jumps from " + before + " to " + d.offsetMillis + " ms off");
            }
        } else {
            serverClear();
        }
    }

    /** The HTTP API clears a section: one whole-section watermark (or a stream's) stamped by the server's clock. */
    private void serverClear() {
        List<Change> changes = new ArrayList<>();
        if (rng.nextBoolean()) {
            String section = KeySpace.MAP_SECTIONS.get(rng.nextInt(KeySpace.MAP_SECTIONS.size()));
            changes.add(Change.Clear.wholeSection(section, server.clock.tick()));
        } else {
            String conv = KeySpace.CHAT_STREAMS.get(rng.nextInt(KeySpace.CHAT_STREAMS.size()));
            changes.add(new Change.Clear(StandardSections.CHAT, conv, server.clock.tick()));
        }
        if (!changes.isEmpty()) {
            stats.serverWrites += changes.size();
            server.serverWrite(changes);
            for (Change c : changes) {
                if (c instanceof Change.Clear clear && clear.isWholeSection()) {
                    for (int k = 0; k < KeySpace.KEYS_PER_SECTION; k++) {
                        LwwEntry e = server.entry(clear.section(), "k" + k);
                        if (e != null) {
                            // stamped after the server's clock (a device clock ahead): the clear does not cover it
                            stats.ineffectiveServerClears++;
                            trace.add("the server's clear of " + clear.section() + " left k" + k + " = " + e);
                        }
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------------ heal and check

    /**
     * The network heals: no more faults, partitions end, and simulated time jumps past every
     * clock offset so stamps that were too far ahead become acceptable; then frames, server
     * steps and timers run until every device is live at the server's head with nothing pending.
     */
    private void heal() {
        trace.add("heal: partitions end, time jumps 25 h");
        for (SimDevice d : devices) {
            d.partitioned = false;
        }
        now += DAY + 3_600_000;
        long limit = step + 200_000 + 50L * cfg.ops();
        while (true) {
            nextStep(1);
            boolean busy = false;
            for (Connection c : new ArrayList<>(conns)) {
                while (c.hasWork()) {
                    deliver(c, c.serverAlive && !c.toServer.isEmpty());
                    busy = true;
                }
            }
            for (ServerModel.ServerSession s : new ArrayList<>(server.sessions)) {
                if (s.needsPump()) {
                    server.pumpOne(s);
                    busy = true;
                }
            }
            for (SimDevice d : devices) {
                if (d.session != null && d.session.welcomed) {
                    if (!d.unsaved.isEmpty()) {
                        d.save();
                    }
                    d.pump();
                }
            }
            if (!busy) {
                boolean settled = true;
                for (SimDevice d : devices) {
                    settled &= d.settled(server.lastSeq()) && server.settled(d.session.conn.serverSession);
                }
                if (settled) {
                    return;
                }
                long next = Long.MAX_VALUE;
                for (SimDevice d : devices) {
                    next = Math.min(next, d.nextTimer());
                }
                if (next != Long.MAX_VALUE && next > now) {
                    now = next; // nothing to do until a timer fires
                }
            }
            if (step > limit) {
                StringBuilder why = new StringBuilder("did not settle after the heal; devices:");
                for (SimDevice d : devices) {
                    why.append("\n    ").append(d.replica).append(" connected=").append(d.session != null)
                            .append(" pending=").append(d.cairn.pendingChanges()).append(" cursor=").append(d.cairn.cursor());
                }
                why.append("\n    server head=").append(server.head());
                throw new AssertionError(why.toString());
            }
        }
    }

    private void check() {
        // Converged: every device, the server's store and the fold of all accepted changes agree byte for byte.
        ReplicaState folded = server.foldAccepted();
        String expected = CanonicalJson.encode(folded);
        String fromStore = server.canonicalFromStore();
        if (!fromStore.equals(expected)) {
            throw new AssertionError("the server's store differs from the fold of every accepted change:\n store: " + fromStore
                    + "\n  fold: " + expected);
        }
        for (SimDevice d : devices) {
            d.checkReads();
            d.checkOwnAppends();
            String state = d.cairn.canonicalState();
            if (!state.equals(expected)) {
                throw new AssertionError(d.replica + " did not converge:\n device: " + state + "\n server: " + expected);
            }
        }
        // 0 lost: every acknowledged change, and every write not taken by a crash before its save, is present or superseded.
        Set<String> visible = new HashSet<>();
        for (KeySpace.Stream s : keys.streams) {
            for (LogEntry e : folded.log(s.section()).entries(s.stream())) {
                visible.add(s.section() + '\u0000' + s.stream() + '\u0000' + e.stamp() + '\u0000' + e.value());
            }
        }
        for (Change c : written) {
            if (mayBeLost.contains(c)) {
                continue;
            }
            if (!presentOrSuperseded(folded, visible, c)) {
                throw new AssertionError((acknowledged.contains(c) ? "an acknowledged" : "a saved") + " change was lost: " + c);
            }
        }
        for (Change c : acknowledged) {
            if (!presentOrSuperseded(folded, visible, c)) {
                throw new AssertionError("an acknowledged change was lost: " + c);
            }
        }
        // 0 duplicates in logs: every append's value is unique, so no entry may show twice.
        for (KeySpace.Stream s : keys.streams) {
            Set<String> values = new HashSet<>();
            for (LogEntry e : folded.log(s.section()).entries(s.stream())) {
                if (!values.add(e.value())) {
                    throw new AssertionError("log entry twice in " + s + ": " + e.value());
                }
            }
        }
    }

    private static boolean presentOrSuperseded(ReplicaState state, Set<String> visibleEntries, Change c) {
        if (c instanceof Change.Put put) {
            LwwEntry e = state.map(put.section()).entry(put.key());
            Stamp cleared = state.map(put.section()).watermark();
            if (cleared != null && cleared.compareTo(put.stamp()) >= 0) {
                return true; // superseded by a clear of its section
            }
            return e != null && (e.stamp().compareTo(put.stamp()) > 0 || e.equals(put.entry()));
        }
        if (c instanceof Change.Clear clear && clear.isWholeSection()) {
            Stamp cleared = state.map(clear.section()).watermark();
            return cleared != null && cleared.compareTo(clear.stamp()) >= 0;
        }
        GrowOnlyLog log = state.log(c.section());
        Stamp mark = log.watermark(c.target());
        if (c instanceof Change.Clear clear) {
            return mark != null && mark.compareTo(clear.stamp()) >= 0;
        }
        Change.Append a = (Change.Append) c;
        if (mark != null && mark.compareTo(a.stamp()) >= 0) {
            return true;
        }
        return visibleEntries.contains(a.section() + '\u0000' + a.stream() + '\u0000' + a.stamp() + '\u0000' + a.value());
    }

    private static void deleteTree(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // best effort
                }
            });
        } catch (IOException ignored) {
            // best effort
        }
    }
}
