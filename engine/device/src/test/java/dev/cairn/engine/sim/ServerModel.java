package dev.cairn.engine.sim;

import dev.cairn.engine.clock.ClockSkewException;
import dev.cairn.engine.clock.HybridClock;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.codec.CanonicalJson;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.LwwEntry;
import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.crdt.TextOrder;
import dev.cairn.engine.protocol.ErrorCode;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.FrameCodec;
import dev.cairn.engine.protocol.ProtocolException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.LongSupplier;

/**
 * One user's sync server, in memory, following PROTOCOL.md and the server's store semantics
 * ({@code server/.../store/UserChanges.java} and {@code JournalServerStore.java}): a batch is merged
 * first (one change per target), the i-th merged change gets {@code previousHead + 1 + i}, keeps
 * that seq only if it altered the state, and the head moves by the merged count (gaps allowed).
 * Map keys keep only the winning entry and its seq; log streams keep visible entries and the
 * watermark; a map section keeps its clear watermark; entries a watermark hides are purged. Push: whole batch checked first (clock bound
 * with the engine's own {@link HybridClock#check}, as {@code SyncSession} does), merged,
 * "committed" and only then acked. Sessions catch up from a cursor one page per server step and
 * then get live changes, the fast path when the session is exactly at the previous head.
 *
 * <p>Every frame in and out goes through the real {@link FrameCodec}.
 */
final class ServerModel {

    /** A change with its seq. */
    record Sequenced(long seq, Change change) {
    }

    record Page(List<Sequenced> changes, long cursor, boolean more) {
    }

    record CommitResult(long previousHead, long head, List<Sequenced> applied) {
    }

    private final int maxBatch;
    private final int pageSize;
    private final long maxAheadMillis;
    private final LongSupplier wall;
    HybridClock clock;
    private final Function<String, SectionKind> kinds;
    private final SimStats stats;
    private final Trace trace;

    // ---- the store (what a commit makes durable; survives a server restart)
    private long head;
    private final TreeMap<Long, Change> bySeq = new TreeMap<>();
    private final HashMap<String, Sequenced> maps = new HashMap<>();
    private final HashMap<String, TreeMap<Stamp, Sequenced>> logs = new HashMap<>();
    private final HashMap<String, Sequenced> watermarks = new HashMap<>();
    /** Every change ever accepted in a committed batch (for the fold check). */
    final List<Change> accepted = new ArrayList<>();
    /** Change identity to the seq that applied it: a second seq for one identity is a duplicate. */
    private final HashMap<Change, Long> seqOf = new HashMap<>();

    // ---- sessions (lost on a server restart)
    final List<ServerSession> sessions = new ArrayList<>();

    private final java.util.Random rng;

    ServerModel(int maxBatch, int pageSize, long maxAheadMillis, LongSupplier wall, Function<String, SectionKind> kinds,
                SimStats stats, Trace trace, java.util.Random rng) {
        this.rng = rng;
        this.maxBatch = maxBatch;
        this.pageSize = pageSize;
        this.maxAheadMillis = maxAheadMillis;
        this.wall = wall;
        this.clock = new HybridClock(wall::getAsLong, "server", maxAheadMillis);
        this.kinds = kinds;
        this.stats = stats;
        this.trace = trace;
    }

    /** A restarted server process starts a fresh clock (the real one keeps it in memory only). */
    void restartProcess() {
        sessions.clear();
        clock = new HybridClock(wall::getAsLong, "server", maxAheadMillis);
    }

    long head() {
        return head;
    }

    /** The highest seq an entry still holds (the head may be higher: seqs have gaps). */
    long lastSeq() {
        return bySeq.isEmpty() ? 0 : bySeq.lastKey();
    }

    /** The session has sent everything up to the head and said caught-up. */
    boolean settled(ServerSession s) {
        return s != null && sessions.contains(s) && s.caughtUp && s.sentCursor == head;
    }

    /** One socket's server side. */
    final class ServerSession {
        final Connection conn;
        boolean welcomed;
        boolean caughtUp;
        long welcomeHead;
        long sentCursor;

        ServerSession(Connection conn) {
            this.conn = conn;
        }

        boolean needsPump() {
            return welcomed && (sentCursor < head || (!caughtUp && sentCursor >= welcomeHead));
        }
    }

    ServerSession open(Connection conn) {
        ServerSession s = new ServerSession(conn);
        sessions.add(s);
        return s;
    }

    void close(ServerSession s) {
        sessions.remove(s);
    }

