package dev.cairn.engine.sync;

import dev.cairn.engine.LeftSpaceCopy;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.section.SectionSpec;
import dev.cairn.engine.sync.internal.SyncPort;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The spaces over the user's socket (PROTOCOL.md 8): hello's cursors, welcome's spaces, each
 * space's catch-up, live pages and caught-up applied to its own replica, space-left (keep or drop),
 * spaces joined while connected, and presence. Sync thread only, except {@link #status}.
 */
final class SpaceSync {

    /** How often a set presence is sent again (PROTOCOL.md 8.6): 2 s after it was last sent. */
    static final Duration PRESENCE_REFRESH = Duration.ofSeconds(2);
    /** How often the refresh looks whether a presence is due. */
    static final Duration PRESENCE_TICK = Duration.ofMillis(100);
    /** The socket's presence rate, under the server's 10 frames a second (PROTOCOL.md 8.6): a frame at most every 150 ms. */
    static final Duration PRESENCE_MIN_GAP = Duration.ofMillis(150);

    private static final System.Logger LOG = SyncLoop.LOG;

    private final SyncClient c;
    private final SyncLoop loop;
    private final LeftSpaceCopy onLeft;
    /** Each space's status, sync thread only; {@link #published} is its copy for other threads. */
    private final Map<String, Mutable> statuses = new TreeMap<>();
    private volatile Map<String, SpaceStatus> published = Map.of();
    /** The pipelines of the spaces' outboxes, by space id. */
    final Map<String, PushPipeline> pipelines = new TreeMap<>();

    private static final class Mutable {
        SpaceSyncState state = SpaceSyncState.OFFLINE;
        int refused;
        String left;
        String role;
    }

    SpaceSync(SyncClient client, SyncLoop loop, LeftSpaceCopy onLeft) {
        this.c = client;
        this.loop = loop;
        this.onLeft = onLeft;
    }

    /** hello's {@code spaces}: each space held here with its cursor; starts the session's space view. */
    Map<String, Long> hello(Session s) {
        Map<String, Long> cursors = new TreeMap<>();
        for (String id : c.port.heldSpaces()) {
            SyncPort port = c.port.space(id, false);
            if (port != null) {
                cursors.put(id, port.cursorForHello());
            }
        }
        s.spaces = new SpaceSession(cursors.keySet());
        return cursors;
    }

    void onWelcome(Session s, Frame.Welcome welcome) {
        if (s.spaces == null) {
            return;
        }
        if (s.protocol < Frame.PROTOCOL_V2) {
            s.spaces = null; // a version 1 session ignores spaces (PROTOCOL.md 8.1)
            return;
        }
        Map<String, Frame.SpaceInfo> spaces = welcome.spaces() == null ? Map.of() : welcome.spaces();
        for (String id : s.spaces.known) {
            mutable(id).state = SpaceSyncState.CATCHING_UP;
        }
        for (Map.Entry<String, Frame.SpaceInfo> e : spaces.entrySet()) {
            joined(s, e.getKey());
            mutable(e.getKey()).role = e.getValue().role();
        }
        openPipelines();
        publish();
    }

    /** The session knows the user is a member (welcome, or joined while up): its presence may go now. */
    private void member(Session s, String id) {
        if (s.spaces.present.add(id)) {
            queuePresence(s, id, false);
        }
    }

    /** A space the user is a member of on this session: its pages are taken from now on. */
    private void joined(Session s, String id) {
        s.spaces.known.add(id);
        s.spaces.left.remove(id);
        member(s, id);
        Mutable m = mutable(id);
        m.state = SpaceSyncState.CATCHING_UP;
        m.left = null;
        try {
            c.port.spaceRejoined(id);
            pipeline(id); // a kept copy of an earlier membership pushes what it queued
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "cairn sync: space " + id + ": " + SyncLoop.messageOf(e));
        }
    }

    /** A space joined while the session is up: a kept copy's queue goes now, not at its next write. */
    private void joinedDuringSession(Session s, String id) {
        joined(s, id);
        PushPipeline p = pipelines.get(id);
        if (p != null) {
            p.pump();
        }
    }

    /**
     * After a page of the user's own state: an entry added to the user's {@code spaces} section
     * is a space joined while connected; the server catches it up from 0 (PROTOCOL.md 8.1).
     */
    void afterUserPage(Session s) {
        if (s.spaces == null) {
            return;
        }
        boolean changed = false;
        for (String id : c.port.memberSpaces()) {
            if (!s.spaces.known.contains(id)) {
                joinedDuringSession(s, id);
                changed = true;
            }
        }
        if (changed) {
            publish();
        }
    }

    void onChanges(Session s, Frame.Changes page) {
        String id = page.space();
        if (s.spaces != null && s.spaces.left.contains(id) && c.port.isMemberOf(id)) {
            // Added again while the session is up: after space-left the server catches the space up from 0
            // on this session (PROTOCOL.md 8.1, 8.4; found by the simulator, SpacesSimTest), so join it again.
            joinedDuringSession(s, id);
        }
        if (s.spaces == null || !(s.spaces.known.contains(id) || c.port.isMemberOf(id)) || s.spaces.left.contains(id)) {
            // PROTOCOL.md 8.3: a space this client did not say and is not a member of: malformed-frame.
            // Nothing of it is applied; the session ends and the next one resumes from the cursors.
            c.connection.undecodable(s, "a page of space '" + id + "', which this client did not say in hello and is not a member of");
            return;
        }
        if (!s.spaces.known.contains(id)) {
            joinedDuringSession(s, id);
        }
        SyncPort port;
        try {
            port = c.port.space(id, true);
            Map<String, SectionSpec> sections = port.sections();
            List<Change> changes = new ArrayList<>(page.changes().size());
            for (Frame.SeqChange sc : page.changes()) {
                SectionSpec spec = sections.get(sc.change().section());
                if (spec != null && spec.kind() == sc.change().kind()) {
                    changes.add(sc.change()); // other sections: another app's, or a newer version's
                }
            }
            port.applyRemote(changes, page.cursor());
        } catch (RuntimeException e) {
            // As for the user's pages: never move the space's cursor past changes not applied.
            c.connection.pullFailed();
            c.connection.end(s, "apply-failed", "could not apply changes of space '" + id + "' from the server (cursor kept; "
                    + "pulling again on a new connection): " + SyncLoop.messageOf(e), true);
            return;
        }
        publish();
    }

    void onCaughtUp(Session s, Frame.CaughtUp caughtUp) {
        String id = caughtUp.space();
        if (s.spaces == null || !s.spaces.known.contains(id) || s.spaces.left.contains(id)) {
            return;
        }
        s.spaces.live.add(id);
        mutable(id).state = SpaceSyncState.LIVE;
        publish();
        c.waiters.check(); // a syncNow may wait for this space
    }

    void onSpaceLeft(Session s, Frame.SpaceLeft left) {
        String id = left.space();
        PushPipeline pipeline = pipelines.get(id);
        if (onLeft == LeftSpaceCopy.DROP) {
            c.unanswered.remove(id); // the copy and its queue go
        } else if (pipeline != null) {
            pipeline.sessionEnded(s); // its batches in flight stay in the kept copy; after a rejoin they go again as they were
        }
        if (s.spaces != null) {
            s.spaces.left.add(id);
            s.spaces.live.remove(id);
            s.spaces.present.remove(id);
            Session.Lane lane = s.spaceLanes.remove(id);
            if (lane != null) {
                lane.retry.cancelAll(); // what was in flight stays in the kept copy's outbox, not pushed
            }
        }
        Mutable m = mutable(id);
        m.state = SpaceSyncState.LEFT;
        m.left = left.reason();
        pipelines.remove(id);
        c.waiters.spaceLeft(id, left.reason());
        try {
            c.port.spaceLeft(id, left.reason(), onLeft == LeftSpaceCopy.KEEP);
        } catch (RuntimeException e) {
            loop.report("local-store", "could not " + (onLeft == LeftSpaceCopy.KEEP ? "mark" : "drop") + " the copy of left space '" + id
                    + "': " + SyncLoop.messageOf(e));
            LOG.log(System.Logger.Level.WARNING, "cairn sync: " + loop.lastError);
        }
        publish();
    }

    void refused(String space, int count) {
        mutable(space).refused += count;
        publish();
    }

    /** The pipeline of a space's outbox, created on first use; null if the space was left. */
    PushPipeline pipeline(String id) {
        PushPipeline p = pipelines.get(id);
        if (p == null) {
            Mutable m = statuses.get(id);
            if (m != null && m.state == SpaceSyncState.LEFT) {
                return null;
            }
            SyncPort port = c.port.space(id, false);
            if (port == null) {
                return null;
            }
            p = new PushPipeline(c, loop, port, id);
            pipelines.put(id, p);
        }
        return p;
    }

    /**
     * Pumps every space's outbox that has a pipeline: those held at hello (welcome makes them,
     * {@link #openPipelines}) and those the app opened since ({@link SyncClient}'s onSpaceOpened).
     * No directory listing per write.
     */
    void pumpAll() {
        for (PushPipeline p : new ArrayList<>(pipelines.values())) {
            p.pump();
        }
    }

    /** Makes the pipelines of every space held here (at welcome: hello opened them all). */
    void openPipelines() {
        for (String id : c.port.heldSpaces()) {
            pipeline(id);
        }
    }

    // ---- presence (PROTOCOL.md 8.6)

    void onPresence(Session s, Frame.Presence presence) {
        if (s.spaces == null || presence.user() == null || s.spaces.left.contains(presence.space())) {
            return;
        }
        c.port.peerPresence(presence.space(), presence.user(), presence.replica(), presence.state());
    }

    /** The app set or withdrew its presence in {@code id}: sent on a live session as soon as the socket's rate allows. */
    void ownPresenceChanged(Session s, String id) {
        if (s != null && s.current() && s.spaces != null && s.spaces.present.contains(id)) {
            queuePresence(s, id, true);
        }
    }

    /** Each tick: a set presence last sent 2 s ago goes again, so the server keeps it (it drops one not refreshed for 5 s). */
    void refreshPresence(Session s) {
        if (s.spaces == null || !s.current()) {
            return;
        }
        long now = System.nanoTime();
        for (String id : s.spaces.present) {
            Long at = s.spaces.presenceSentAt.get(id);
            if (at != null && now - at >= PRESENCE_REFRESH.toNanos()) {
                queuePresence(s, id, false);
            }
        }
    }

    /**
     * Sends {@code id}'s presence as it is when it goes (null: withdrawn, sent only if {@code changed})
     * once the socket's rate allows: one frame per {@link #PRESENCE_MIN_GAP}, so a state set several
     * times within a gap goes once, the latest.
     */
    private void queuePresence(Session s, String id, boolean changed) {
        s.spaces.presenceWaiting.merge(id, changed, Boolean::logicalOr);
        if (s.spaces.presenceTimer == null) {
            sendWaitingPresence(s, s.spaces);
        }
    }

    private void sendWaitingPresence(Session s, SpaceSession spaces) {
        var waiting = spaces.presenceWaiting.entrySet().iterator();
        while (waiting.hasNext()) {
            long wait = spaces.presenceFrameSent ? spaces.presenceFrameAt + PRESENCE_MIN_GAP.toNanos() - System.nanoTime() : 0;
            if (wait > 0) {
                spaces.presenceTimer = loop.schedule(() -> {
                    spaces.presenceTimer = null;
                    if (s.current() && s.spaces == spaces) {
                        sendWaitingPresence(s, spaces);
                    }
                }, wait);
                return;
            }
            Map.Entry<String, Boolean> next = waiting.next();
            waiting.remove();
            String id = next.getKey();
            if (!spaces.present.contains(id)) {
                continue; // left meanwhile: the server withdrew it
            }
            String state = c.port.ownPresence(id);
            if (state != null || next.getValue()) {
                c.connection.send(s, new Frame.Presence(id, state)); // null withdraws it, once
                spaces.presenceFrameAt = System.nanoTime();
                spaces.presenceFrameSent = true;
            }
            stamp(s, id, state);
        }
    }

    private static void stamp(Session s, String id, String state) {
        if (state == null) {
            s.spaces.presenceSentAt.remove(id);
        } else {
            s.spaces.presenceSentAt.put(id, System.nanoTime());
        }
    }

    /** The session ended: no space is live, and nobody is known to be present. */
    void sessionEnded() {
        for (Mutable m : statuses.values()) {
            if (m.state != SpaceSyncState.LEFT) {
                m.state = SpaceSyncState.OFFLINE;
            }
        }
        try {
            c.port.clearPresence();
        } catch (RuntimeException e) {
            // a closed engine: nothing to clear
        }
        publish();
    }

    // ---- status

    private Mutable mutable(String id) {
        return statuses.computeIfAbsent(id, k -> new Mutable());
    }

    SpaceStatus status(String id) {
        return withRefused(published.get(id));
    }

    Map<String, SpaceStatus> statuses() {
        Map<String, SpaceStatus> out = new TreeMap<>();
        published.forEach((id, st) -> out.put(id, withRefused(st)));
        return Collections.unmodifiableMap(out);
    }

    /**
     * {@code refused} as the space lists its refused changes now (the browser's
     * {@code space.refused.length}): kept across restarts, down to 0 after dropRefused.
     */
    private SpaceStatus withRefused(SpaceStatus st) {
        if (st == null) {
            return null;
        }
        int refused;
        try {
            refused = c.port.spaceRefusedCount(st.space());
        } catch (RuntimeException e) {
            refused = 0; // dropped or closed
        }
        return refused == st.refused() ? st : new SpaceStatus(st.space(), st.state(), st.cursor(), refused, st.leftReason(), st.role());
    }

    void publish() {
        Map<String, SpaceStatus> out = new TreeMap<>();
        for (Map.Entry<String, Mutable> e : statuses.entrySet()) {
            Mutable m = e.getValue();
            long cursor = 0;
            if (m.state != SpaceSyncState.LEFT || onLeft == LeftSpaceCopy.KEEP) {
                try {
                    SyncPort port = c.port.space(e.getKey(), false);
                    cursor = port == null ? 0 : port.cursor();
                } catch (RuntimeException ex) {
                    cursor = 0; // dropped or closed
                }
            }
            out.put(e.getKey(), new SpaceStatus(e.getKey(), m.state, cursor, m.refused, m.left, m.role));
        }
        published = Collections.unmodifiableMap(out);
    }
}
