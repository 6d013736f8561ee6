package dev.cairn.server.session;

import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.server.store.ServerStore;
import dev.cairn.server.store.ServerStore.CommitResult;
import dev.cairn.server.store.ServerStore.Sequenced;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Delivery of one store key to one session: the user's own state, or one space the user is a
 * member of (PROTOCOL.md 3.2, 8.1). Catch-up from the store, then live changes, in seq order.
 *
 * <p>Keeps one number, {@code sentCursor}: every change of the key with seq at or below it has
 * been written to the socket. A commit on this node whose previous head equals it is sent
 * straight from memory ({@link CommittedFrame}, encoded once for every session); anything else
 * (catch-up, other nodes' commits, a socket that was not drained) is read from the store since
 * {@code sentCursor}. One path is always correct; the fast path is an optimisation of it.
 *
 * <p>A space's feed ends at the cut (the session's user removed from it, or the space deleted):
 * the changes before the cut entry go out, nothing at or after it. Confined to the session's loop.
 */
final class Feed {

    /** How often a catch-up waiting for the node's outbound budget looks again. */
    private static final long BUDGET_RETRY_MS = 20;

    private final SyncSession session;
    /** The store key: the user id, or {@code "space:" + id}. */
    final String key;
    /** The space's id, or null for the user's own state. */
    final String space;
    /** The head the catch-up must reach before {@code caught-up} (welcome's head, or the space's at its start). */
    private long startHead;
    private long sentCursor;
    private long knownHead;
    private long notifications;
    private boolean started;
    private boolean prepared;
    private long preparedCursor;
    private long preparedHead;
    private boolean reading;
    private boolean caughtUp;
    private boolean ended;
    /** The rest of a page read from the store that did not fit in one frame (maxPageBytes), in seq order. */
    private final ArrayDeque<Sequenced> unsent = new ArrayDeque<>(1);
    /** The cursor of the page {@link #unsent} came from (covers gaps after its last change). */
    private long unsentPageCursor;

    Feed(SyncSession session, String key, String space) {
        this.session = session;
        this.key = key;
        this.space = space;
    }

    /** Starts delivery from {@code cursor}; {@code caught-up} follows once everything up to {@code head} is sent. */
    void start(long cursor, long head) {
        startHead = head;
        knownHead = Math.max(knownHead, head);
        // A cursor beyond the head means the server lost or reset this data: send everything (1.3).
        sentCursor = cursor > head ? 0 : cursor;
        started = true;
        pump();
    }

    /** A space's feed: where it will start once the user's own catch-up is done (8.1). */
    void prepare(long cursor, long head) {
        preparedCursor = cursor;
        preparedHead = head;
        prepared = true;
    }

    /** Starts a prepared feed (once). */
    void begin() {
        if (prepared && !started && !ended) {
            start(preparedCursor, preparedHead);
        }
    }

    boolean started() {
        return started;
    }

    boolean caughtUp() {
        return caughtUp;
    }

    boolean ended() {
        return ended;
    }

    long sentCursor() {
        return sentCursor;
    }

    /** Stops the feed: nothing more of it is sent (the cut, or the membership ended). */
    void end() {
        ended = true;
        unsent.clear();
    }

    /** A commit made on this node for this key. */
    void onCommitted(CommittedFrame committed) {
        CommitResult result = committed.result();
        knownHead = Math.max(knownHead, result.head());
        notifications++;
        if (!started || ended) {
            return; // delivered by the first pump after the start
        }
        if (!reading && caughtUp && unsent.isEmpty() && sentCursor == result.previousHead() && !session.writer().writeQueueFull()) {
            List<Sequenced> visible = committed.visible();
            int cut = session.cutAt(this, visible);
            if (cut >= 0) {
                sendUpToCut(visible, cut);
                return;
            }
            if (!visible.isEmpty()) {
                session.writer().sendShared(committed);
            }
            sentCursor = result.head();
            session.sent(this, visible);
            return;
        }
        pump();
    }

    /** Another node moved the head. */
    void onHead(long head) {
        knownHead = Math.max(knownHead, head);
        notifications++;
        if (started) {
            pump();
        }
    }

