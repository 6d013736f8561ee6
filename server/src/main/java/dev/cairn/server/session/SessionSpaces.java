package dev.cairn.server.session;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.protocol.ErrorCode;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.section.SpaceSections;
import dev.cairn.server.MonotonicMillis;
import dev.cairn.server.presence.PresenceBoard;
import dev.cairn.server.presence.PresenceUpdate;
import dev.cairn.server.space.SpaceKeys;
import dev.cairn.server.store.ServerStore;
import dev.cairn.server.store.ServerStore.Sequenced;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The spaces of one session whose hello named {@code spaces} (PROTOCOL.md 8): which spaces it
 * delivers (one {@link Feed} each), joining one mid-session, the cut and {@code space-left} when
 * the membership ends, and the session's presence. Confined to the session's event loop.
 *
 * <p>Membership comes from the user's own {@code spaces} section: read at hello for
 * {@code welcome.spaces}, then followed in the user's pages (a set of {@code spaces/<id>} is a
 * join). Its end comes from the space's own pages (the cut: a delete of {@code members/<user>} or a
 * clear of {@code members}), so a session stops a space exactly at the removal in the space's seq
 * order, on every node; the membership service's {@code SpaceEvents} only supplies the reason.
 */
final class SessionSpaces {

    /** How long a cut waits for the membership service's reason before it names one from the page. */
    static final long CUT_REASON_WAIT_MS = 250;
    /** Entries of the user's spaces section read per store call at hello. */
    private static final int SPACES_PAGE = 500;

    private final SyncSession session;
    private final String user;
    /** Each space's current feed by id (an ended one stays until the user joins again). */
    private final Map<String, Feed> feeds = new HashMap<>(4);
    private final Map<String, Feed> byKey = new HashMap<>(4);
    /** Reasons the membership service gave before this session reached the cut, by space id. */
    private final Map<String, String> endedReasons = new HashMap<>(1);
    /** Cuts waiting for their reason: space id to the page's own reason. */
    private final Map<String, String> cutsWaiting = new HashMap<>(1);
    private final dev.cairn.server.presence.PresenceRate presenceRate = new dev.cairn.server.presence.PresenceRate();
    private boolean userCaughtUp;

    SessionSpaces(SyncSession session) {
        this.session = session;
        this.user = session.user();
    }

    /**
     * The batch of a space push: committed only if the user is an owner or editor as of the commit,
     * or if it writes nothing (a re-send whose changes are all stored or superseded: acknowledged) (8.2).
     */
    static ServerStore.UserBatch guarded(String user, Frame.Push push) {
        String key = SpaceKeys.storeKey(push.space());
        return new ServerStore.UserBatch(key, push.changes(),
                new ServerStore.Guard(key, SpaceSections.MEMBERS, user, Set.of(SpaceSections.OWNER, SpaceSections.EDITOR), true));
    }

    /**
     * The index of the change at which {@code user}'s view of a space ends (8.4): a delete of
     * {@code members/<user>}, or a clear of the whole {@code members} section (the space deleted); -1 if none.
     */
    static int cutAt(String user, List<Sequenced> changes) {
        for (int i = 0; i < changes.size(); i++) {
            Change c = changes.get(i).change();
            if (!SpaceSections.MEMBERS.equals(c.section())) {
                continue;
            }
            if (c instanceof Change.Put p && p.isDelete() && p.key().equals(user)
                    || c instanceof Change.Clear clear && clear.isWholeSection()) {
                return i;
            }
        }
        return -1;
    }

    // ------------------------------------------------------------------ hello

    /**
     * The spaces the user is a member of, from their {@code spaces} section, each with its role and
     * head; the session is listed in the hub under each space's key before its head is read, so a
     * commit is either in the head or reported to the session.
     */
    Future<Map<String, Frame.SpaceInfo>> atHello() {
        Promise<Map<String, String>> roles = Promise.promise();
        readRoles(null, new TreeMap<>(), roles);
        return roles.future().compose(byId -> {
            List<String> ids = new ArrayList<>(byId.keySet());
            List<Future<Long>> heads = new ArrayList<>(ids.size());
            for (String id : ids) {
                Feed feed = track(id);
                heads.add(session.context().store().head(feed.key));
            }
            return Future.all(heads).map(all -> {
                Map<String, Frame.SpaceInfo> out = new TreeMap<>();
                for (int i = 0; i < ids.size(); i++) {
                    out.put(ids.get(i), new Frame.SpaceInfo(byId.get(ids.get(i)), all.<Long>resultAt(i)));
                }
                return out;
            });
        });
    }