    // ------------------------------------------------------------------ inbound

    /** A frame from a client arrives on {@code s}'s socket. */
    void receive(ServerSession s, String text) {
        Frame frame;
        try {
            frame = FrameCodec.decode(text);
        } catch (ProtocolException e) {
            throw new AssertionError("the server could not decode a frame the engine's codec wrote: " + e.getMessage() + ": " + text);
        }
        if (frame instanceof Frame.Hello hello) {
            s.welcomed = true;
            s.welcomeHead = head;
            // A cursor beyond our head means the server lost the user's data: send everything.
            s.sentCursor = hello.cursor() > head ? 0 : hello.cursor();
            send(s, new Frame.Welcome(Frame.PROTOCOL_VERSION, "sim-user", head, maxBatch, maxAheadMillis, Frame.Welcome.DEFAULT_MAX_FRAME_BYTES));
        } else if (frame instanceof Frame.Push push) {
            onPush(s, push);
        } else if (frame instanceof Frame.Ping) {
            send(s, new Frame.Pong());
        } else if (!(frame instanceof Frame.Pong)) {
            throw new AssertionError("a client sent a frame only servers send: " + text);
        }
    }

    private void onPush(ServerSession s, Frame.Push push) {
        if (!s.welcomed) {
            throw new AssertionError("a client pushed before hello");
        }
        if (push.changes().size() > maxBatch) {
            throw new AssertionError("a client sent " + push.changes().size() + " changes in one batch; maxBatch is " + maxBatch);
        }
        List<Change> changes = push.changes();
        for (int i = 0; i < changes.size(); i++) {
            Change c = changes.get(i);
            checkSection(c);
            try {
                clock.check(c.stamp());
            } catch (ClockSkewException e) {
                stats.skewRefusedBatches++;
                send(s, new Frame.Error(ErrorCode.CLOCK_SKEW, "change " + i + ": " + e.getMessage(), push.batch()));
                return;
            }
        }
        long now = wall.getAsLong();
        for (Change c : changes) {
            // The bound the real server enforces: nothing accepted is further ahead than maxAheadMillis.
            if (c.stamp().millis() - now > maxAheadMillis) {
                throw new AssertionError("accepted a stamp " + (c.stamp().millis() - now) + " ms ahead of the server clock: " + c);
            }
            clock.observe(c.stamp());
        }
        if (!changes.isEmpty()) {
            CommitResult result = commit(changes);
            stats.pushesCommitted++;
            trace.add("server commit batch=" + push.batch() + " from conn " + s.conn.id + " n=" + changes.size()
                    + " applied=" + result.applied().size() + " head=" + result.head());
            send(s, new Frame.Ack(push.batch())); // only after the commit
            deliver(result);
        } else {
            send(s, new Frame.Ack(push.batch()));
        }
    }

    private void checkSection(Change c) {
        SectionKind kind = kinds.apply(c.section());
        SectionKind needed = c.kind();
        if (kind != needed) {
            throw new AssertionError("a client pushed a change the server would refuse (invalid-change): " + c);
        }
    }

    /** A server-side write (the HTTP API's DELETE /api/sections): stamped by the server's clock. */
    void serverWrite(List<Change> changes) {
        if (changes.isEmpty()) {
            return;
        }
        CommitResult result = commit(changes);
        trace.add("server http write n=" + changes.size() + " head=" + result.head());
        deliver(result);
    }

    // ------------------------------------------------------------------ outbound

    /** After a commit: the fast path for sessions exactly at the previous head, a store read for the rest. */
    private void deliver(CommitResult result) {
        String fast = null;
        for (ServerSession s : sessions) {
            // A session misses the fast path when its write queue is full, a store read is running, or
            // the commit was made on another node (NOTIFY): then it reads from the store (pumpOne).
            boolean busy = rng.nextInt(4) == 0;
            if (!busy && s.welcomed && s.caughtUp && s.sentCursor == result.previousHead()) {
                if (!result.applied().isEmpty()) {
                    if (fast == null) {
                        fast = FrameCodec.encode(changesFrame(result.applied(), result.head()));
                    }
                    sendText(s, fast);
                }
                s.sentCursor = result.head();
            }
            // the others are behind: pumpOne reads their next page from the store
        }
    }

