package dev.cairn.engine.sim;

import dev.cairn.engine.Cairn;
import dev.cairn.engine.Space;
import dev.cairn.engine.ValidationException;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.LwwEntry;
import dev.cairn.engine.protocol.ErrorCode;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.FrameCodec;
import dev.cairn.engine.protocol.ProtocolException;
import dev.cairn.engine.section.SectionSpec;
import dev.cairn.engine.sync.internal.SyncPort;
import dev.cairn.engine.sync.internal.SyncPorts;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;

/**
 * One device of one user in the spaces simulation: a real {@link Cairn} engine and its space
 * replicas ({@code SyncPort.space(id, true)}), driven the way {@code SyncClient}, {@code SpaceSync}
 * and {@code PushPipeline} drive them, method for method, on simulated time: hello with the held
 * spaces' cursors; welcome's spaces joined ({@code spaceRejoined}, a pipeline each); the user's
 * pages then a space joined while up ({@code afterUserPage}); a space page refused (the session
 * ends) when the space was not said, is not in the {@code spaces} section, or was left on this
 * session; {@code space-left} stops the space's lane and keeps its copy ({@code spaceLeft});
 * pushes per lane (user, each space) with batch ids unique across lanes, an ack acknowledges
 * its batch only, {@code not-a-member}/{@code forbidden} refuse the whole batch for good
 * ({@code spaceRefused}, then acknowledged). Also what the checks need: every own write per space.
 */
final class SpaceDevice {

    static final int BATCH_SIZE = 50;
    static final int MAX_IN_FLIGHT = 4;

    final String user;
    final String replica;
    private final SpaceSim sim;
    final Cairn cairn;
    private final SyncPort port;
    long reconnectAt;

    /** Own writes per space, in order (to check each is accepted, refused and kept, or kept unsent in a left copy). */
    final Map<String, List<Change>> spaceWrites = new TreeMap<>();
    private final List<Change> opChanges = new ArrayList<>();

    /** Each left space's cut (the removal's seq) whose space-left this device took live; -1: left at hello (not-a-member). */
    final Map<String, Long> keptCut = new TreeMap<>();
    /** Spaces whose space-left came (SpaceSync's LEFT status): no pipeline until joined again. */
    final Set<String> left = new HashSet<>();
    /** The pipelines (their acking sets), by lane: "" the user's, else the space id. */
    private final Map<String, Set<Long>> pipelines = new TreeMap<>();
    private final List<CompletableFuture<Void>> acks = new ArrayList<>();
    private long nextBatchId = 1;
    /** PushPipeline's unanswered batches: by lane, each outbox seq of a batch left unanswered by an ended session, and that batch. */
    private final Map<String, Map<Long, Long>> unanswered = new HashMap<>();
    private long unansweredBatches;

    Session session;

    record Batch(long id, String lane, List<Long> seqs, List<Change> changes) {
    }

    /** One connection's client side. */
    final class Session {
        final SpaceLink link;
        boolean welcomed;
        boolean caughtUp;
        int maxBatch;
        boolean syncsSpaces;
        final Set<String> known = new HashSet<>();
        final Set<String> leftHere = new HashSet<>();
        final Set<String> live = new HashSet<>();
        final LinkedHashMap<Long, Batch> inFlight = new LinkedHashMap<>();
        final Map<String, Set<Long>> owned = new HashMap<>();

        Session(SpaceLink link) {
            this.link = link;
        }

        Set<Long> owned(String lane) {
            return owned.computeIfAbsent(lane, k -> new HashSet<>());
        }
    }

    SpaceDevice(String user, int index, SpaceSim sim, Path dir) {
        this.user = user;
        this.replica = user + "-d" + index;
        this.sim = sim;
        Cairn.Builder b = Cairn.builder().dataDir(dir).replicaId(replica).wallClock(sim::now);
        for (String section : SpaceSim.SECTIONS) {
            b.section(section, KeySpace.kind(section), KeySpace.POLICY);
        }
        cairn = b.open();
        port = SyncPorts.of(cairn);
        pipelines.put("", new HashSet<>());
    }