    private void readRoles(String after, Map<String, String> into, Promise<Map<String, String>> done) {
        session.context().store().readMap(user, SpaceSections.SPACES, "", after, SPACES_PAGE).onComplete(ar -> {
            if (ar.failed()) {
                done.fail(ar.cause());
                return;
            }
            ServerStore.MapPage page = ar.result();
            for (ServerStore.MapEntry e : page.entries()) {
                String role = role(e.value());
                if (role != null && Frame.isValidSpaceId(e.key())) {
                    into.put(e.key(), role);
                }
            }
            if (page.more() && !page.entries().isEmpty()) {
                readRoles(page.entries().get(page.entries().size() - 1).key(), into, done);
            } else {
                done.complete(into);
            }
        });
    }

    /** The role in a {@code spaces} entry's value ({@code {"name":...,"role":...}}), or null for a tombstone or another shape. */
    private static String role(String value) {
        if (value == null) {
            return null;
        }
        try {
            JsonNode role = Json.MAPPER.readTree(value).path("role");
            return role.isTextual() ? role.asText() : null;
        } catch (java.io.IOException e) {
            return null;
        }
    }

    /** After welcome: hello cursors of spaces the user is not in get {@code space-left}; the others wait for the user's catch-up. */
    void welcomed(Map<String, Long> helloCursors, Map<String, Frame.SpaceInfo> member) {
        helloCursors.keySet().stream().filter(id -> !member.containsKey(id)).sorted()
                .forEach(id -> session.send(new Frame.SpaceLeft(id, "not-a-member")));
        member.forEach((id, info) -> feeds.get(id).prepare(helloCursors.getOrDefault(id, 0L), info.head()));
    }

    /** The user's own catch-up is done: each space's catch-up starts (8.1). */
    void startAll() {
        userCaughtUp = true;
        for (Feed feed : List.copyOf(feeds.values())) {
            feed.begin();
        }
    }

    // ------------------------------------------------------------------ delivery

    Feed feedOf(String key) {
        return byKey.get(key);
    }

    void pumpAll() {
        for (Feed feed : List.copyOf(feeds.values())) {
            feed.pump();
        }
    }

    /** A new feed for a space, listed in the hub under its key. */
    private Feed track(String id) {
        Feed feed = new Feed(session, SpaceKeys.storeKey(id), id);
        feeds.put(id, feed);
        byKey.put(feed.key, feed);
        session.context().hub().add(feed.key, session);
        return feed;
    }

    /** The user's own page went out: a {@code spaces/<id>} set for a space this session does not deliver is a join (8.1). */
    void userChangesSent(List<Sequenced> changes) {
        for (Sequenced s : changes) {
            if (s.change() instanceof Change.Put p && SpaceSections.SPACES.equals(p.section()) && !p.isDelete()
                    && Frame.isValidSpaceId(p.key()) && role(p.value()) != null) {
                Feed current = feeds.get(p.key());
                if (current == null || current.ended()) {
                    join(p.key());
                }
            }
        }
    }

    /** Catches a space the user joined up from 0, after the page that added it (8.1). */
    private void join(String id) {
        endedReasons.remove(id);
        cutsWaiting.remove(id);
        Feed feed = track(id);
        session.context().store().head(feed.key).onComplete(ar -> {
            if (session.isClosed() || feed.ended()) {
                return;
            }
            if (ar.failed()) {
                session.logWarn("reading the head of a joined space failed space=" + id + ": " + ar.cause());
                session.context().vertx().setTimer(500, t -> {
                    if (feeds.get(id) == feed && !session.isClosed()) {
                        session.context().hub().remove(feed.key, session);
                        join(id);
                    }
                });
                return;
            }
            feed.prepare(0, ar.result());
            if (userCaughtUp) {
                feed.begin();
            }
        });
    }