    /** One step of a session's catch-up: the next page since its sent cursor, or caught-up. */
    void pumpOne(ServerSession s) {
        if (s.sentCursor < head) {
            Page page = readSince(s.sentCursor, pageSize);
            if (page.cursor() > s.sentCursor) {
                send(s, changesFrame(page.changes(), page.cursor()));
                s.sentCursor = page.cursor();
            }
        }
        if (!s.caughtUp && s.sentCursor >= s.welcomeHead && s.sentCursor >= head) {
            s.caughtUp = true;
            send(s, new Frame.CaughtUp(s.sentCursor));
        }
    }

    /** At-least-once: re-send an already sent range (harmless by the protocol; a fault the sim injects). */
    boolean resendOld(ServerSession s, long back) {
        long from = Math.max(0, s.sentCursor - back);
        if (!s.welcomed || from >= s.sentCursor) {
            return false;
        }
        Page page = readSince(from, pageSize);
        if (page.changes().isEmpty()) {
            return false;
        }
        long cursor = Math.min(page.cursor(), s.sentCursor);
        List<Sequenced> within = new ArrayList<>();
        for (Sequenced q : page.changes()) {
            if (q.seq() <= cursor) {
                within.add(q);
            }
        }
        send(s, changesFrame(within, cursor));
        return true;
    }

    private static Frame.Changes changesFrame(List<Sequenced> changes, long cursor) {
        List<Frame.SeqChange> out = new ArrayList<>(changes.size());
        for (Sequenced q : changes) {
            out.add(new Frame.SeqChange(q.seq(), q.change()));
        }
        return new Frame.Changes(out, cursor);
    }

    private void send(ServerSession s, Frame frame) {
        sendText(s, FrameCodec.encode(frame));
    }

    private void sendText(ServerSession s, String text) {
        s.conn.toClient(text);
    }

    // ------------------------------------------------------------------ the store

    /** One change per target, as UserChanges.merge: the CRDT winner; appends at or below the batch's own clear dropped. */
    static List<Change> merge(List<Change> changes) {
        LinkedHashMap<String, Change> winners = new LinkedHashMap<>();
        Map<String, Stamp> clears = new HashMap<>();
        for (Change change : changes) {
            if (change instanceof Change.Put put) {
                winners.merge("m\u0000" + put.section() + '\u0000' + put.key(), put,
                        (a, b) -> ((Change.Put) b).entry().beats(((Change.Put) a).entry()) ? b : a);
            } else if (change instanceof Change.Append append) {
                winners.merge("e\u0000" + append.section() + '\u0000' + append.stream() + '\u0000' + append.stamp(), append,
                        (a, b) -> TextOrder.compare(((Change.Append) b).value(), ((Change.Append) a).value()) > 0 ? b : a);
            } else {
                Change.Clear clear = (Change.Clear) change;
                String target = streamKey(clear.section(), clear.stream());
                winners.merge("w\u0000" + target, clear, (a, b) -> b.stamp().compareTo(a.stamp()) > 0 ? b : a);
                clears.merge(target, clear.stamp(), (a, b) -> b.compareTo(a) > 0 ? b : a);
            }
        }
        List<Change> out = new ArrayList<>(winners.size());
        for (Change change : winners.values()) {
            if (change instanceof Change.Append append) {
                Stamp mark = clears.get(streamKey(append.section(), append.stream()));
                if (mark != null && append.stamp().compareTo(mark) <= 0) {
                    continue;
                }
            } else if (change instanceof Change.Put put) {
                Stamp mark = clears.get(streamKey(put.section(), Change.Clear.WHOLE_SECTION));
                if (mark != null && put.stamp().compareTo(mark) <= 0) {
                    continue;
                }
            }
            out.add(change);
        }
        return out;
    }

    private CommitResult commit(List<Change> batch) {
        accepted.addAll(batch);
        List<Change> merged = merge(batch);
        long previousHead = head;
        List<Sequenced> applied = new ArrayList<>();
        for (int i = 0; i < merged.size(); i++) {
            long seq = previousHead + 1 + i;
            Change change = merged.get(i);
            boolean altered;
            if (change instanceof Change.Put put) {
                altered = put(put, seq);
            } else if (change instanceof Change.Append append) {
                altered = append(append, seq);
            } else {
                altered = clear((Change.Clear) change, seq);
            }
            if (altered) {
                Long before = seqOf.putIfAbsent(change, seq);
                if (before != null) {
                    throw new AssertionError("duplicate: change " + change + " got seq " + seq + " but already had seq " + before);
                }
                applied.add(new Sequenced(seq, change));
            } else {
                stats.changesAlteringNothing++;
            }
        }
        head = previousHead + merged.size();
        stats.seqsGiven += applied.size();
        return new CommitResult(previousHead, head, List.copyOf(applied));
    }