    // ------------------------------------------------------------------ the app writing

    /** Writes to a space's copy; a left copy is read-only (the write is refused locally, nothing written). */
    void writeSpace(String id, String section, String key, String value) {
        Space space = cairn.space(id);
        pipeline(id); // SyncClient's onSpaceOpened: an opened space's outbox is pushed from now on
        opChanges.clear();
        var sub = space.onChange(e -> opChanges.add(e.change()));
        try {
            space.map(section).put(key, value);
            spaceWrites.computeIfAbsent(id, k -> new ArrayList<>()).addAll(opChanges);
            checkSpaceReads(id);
        } catch (ValidationException e) {
            if (space.leftReason() == null) {
                throw e;
            }
            sim.stats().readOnlyWrites++;
        } finally {
            sub.close();
        }
    }

    void writeUser(String section, String key, String value) {
        cairn.map(section).put(key, value);
    }

    /** The engine's save of the user's state and every space replica here, a left (read-only) copy's queue too. */
    void save() {
        cairn.save().join();
        for (String id : sim.members.spaces) {
            SyncPort p = port.space(id, false);
            if (p != null) {
                p.save().join();
            }
        }
    }

    /**
     * The monotonic-read and own-write oracle of a space copy: no key of it ever reads an older stamp
     * than this device read or wrote before (a refused write stays until newer data of the space overwrites it).
     */
    void checkSpaceReads(String id) {
        SyncPort p = port.space(id, false);
        if (p == null) {
            return;
        }
        Space space = cairn.space(id);
        for (String section : SpaceSim.SECTIONS) {
            for (int k = 0; k < SpaceSim.KEYS; k++) {
                String target = id + '\u0000' + section + '\u0000' + "k" + k;
                LwwEntry e = space.map(section).entry("k" + k);
                Stamp floor = readFloor.get(target);
                if (floor != null && (e == null || e.stamp().compareTo(floor) < 0)) {
                    throw new AssertionError(replica + " read " + id + ":" + section + "/k" + k + " at " + (e == null ? "none" : e.stamp())
                            + " after it had read or written " + floor + " (a write disappeared or a read went back)");
                }
                if (e != null) {
                    readFloor.put(target, e.stamp());
                }
            }
        }
    }

    private final Map<String, Stamp> readFloor = new HashMap<>();

    // ------------------------------------------------------------------ the sync client

    boolean canConnect() {
        return session == null && sim.now() >= reconnectAt;
    }

    void connect() {
        SpaceLink link = sim.openLink(this);
        session = new Session(link);
        Map<String, Long> cursors = new TreeMap<>();
        for (String id : port.heldSpaces()) {
            SyncPort p = port.space(id, false);
            if (p != null) {
                cursors.put(id, p.cursorForHello());
            }
        }
        session.known.addAll(cursors.keySet());
        sim.trace().add(replica + " hello on link " + link.id + " cursor " + port.cursorForHello() + " spaces " + cursors);
        send(session, new Frame.Hello(Frame.PROTOCOL_VERSION, replica, port.cursorForHello(), Frame.SUPPORTED_VERSIONS, cursors));
    }

    void connectionLost(SpaceLink link) {
        if (session != null && session.link == link) {
            unansweredInFlight(session, b -> true); // PushPipeline.sessionEnded: each goes again as it was
            session = null;
            reconnectAt = sim.now() + 50 + sim.rng().nextInt(500);
        }
    }

    /** The batches in flight on {@code s} that {@code which} takes got no answer: remembered as they were. */
    private void unansweredInFlight(Session s, java.util.function.Predicate<Batch> which) {
        for (Batch b : s.inFlight.values()) {
            if (which.test(b)) {
                long batch = ++unansweredBatches;
                Map<Long, Long> lane = unanswered.computeIfAbsent(b.lane(), k -> new HashMap<>());
                b.seqs().forEach(seq -> lane.put(seq, batch));
            }
        }
    }