    // ------------------------------------------------------------------ the end of a membership

    /** A space's feed reached its cut: nothing more of it goes out; {@code space-left} follows with the reason. */
    void cut(Feed feed, Change change) {
        String id = feed.space;
        session.context().hub().remove(feed.key, session);
        session.context().presence().dropUser(id, user);
        String pageReason = change instanceof Change.Clear ? "deleted" : "removed";
        String reason = endedReasons.remove(id);
        if (reason != null) {
            left(feed, reason);
            return;
        }
        // The membership service names the reason (left or removed) right after the commit, on this node;
        // a removal committed on another node is told by its page alone.
        cutsWaiting.put(id, pageReason);
        session.context().vertx().setTimer(CUT_REASON_WAIT_MS, t -> {
            String waiting = cutsWaiting.remove(id);
            if (waiting != null && !session.isClosed()) {
                left(feed, waiting);
            }
        });
    }

    /**
     * Sends {@code space-left}, then looks at the space's own {@code members/<user>}: a user added
     * again after the removal, whose page this session passed before it reached the cut (a catch-up
     * read that was behind), is caught up again from 0 (8.4: the client dropped its cursor).
     */
    private void left(Feed feed, String reason) {
        String id = feed.space;
        session.send(new Frame.SpaceLeft(id, reason));
        session.context().store().readMap(feed.key, SpaceSections.MEMBERS, user, null, 1).onSuccess(page -> {
            boolean member = page.entries().stream().anyMatch(e -> e.key().equals(user) && role(e.value()) != null);
            if (member && feeds.get(id) == feed && !session.isClosed()) {
                join(id);
            }
        });
    }

    /** The membership service ended the user's membership of a space, with the reason (SpaceEvents). */
    void ended(String id, String reason) {
        Feed feed = feeds.get(id);
        if (feed == null) {
            return; // this session never delivered it
        }
        if (cutsWaiting.remove(id) != null) {
            left(feed, reason);
        } else if (!feed.ended()) {
            // The cut is committed: this session sends up to it, then space-left with this reason.
            endedReasons.put(id, reason);
            feed.pump();
        }
    }

    // ------------------------------------------------------------------ presence

    /** A space's feed is live: who is present there now (8.6). */
    void live(Feed feed) {
        for (PresenceUpdate p : session.context().presence().present(feed.space)) {
            if (p.origin() != session) {
                session.writer().sendText(p.text());
            }
        }
    }

    /** Someone's presence changed in a space: sent once the space is live here, never after the cut. */
    void deliverPresence(PresenceUpdate update) {
        Feed feed = feeds.get(update.space());
        if (feed != null && !feed.ended() && feed.caughtUp()) {
            session.writer().sendText(update.text());
        }
    }

    /** The client set its presence in a space. */
    void onPresence(Frame.Presence presence) {
        String id = presence.space();
        if (!presenceRate.allow(MonotonicMillis.now())) {
            session.sendError(ErrorCode.RATE_LIMITED, "more than " + dev.cairn.server.presence.PresenceRate.PER_SECOND
                    + " presence frames per second; dropped", null, id);
            return;
        }
        Feed feed = feeds.get(id);
        if (feed == null || feed.ended()) {
            session.sendError(ErrorCode.NOT_A_MEMBER, "not a member of space '" + id + "'", null, id);
            return;
        }
        if (!PresenceBoard.fits(presence.state())) {
            session.sendError(ErrorCode.INVALID_CHANGE, "a presence state is at most " + PresenceBoard.MAX_STATE_BYTES
                    + " bytes of compact JSON", null, id);
            return;
        }
        session.context().presence().set(id, user, session.replica(), presence.state(), session, MonotonicMillis.now());
    }

    /** The socket closed: off the hub, and its presence withdrawn. */
    void closed() {
        for (Feed feed : feeds.values()) {
            session.context().hub().remove(feed.key, session);
        }
        session.context().presence().dropAll(session);
    }
}