    private static String streamKey(String section, String stream) {
        return section + '\u0000' + stream;
    }

    private boolean put(Change.Put put, long seq) {
        Sequenced mark = watermarks.get(streamKey(put.section(), Change.Clear.WHOLE_SECTION));
        if (mark != null && put.stamp().compareTo(mark.change().stamp()) <= 0) {
            return false;
        }
        String key = put.section() + '\u0000' + put.key();
        Sequenced old = maps.get(key);
        if (old != null) {
            if (!put.entry().beats(((Change.Put) old.change()).entry())) {
                return false;
            }
            bySeq.remove(old.seq());
        }
        maps.put(key, new Sequenced(seq, put));
        bySeq.put(seq, put);
        return true;
    }

    private boolean append(Change.Append append, long seq) {
        String stream = streamKey(append.section(), append.stream());
        Sequenced mark = watermarks.get(stream);
        if (mark != null && append.stamp().compareTo(mark.change().stamp()) <= 0) {
            return false;
        }
        TreeMap<Stamp, Sequenced> entries = logs.computeIfAbsent(stream, k -> new TreeMap<>());
        Sequenced old = entries.get(append.stamp());
        if (old != null) {
            if (TextOrder.compare(append.value(), ((Change.Append) old.change()).value()) <= 0) {
                return false;
            }
            bySeq.remove(old.seq());
        }
        entries.put(append.stamp(), new Sequenced(seq, append));
        bySeq.put(seq, append);
        return true;
    }

    private boolean clear(Change.Clear clear, long seq) {
        String stream = streamKey(clear.section(), clear.stream());
        Sequenced old = watermarks.get(stream);
        if (old != null) {
            if (clear.stamp().compareTo(old.change().stamp()) <= 0) {
                return false;
            }
            bySeq.remove(old.seq());
        }
        watermarks.put(stream, new Sequenced(seq, clear));
        bySeq.put(seq, clear);
        if (clear.isWholeSection()) {
            // A map section's clear purges its values and tombstones at once.
            String prefix = clear.section() + '\u0000';
            maps.entrySet().removeIf(e -> {
                if (e.getKey().startsWith(prefix) && e.getValue().change().stamp().compareTo(clear.stamp()) <= 0) {
                    bySeq.remove(e.getValue().seq());
                    return true;
                }
                return false;
            });
            return true;
        }
        TreeMap<Stamp, Sequenced> entries = logs.get(stream);
        if (entries != null) {
            NavigableMap<Stamp, Sequenced> hidden = entries.headMap(clear.stamp(), true);
            for (Sequenced h : hidden.values()) {
                bySeq.remove(h.seq());
            }
            hidden.clear();
        }
        return true;
    }

    /** As ServerStore.readSince: changes with seq > cursor in seq order; cursor is the head when nothing more is left. */
    Page readSince(long cursor, int limit) {
        List<Sequenced> changes = new ArrayList<>();
        boolean more = false;
        for (Map.Entry<Long, Change> e : bySeq.tailMap(cursor, false).entrySet()) {
            if (changes.size() == limit) {
                more = true;
                break;
            }
            changes.add(new Sequenced(e.getKey(), e.getValue()));
        }
        long last = changes.isEmpty() ? 0L : changes.get(changes.size() - 1).seq();
        return new Page(changes, more ? last : Math.max(head, last), more);
    }

    /** The server's view: its store read from 0 and folded into a fresh replica, canonically encoded. */
    String canonicalFromStore() {
        ReplicaState state = new ReplicaState(kinds);
        long cursor = 0;
        while (true) {
            Page page = readSince(cursor, 1000);
            page.changes().forEach(q -> state.apply(q.change()));
            cursor = page.cursor();
            if (!page.more()) {
                break;
            }
        }
        return CanonicalJson.encode(state);
    }

    /** Every accepted change folded by the merge rules, canonically encoded. */
    ReplicaState foldAccepted() {
        ReplicaState state = new ReplicaState(kinds);
        accepted.forEach(state::apply);
        return state;
    }

    /** The winning map entry for a key in the store (null if never written). */
    LwwEntry entry(String section, String key) {
        Sequenced q = maps.get(section + '\u0000' + key);
        return q == null ? null : ((Change.Put) q.change()).entry();
    }
}
