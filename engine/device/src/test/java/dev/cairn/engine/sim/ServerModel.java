package dev.cairn.engine.sim;

import dev.cairn.engine.clock.ClockSkewException;
import dev.cairn.engine.clock.HybridClock;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.LwwEntry;
import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.protocol.ErrorCode;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.FrameCodec;
import dev.cairn.engine.protocol.ProtocolException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.LongSupplier;

/**
 * One user's sync server, in memory, following PROTOCOL.md, on one {@link StoreModel} (the
 * server store's merge and seq rules). Push: whole batch checked first (clock bound
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
    final StoreModel store;

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
        this.store = new StoreModel("sim-user", kinds, stats);
    }

    /** A restarted server process starts a fresh clock (the real one keeps it in memory only). */
    void restartProcess() {
        sessions.clear();
        clock = new HybridClock(wall::getAsLong, "server", maxAheadMillis);
    }

    long head() {
        return store.head();
    }

    long lastSeq() {
        return store.lastSeq();
    }

    /** The session has sent everything up to the head and said caught-up. */
    boolean settled(ServerSession s) {
        return s != null && sessions.contains(s) && s.caughtUp && s.sentCursor == store.head();
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
            return welcomed && (sentCursor < store.head() || (!caughtUp && sentCursor >= welcomeHead));
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
            s.welcomeHead = store.head();
            // A cursor beyond our head means the server lost the user's data: send everything.
            s.sentCursor = hello.cursor() > store.head() ? 0 : hello.cursor();
            send(s, new Frame.Welcome(Frame.PROTOCOL_VERSION, "sim-user", store.head(), maxBatch, maxAheadMillis, Frame.Welcome.DEFAULT_MAX_FRAME_BYTES));
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
        if (s.sentCursor < store.head()) {
            Page page = readSince(s.sentCursor, pageSize);
            if (page.cursor() > s.sentCursor) {
                send(s, changesFrame(page.changes(), page.cursor()));
                s.sentCursor = page.cursor();
            }
        }
        if (!s.caughtUp && s.sentCursor >= s.welcomeHead && s.sentCursor >= store.head()) {
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

    /** The winning map entry for a key in the store (null if never written). */
    LwwEntry entry(String section, String key) {
        return store.entry(section, key);
    }

    Page readSince(long cursor, int limit) {
        return store.readSince(cursor, limit);
    }

    String canonicalFromStore() {
        return store.canonicalFromStore();
    }

    ReplicaState foldAccepted() {
        return store.foldAccepted();
    }

    private CommitResult commit(List<Change> changes) {
        return store.commit(changes);
    }
}