    void onFrame(SpaceLink link, String text) {
        Session s = session;
        if (s == null || s.link != link) {
            return;
        }
        Frame frame;
        try {
            frame = FrameCodec.decode(text);
        } catch (ProtocolException e) {
            throw new AssertionError(replica + " could not decode a server frame: " + e.getMessage() + ": " + text);
        }
        if (frame instanceof Frame.Welcome welcome) {
            onWelcome(s, welcome);
        } else if (frame instanceof Frame.Changes page) {
            if (page.space() == null) {
                onUserPage(s, page);
            } else {
                onSpacePage(s, page);
            }
        } else if (frame instanceof Frame.CaughtUp caughtUp) {
            if (caughtUp.space() == null) {
                s.caughtUp = true;
            } else if (s.known.contains(caughtUp.space()) && !s.leftHere.contains(caughtUp.space())) {
                s.live.add(caughtUp.space());
            }
        } else if (frame instanceof Frame.SpaceLeft spaceLeft) {
            onSpaceLeft(s, spaceLeft);
        } else if (frame instanceof Frame.Ack ack) {
            onAck(s, ack);
        } else if (frame instanceof Frame.Error error) {
            onError(s, error);
        } else if (frame instanceof Frame.Ping) {
            send(s, new Frame.Pong());
        }
    }

    private void onWelcome(Session s, Frame.Welcome welcome) {
        s.welcomed = true;
        s.maxBatch = welcome.maxBatch();
        s.syncsSpaces = welcome.protocol() >= Frame.PROTOCOL_V2;
        if (welcome.head() < port.cursor()) {
            port.resetCursor();
        }
        if (s.syncsSpaces && welcome.spaces() != null) {
            for (String id : welcome.spaces().keySet()) {
                joined(s, id);
            }
        }
        for (String id : port.heldSpaces()) {
            pipeline(id);
        }
        pump();
    }

    /** SpaceSync.joined: the session takes the space's pages; a kept copy becomes writable and pushes its queue. */
    private void joined(Session s, String id) {
        s.known.add(id);
        s.leftHere.remove(id);
        left.remove(id);
        keptCut.remove(id);
        port.spaceRejoined(id);
        pipeline(id);
        checkSpaceReads(id);
    }

    private void onUserPage(Session s, Frame.Changes page) {
        Map<String, SectionSpec> sections = port.sections();
        List<Change> changes = new ArrayList<>();
        for (Frame.SeqChange c : page.changes()) {
            if (sections.containsKey(c.change().section())) {
                changes.add(c.change());
            }
        }
        port.applyRemote(changes, page.cursor());
        if (sim.rng().nextInt(4) == 0) {
            save();
        }
        // SpaceSync.afterUserPage: a spaces entry added is a space joined while connected.
        for (String id : port.memberSpaces()) {
            if (!s.known.contains(id)) {
                joined(s, id);
            }
        }
    }

    private void onSpacePage(Session s, Frame.Changes page) {
        String id = page.space();
        if (s.leftHere.contains(id) && port.isMemberOf(id)) {
            joined(s, id); // added again while up: the server catches the space up from 0 after space-left
        }
        if (!(s.known.contains(id) || port.isMemberOf(id)) || s.leftHere.contains(id)) {
            // SpaceSync: a page of a space not said in hello and not a member of, or left on this session:
            // malformed-frame, nothing applied; the session ends and the next resumes from the cursors.
            sim.stats().pageOfLeftSpaceEnds++;
            sim.trace().add(replica + " ends its session on a page of space " + id + " it left or does not know");
            sim.cut(s.link);
            return;
        }
        if (!s.known.contains(id)) {
            joined(s, id);
        }
        SyncPort p = port.space(id, true);
        Map<String, SectionSpec> sections = p.sections();
        List<Change> changes = new ArrayList<>();
        for (Frame.SeqChange c : page.changes()) {
            SectionSpec spec = sections.get(c.change().section());
            if (spec != null && spec.kind() == c.change().kind()) {
                changes.add(c.change());
            }
        }
        sim.checkSpacePage(this, id, page);
        sim.trace().add(replica + " page of " + id + " on link " + s.link.id + ": " + page.changes().size() + " changes, seqs "
                + (page.changes().isEmpty() ? "-" : page.changes().get(0).seq() + ".." + page.changes().get(page.changes().size() - 1).seq())
                + " cursor " + page.cursor() + " (local cursor " + p.cursor() + ")");
        p.applyRemote(changes, page.cursor());
        sim.stats().spacePagesApplied++;
        checkSpaceReads(id);
        if (sim.rng().nextInt(4) == 0) {
            save();
        }
    }

