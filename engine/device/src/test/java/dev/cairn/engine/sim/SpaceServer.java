package dev.cairn.engine.sim;

import dev.cairn.engine.clock.HybridClock;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.protocol.ErrorCode;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.FrameCodec;
import dev.cairn.engine.protocol.ProtocolException;
import dev.cairn.engine.section.SpaceSections;
import dev.cairn.engine.sim.ServerModel.Page;
import dev.cairn.engine.sim.ServerModel.Sequenced;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.LongSupplier;

/**
 * A sync server of several users and their spaces, in memory, following PROTOCOL.md 8: one
 * {@link StoreModel} per store key (each user's, and {@code space:<id>}), membership in
 * {@link MembershipModel}, sessions that belong to a user: hello's {@code spaces} cursors,
 * welcome's {@code spaces} (role, head), each space caught up after the user's own
 * {@code caught-up}, live pages of a space to every session of every member, a space joined while
 * up caught up from 0 once the page with its {@code spaces} entry went out, pushes checked against
 * the membership as of their commit ({@code not-a-member}; {@code forbidden} for a viewer: the
 * whole batch refused, unless it alters nothing: acknowledged) and the removal a cut (nothing of the space at or after it reaches that
 * user's sessions) followed by {@code space-left}. Pages come from the store (one per lane per
 * pump), so live and catch-up pages take one path. Every frame goes through the real {@link FrameCodec}.
 */
final class SpaceServer {

    final int maxBatch;
    final int pageSize;
    final long maxAheadMillis;
    final HybridClock clock;
    private final Function<String, SectionKind> kinds;
    private final SimStats stats;
    private final Trace trace;
    final MembershipModel members;
    private final Map<String, StoreModel> userStores = new TreeMap<>();
    private final Map<String, StoreModel> spaceStores = new TreeMap<>();
    /** The author user of every accepted space change (the check that nobody wrote without the right). */
    final Map<Change, String> authorOf = new HashMap<>();
    /**
     * The author's role when each space change was first committed: SpaceChecks requires editor or owner, except for a
     * change first sent in a batch that altered nothing (acknowledged without the right: it changed nothing).
     */
    final Map<Change, String> roleAtCommit = new HashMap<>();
    static final String ALTERED_NOTHING = "(altered nothing)";
    final List<Session> sessions = new ArrayList<>();

    SpaceServer(int maxBatch, int pageSize, long maxAheadMillis, LongSupplier wall, Function<String, SectionKind> kinds,
                SimStats stats, Trace trace, MembershipModel members) {
        this.maxBatch = maxBatch;
        this.pageSize = pageSize;
        this.maxAheadMillis = maxAheadMillis;
        this.clock = new HybridClock(wall::getAsLong, "server", maxAheadMillis);
        this.kinds = kinds;
        this.stats = stats;
        this.trace = trace;
        this.members = members;
        for (String u : members.users) {
            userStores.put(u, new StoreModel(u, kinds, stats));
        }
        for (String s : members.spaces) {
            spaceStores.put(s, new StoreModel("space:" + s, kinds, stats));
        }
    }

    StoreModel userStore(String user) {
        return userStores.get(user);
    }

    StoreModel spaceStore(String space) {
        return spaceStores.get(space);
    }

    /** One space as one session serves it. */
    static final class View {
        long sent;
        long welcomeHead;
        boolean caughtUp;
        /** The seq of the removal entry that ends this membership (nothing at or after it goes out), or MAX. */
        long cut = Long.MAX_VALUE;
        String reason;
    }

    /** One socket's server side; it belongs to a user. */
    final class Session {
        final SpaceLink link;
        final String user;
        boolean welcomed;
        boolean caughtUp;
        long welcomeHead;
        long sent;
        /** The session syncs spaces (hello had {@code spaces} and negotiated version 2). */
        boolean spaces;
        final Map<String, View> views = new TreeMap<>();

        Session(SpaceLink link, String user) {
            this.link = link;
            this.user = user;
        }

        boolean hasWork() {
            if (!welcomed) {
                return false;
            }
            if (sent < userStore(user).head() || !caughtUp) {
                return true;
            }
            for (Map.Entry<String, View> e : views.entrySet()) {
                View v = e.getValue();
                if (v.cut != Long.MAX_VALUE || !v.caughtUp || v.sent < spaceStore(e.getKey()).head()) {
                    return true;
                }
            }
            return joinable() != null;
        }

        /** A space the user joined whose {@code spaces} entry this session has sent, not yet served. */
        String joinable() {
            if (!spaces) {
                return null;
            }
            for (String s : members.spaces) {
                if (!views.containsKey(s) && members.role(s, user) != null && members.addedAt(user, s) <= sent) {
                    return s;
                }
            }
            return null;
        }
    }

    Session open(SpaceLink link, String user) {
        Session s = new Session(link, user);
        sessions.add(s);
        return s;
    }

    void close(Session s) {
        sessions.remove(s);
    }

    // ------------------------------------------------------------------ inbound