    /** Reads from the store since {@code sentCursor} until the session has everything up to {@code knownHead}. */
    void pump() {
        if (session.isClosed() || !started || ended || reading) {
            return;
        }
        if (session.writer().writeQueueFull()) {
            session.writer().checkSlowConsumer();
            return; // the drain handler calls pump again
        }
        if (!unsent.isEmpty()) {
            sendUnsent();
            if (ended) {
                return;
            }
            if (!unsent.isEmpty()) {
                session.context().vertx().runOnContext(v -> pump()); // next frame after other sockets had their turn
                return;
            }
        }
        if (sentCursor >= knownHead) {
            markCaughtUp();
            return;
        }
        SyncSession.Context ctx = session.context();
        if (ctx.outbound().exhausted()) {
            // The node holds too much unsent text: this catch-up waits (live changes still go out).
            ctx.vertx().setTimer(BUDGET_RETRY_MS, id -> pump());
            return;
        }
        reading = true;
        long notificationsBefore = notifications;
        ctx.store().readSince(key, sentCursor, ctx.pageSize()).onComplete(ar -> {
            reading = false;
            if (session.isClosed() || ended) {
                return;
            }
            if (ar.failed()) {
                session.logWarn("read failed key=" + key + ": " + ar.cause());
                ctx.vertx().setTimer(500, id -> pump());
                return;
            }
            ServerStore.Page page = ar.result();
            ctx.metrics().catchUpPage(page.changes().size());
            if (page.cursor() > sentCursor) {
                unsent.addAll(space == null ? page.changes() : CommittedFrame.visible(page.changes()));
                unsentPageCursor = page.cursor();
                sendUnsent(); // the first frame now, the rest (if any) by the pump below
                if (ended) {
                    return;
                }
                knownHead = Math.max(knownHead, page.cursor());
            }
            if (!page.more() && notifications == notificationsBefore) {
                // Everything committed is sent. A head announced higher than the store's (a stale
                // or bogus notification) must not keep us reading in a loop.
                knownHead = Math.max(sentCursor, page.cursor());
            }
            if (!unsent.isEmpty() || page.more() || sentCursor < knownHead) {
                pump();
            } else {
                markCaughtUp();
            }
        });
    }

    /**
     * Sends one frame of {@link #unsent}: as many changes as fit in maxPageBytes (at least one).
     * Its cursor is the last change's seq, or the page's cursor when it empties the page.
     */
    private void sendUnsent() {
        List<Sequenced> frame = new ArrayList<>();
        long chars = 0;
        while (!unsent.isEmpty()) {
            Sequenced next = unsent.peekFirst();
            long size = textEstimate(next.change());
            if (!frame.isEmpty() && chars + size > session.context().maxPageBytes()) {
                break;
            }
            frame.add(unsent.pollFirst());
            chars += size;
        }
        int cut = session.cutAt(this, frame);
        if (cut >= 0) {
            sendUpToCut(frame, cut);
            return;
        }
        long cursor = unsent.isEmpty() ? unsentPageCursor : frame.get(frame.size() - 1).seq();
        if (frame.isEmpty() && cursor <= sentCursor) {
            return;
        }
        session.send(CommittedFrame.frame(frame, cursor, space));
        sentCursor = cursor;
        session.sent(this, frame);
    }

    /** The changes before the cut go out (covering up to just before it); the feed ends there. */
    private void sendUpToCut(List<Sequenced> changes, int cut) {
        List<Sequenced> before = changes.subList(0, cut);
        long cursor = changes.get(cut).seq() - 1;
        if (!before.isEmpty()) {
            session.send(CommittedFrame.frame(List.copyOf(before), cursor, space));
        }
        sentCursor = cursor;
        end();
        session.cut(this, changes.get(cut).change());
    }

    /** About the characters a change takes in a frame (its strings plus field names, stamp and seq), without encoding it. */
    private static long textEstimate(Change change) {
        long strings;
        if (change instanceof Change.Put p) {
            strings = p.section().length() + p.key().length() + (p.value() == null ? 4 : p.value().length());
        } else if (change instanceof Change.Append a) {
            strings = a.section().length() + a.stream().length() + a.value().length();
        } else {
            Change.Clear c = (Change.Clear) change;
            strings = c.section().length() + c.stream().length();
        }
        return strings + 96; // names, quotes, stamp, seq; escapes are rare and the limit has headroom
    }

    private void markCaughtUp() {
        if (!caughtUp && !ended && sentCursor >= startHead) {
            caughtUp = true;
            session.send(new Frame.CaughtUp(sentCursor, space));
            session.caughtUp(this);
        }
    }
}