    private void onSpaceLeft(Session s, Frame.SpaceLeft spaceLeft) {
        String id = spaceLeft.space();
        s.leftHere.add(id);
        s.live.remove(id);
        // What was in flight stays in the kept copy's outbox, not pushed (PushPipeline's lane dropped); after a
        // rejoin each such batch goes again as it was (SpaceSync.onSpaceLeft: PushPipeline.sessionEnded).
        unansweredInFlight(s, b -> b.lane().equals(id));
        s.inFlight.values().removeIf(b -> b.lane().equals(id));
        s.owned.remove(id);
        left.add(id);
        Set<Long> acking = pipelines.remove(id);
        if (acking != null) {
            awaitAcks();
        }
        sim.trace().add(replica + " space-left " + id + " (" + spaceLeft.reason() + ")");
        var cuts = s.link.leftAt.get(id);
        Long cut = "not-a-member".equals(spaceLeft.reason()) || cuts == null ? null : cuts.pollFirst();
        keptCut.put(id, "not-a-member".equals(spaceLeft.reason()) || cut == null ? -1L : cut);
        port.spaceLeft(id, spaceLeft.reason(), true);
        checkSpaceReads(id);
    }

    private void onAck(Session s, Frame.Ack ack) {
        Batch batch = s.inFlight.remove(ack.batch());
        if (batch == null) {
            return;
        }
        s.owned(batch.lane()).removeAll(batch.seqs());
        sim.trace().add(replica + " ack batch " + batch.id() + " of " + batch.lane() + ": " + batch.changes());
        acknowledgeLocally(batch);
        pump();
    }

    private void onError(Session s, Frame.Error error) {
        Batch batch = error.batch() == null ? null : s.inFlight.get(error.batch());
        boolean membership = error.code() == ErrorCode.NOT_A_MEMBER || error.code() == ErrorCode.FORBIDDEN;
        if (batch == null && membership) {
            // PushPipeline.onError: a refusal of a batch no lane has in flight (its space was left since) is only reported;
            // its changes stay in the left copy's outbox.
            sim.stats().refusalsOfLeftBatches++;
            sim.trace().add(replica + " refusal of batch " + error.batch() + " no lane has in flight: " + error.code().wire());
            return;
        }
        if (batch != null && !batch.lane().isEmpty() && membership) {
            // PushPipeline.refusedForGood: not retried, not split; visible as refused, then out of the outbox.
            s.inFlight.remove(batch.id());
            s.owned(batch.lane()).removeAll(batch.seqs());
            sim.trace().add(replica + " refused " + error.code().wire() + " batch " + batch.id() + " of " + batch.lane() + ": " + batch.changes());
            port.spaceRefused(batch.lane(), error.code().wire(), batch.changes(), error.message());
            checkSpaceReads(batch.lane()); // refused writes stay visible
            acknowledgeLocally(batch);
            pump();
            return;
        }
        throw new AssertionError(replica + " got an error the simulation never provokes: " + error);
    }

    /** The pipeline of a lane ("" the user's), created on first use; null for a left space or one not held. */
    private Set<Long> pipeline(String lane) {
        Set<Long> p = pipelines.get(lane);
        if (p == null) {
            if (left.contains(lane) || port.space(lane, false) == null) {
                return null;
            }
            p = new HashSet<>();
            pipelines.put(lane, p);
        }
        return p;
    }