    void receive(Session s, String text) {
        Frame frame;
        try {
            frame = FrameCodec.decode(text);
        } catch (ProtocolException e) {
            throw new AssertionError("the server could not decode a frame the engine's codec wrote: " + e.getMessage() + ": " + text);
        }
        if (frame instanceof Frame.Hello hello) {
            onHello(s, hello);
        } else if (frame instanceof Frame.Push push) {
            onPush(s, push);
        } else if (frame instanceof Frame.Ping) {
            send(s, new Frame.Pong());
        } else if (!(frame instanceof Frame.Pong) && !(frame instanceof Frame.Presence)) {
            throw new AssertionError("a client sent a frame only servers send: " + text);
        }
    }

    private void onHello(Session s, Frame.Hello hello) {
        if (s.welcomed) {
            throw new AssertionError("a second hello on one socket");
        }
        int version = hello.negotiate(Frame.SUPPORTED_VERSIONS);
        if (hello.spaces() != null && (hello.versions() == null || !hello.versions().contains(Frame.PROTOCOL_V2))) {
            throw new AssertionError("hello with spaces that does not offer version 2 (malformed-frame): " + hello);
        }
        StoreModel store = userStore(s.user);
        s.welcomed = true;
        s.welcomeHead = store.head();
        s.sent = hello.cursor() > store.head() ? 0 : hello.cursor();
        s.spaces = hello.spaces() != null && version >= Frame.PROTOCOL_V2;
        Map<String, Frame.SpaceInfo> infos = null;
        List<String> notMember = new ArrayList<>();
        if (s.spaces) {
            infos = new TreeMap<>();
            for (String id : members.spaces) {
                String role = members.role(id, s.user);
                if (role != null) {
                    StoreModel space = spaceStore(id);
                    infos.put(id, new Frame.SpaceInfo(role, space.head()));
                    View v = new View();
                    Long cursor = hello.spaces().get(id);
                    v.sent = cursor == null || cursor > space.head() ? 0 : cursor;
                    v.welcomeHead = space.head();
                    s.views.put(id, v);
                }
            }
            for (String id : hello.spaces().keySet()) {
                if (!infos.containsKey(id)) {
                    notMember.add(id);
                }
            }
        }
        send(s, new Frame.Welcome(version, s.user, store.head(), maxBatch, maxAheadMillis, Frame.Welcome.DEFAULT_MAX_FRAME_BYTES,
                sectionList(), infos));
        for (String id : notMember) {
            send(s, new Frame.SpaceLeft(id, "not-a-member"));
            stats.spaceLeftSent++;
        }
    }

    private Map<String, String> sectionList() {
        Map<String, String> out = new TreeMap<>();
        for (String name : SpaceSim.SECTIONS) {
            out.put(name, kinds.apply(name) == SectionKind.MAP ? "map" : "log");
        }
        return out;
    }

    private void onPush(Session s, Frame.Push push) {
        if (!s.welcomed) {
            throw new AssertionError("a client pushed before hello");
        }
        if (push.changes().size() > maxBatch) {
            throw new AssertionError("a client sent " + push.changes().size() + " changes in one batch; maxBatch is " + maxBatch);
        }
        for (Change c : push.changes()) {
            if (SpaceSections.RESERVED.contains(c.section()) || kinds.apply(c.section()) != c.kind()) {
                throw new AssertionError("a client pushed a change the server refuses (forbidden or invalid-change): " + c);
            }
            clock.check(c.stamp()); // device clocks stay within the bound here: a skew would fail the run
            clock.observe(c.stamp());
        }
        if (push.space() == null) {
            if (!push.changes().isEmpty()) {
                long seq = commitAndCount(userStore(s.user), push.changes());
                trace.add("server commit user " + s.user + " batch=" + push.batch() + " n=" + push.changes().size() + " head=" + seq);
            }
            send(s, new Frame.Ack(push.batch()));
            return;
        }
        if (!s.spaces) {
            throw new AssertionError("a space push in a session that syncs no space (malformed-frame)");
        }
        String space = push.space();
        if (push.changes().isEmpty()) {
            send(s, new Frame.Ack(push.batch())); // nothing to authorize (PROTOCOL.md 8.2)
            return;
        }
        // The membership as of this commit: the check and a removal are serialized.
        String role = spaceStores.containsKey(space) ? members.role(space, s.user) : null;
        if (role == null || role.equals(SpaceSections.VIEWER)) {
            ErrorCode code = role == null ? ErrorCode.NOT_A_MEMBER : ErrorCode.FORBIDDEN;
            StoreModel target = spaceStores.get(space);
            if (target != null && !target.wouldAlter(push.changes())) {
                // The check refuses only a batch that would write (PROTOCOL.md 8.2): one whose changes are all stored or
                // superseded (a re-send after a lost ack) is committed, altering nothing, and acknowledged.
                for (Change c : push.changes()) {
                    authorOf.putIfAbsent(c, s.user);
                    roleAtCommit.putIfAbsent(c, ALTERED_NOTHING);
                }
                ServerModel.CommitResult r = target.commit(push.changes());
                if (!r.applied().isEmpty()) {
                    throw new AssertionError("a batch of " + s.user + ", who may not write space " + space + ", altered it: " + r.applied());
                }
                stats.resendsAckedWithoutRight++;
                trace.add("server acks " + s.user + "'s batch altering nothing of space " + space + " (role " + role + ") batch="
                        + push.batch());
                send(s, new Frame.Ack(push.batch()));
                return;
            }
            for (Change c : push.changes()) {
                if (target != null && target.hasAccepted(c)) {
                    // Clients send an unanswered batch again as it was, never beside new writes (PROTOCOL.md 3.3).
                    throw new AssertionError(s.user + " sent " + c + ", which space " + space + " accepted before, beside a change that"
                            + " would write: the batch is refused whole, so an accepted change would be listed as refused");
                }
            }
            stats.spaceBatchesRefused++;
            trace.add("server refuses " + code.wire() + " " + s.user + " space " + space + " batch=" + push.batch());
            send(s, new Frame.Error(code, code == ErrorCode.NOT_A_MEMBER ? "not a member of space '" + space + "'"
                    : "a viewer cannot write space '" + space + "'", push.batch(), space));
            return;
        }
        for (Change c : push.changes()) {
            authorOf.putIfAbsent(c, s.user);
            roleAtCommit.putIfAbsent(c, role);
        }
        long head = commitAndCount(spaceStore(space), push.changes());
        stats.spaceBatchesCommitted++;
        trace.add("server commit space " + space + " by " + s.user + " batch=" + push.batch() + " head=" + head);
        send(s, new Frame.Ack(push.batch()));
    }