    private SyncPort portOf(String lane) {
        return lane.isEmpty() ? port : port.space(lane, false);
    }

    private void acknowledgeLocally(Batch batch) {
        Map<Long, Long> lane = unanswered.get(batch.lane());
        if (lane != null) {
            batch.seqs().forEach(lane::remove);
        }
        Set<Long> acking = pipelines.get(batch.lane());
        if (acking != null) {
            acking.addAll(batch.seqs());
        }
        CompletableFuture<Void> done = portOf(batch.lane()).acknowledge(batch.seqs());
        acks.add(done.thenRun(() -> {
            synchronized (this) {
                if (acking != null) {
                    acking.removeAll(batch.seqs());
                }
            }
        }));
    }

    /** Waits for outbox removals in progress. */
    void awaitAcks() {
        for (CompletableFuture<Void> f : acks) {
            f.join();
        }
        acks.clear();
    }

    /** Sends outbox entries of every lane while the in-flight window has room. */
    void pump() {
        Session s = session;
        if (s == null || !s.welcomed) {
            return;
        }
        awaitAcks(); // the simulation is single-threaded: removals finish before the next read
        for (String lane : new ArrayList<>(pipelines.keySet())) {
            if (!lane.isEmpty() && (!s.syncsSpaces || s.leftHere.contains(lane))) {
                continue;
            }
            Set<Long> acking = pipelines.get(lane);
            Set<Long> owned = s.owned(lane);
            Map<Long, Long> sentBefore = unanswered.getOrDefault(lane, Map.of());
            while (s.inFlight.size() < MAX_IN_FLIGHT) {
                int n = Math.max(1, Math.min(BATCH_SIZE, s.maxBatch));
                List<Long> seqs = new ArrayList<>();
                List<Change> changes = new ArrayList<>();
                Long was = null;
                for (Map.Entry<Long, Change> e : portOf(lane).outbox(owned.size() + acking.size() + n).entrySet()) {
                    if (!owned.contains(e.getKey()) && !acking.contains(e.getKey())) {
                        // PushPipeline.readOutbox: one unanswered batch, or new changes only.
                        Long from = sentBefore.get(e.getKey());
                        if (seqs.isEmpty()) {
                            was = from;
                        } else if (!Objects.equals(from, was)) {
                            break;
                        }
                        seqs.add(e.getKey());
                        changes.add(e.getValue());
                        if (seqs.size() == n) {
                            break;
                        }
                    }
                }
                if (seqs.isEmpty()) {
                    break;
                }
                owned.addAll(seqs);
                long id = nextBatchId++; // unique across the user's and every space's batches
                s.inFlight.put(id, new Batch(id, lane, List.copyOf(seqs), List.copyOf(changes)));
                sim.trace().add(replica + " push batch " + id + " of " + lane + " on link " + s.link.id + ": " + changes);
                send(s, new Frame.Push(id, changes, lane.isEmpty() ? null : lane));
            }
        }
    }

    private void send(Session s, Frame frame) {
        s.link.toServer(FrameCodec.encode(frame));
    }

    /** Live on every space the user is a member of, nothing in flight, nothing pending but a left copy's queue. */
    boolean settled(SpaceServer server) {
        awaitAcks();
        Session s = session;
        if (s == null || !s.welcomed || !s.caughtUp || !s.inFlight.isEmpty() || cairn.pendingChanges() != 0
                || port.cursor() < server.userStore(user).head()) {
            return false;
        }
        for (String id : new TreeSet<>(port.heldSpaces())) {
            if (port.space(id, false).pendingChanges() != 0) {
                return false;
            }
        }
        for (Map.Entry<String, String> e : sim.membersOf(user).entrySet()) {
            SyncPort p = port.space(e.getKey(), false);
            if (!s.live.contains(e.getKey()) || p == null || p.cursor() < server.spaceStore(e.getKey()).head()) {
                return false;
            }
        }
        return true;
    }
}