    private long commitAndCount(StoreModel store, List<Change> changes) {
        stats.pushesCommitted++;
        return store.commit(changes).head();
    }

    /** A server-written commit (membership): returns the seq of its single change. */
    long commitServer(StoreModel store, List<Change> changes) {
        ServerModel.CommitResult r = store.commit(changes);
        if (r.applied().size() != 1) {
            throw new AssertionError("a membership entry the server wrote altered nothing: " + changes);
        }
        return r.applied().get(0).seq();
    }

    /** A removal committed at {@code seq}: every session of the user serving the space stops there. */
    void cut(String space, String user, long seq, String reason) {
        for (Session s : sessions) {
            View v = s.views.get(space);
            if (s.user.equals(user) && v != null && v.cut == Long.MAX_VALUE) {
                v.cut = seq;
                v.reason = reason;
            }
        }
    }

    // ------------------------------------------------------------------ outbound

    /** One step of a session: the user's next page or caught-up, then one frame per space it serves. */
    void pump(Session s) {
        if (!s.welcomed) {
            return;
        }
        StoreModel store = userStore(s.user);
        if (s.sent < store.head()) {
            Page page = store.readSince(s.sent, pageSize);
            send(s, changesFrame(page.changes(), page.cursor(), null));
            s.sent = page.cursor();
        }
        if (!s.caughtUp && s.sent >= s.welcomeHead && s.sent >= store.head()) {
            s.caughtUp = true;
            send(s, new Frame.CaughtUp(s.sent));
        }
        if (!s.caughtUp || !s.spaces) {
            return;
        }
        String joined = s.joinable();
        if (joined != null) {
            View v = new View();
            v.welcomeHead = spaceStore(joined).head();
            s.views.put(joined, v); // caught up from 0 (PROTOCOL.md 8.1)
        }
        for (String id : new ArrayList<>(s.views.keySet())) {
            pumpSpace(s, id, s.views.get(id));
        }
    }

    private void pumpSpace(Session s, String id, View v) {
        StoreModel store = spaceStore(id);
        long limit = v.cut == Long.MAX_VALUE ? store.head() : v.cut - 1;
        if (v.sent < limit) {
            Page page = store.readSince(v.sent, pageSize);
            List<Sequenced> within = new ArrayList<>();
            for (Sequenced q : page.changes()) {
                if (q.seq() <= limit && !q.change().section().equals(SpaceSections.INVITATIONS)) {
                    within.add(q);
                }
            }
            long cursor = Math.min(page.cursor(), limit);
            send(s, changesFrame(within, cursor, id));
            v.sent = cursor;
            return;
        }
        if (v.cut != Long.MAX_VALUE) {
            s.views.remove(id);
            stats.spaceLeftSent++;
            s.link.leftAt.computeIfAbsent(id, k -> new java.util.ArrayDeque<>()).addLast(v.cut);
            send(s, new Frame.SpaceLeft(id, v.reason));
            return;
        }
        if (!v.caughtUp && v.sent >= v.welcomeHead) {
            v.caughtUp = true;
            send(s, new Frame.CaughtUp(v.sent, id));
        }
    }

    private static Frame.Changes changesFrame(List<Sequenced> changes, long cursor, String space) {
        List<Frame.SeqChange> out = new ArrayList<>(changes.size());
        for (Sequenced q : changes) {
            out.add(new Frame.SeqChange(q.seq(), q.change()));
        }
        return new Frame.Changes(out, cursor, space);
    }

    private void send(Session s, Frame frame) {
        s.link.toClient(FrameCodec.encode(frame));
    }
}
