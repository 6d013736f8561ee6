package dev.cairn.engine.sync;

import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.crypto.E2eException;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.section.SectionSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Applies the server's pages (PROTOCOL.md 3.2): a page's changes, then the cursor (durably, no
 * earlier than the changes); {@code caught-up} makes the session live; values that do not open
 * with the end-to-end key lock the client. Sync thread only.
 */
final class PullApplier {

    private static final System.Logger LOG = SyncLoop.LOG;

    private final SyncClient c;
    private final SyncLoop loop;
    /**
     * Values from the server did not open with this client's end-to-end key (another passphrase):
     * the client stays {@link SyncState#LOCKED} for good, pushing and applying nothing.
     */
    private boolean locked;

    PullApplier(SyncClient client, SyncLoop loop) {
        this.c = client;
        this.loop = loop;
    }

    boolean locked() {
        return locked;
    }

    void onChanges(Session s, Frame.Changes page) {
        if (!s.welcomed) {
            loop.report("malformed-frame", "the server sent changes before its welcome");
            loop.publish();
            return;
        }
        if (s.pullStalled) {
            // An earlier page could not be applied: applying this one would move the cursor past it.
            s.knownHead = Math.max(s.knownHead, page.cursor());
            return;
        }
        List<Change> changes = new ArrayList<>(page.changes().size());
        for (Frame.SeqChange sc : page.changes()) {
            SectionSpec spec = c.sections.get(sc.change().section());
            if (spec == null) {
                continue; // a section this app does not register (another app's, or a newer version's)
            }
            SectionKind needed = sc.change().kind();
            if (spec.kind() != needed) {
                loop.report("invalid-change", "ignored a change from the server: section '" + spec.name() + "' is a "
                        + spec.kind().wireName() + " section here but the server has a " + needed.wireName() + " change for it");
                continue;
            }
            if (c.cipher != null && c.cipher.covers(spec.name())) {
                try {
                    changes.add(c.cipher.open(sc.change()));
                } catch (E2eException e) {
                    if (e.reason() == E2eException.Reason.WRONG_PASSPHRASE) {
                        lock(s, e);
                        return;
                    }
                    // Not sealed by this user's key (altered on the way or at rest, or written in
                    // plain text by someone else): never applied as data; the rest of the page is.
                    loop.report("invalid-change", "ignored an end-to-end encrypted change from the server that does not open: " + e.getMessage());
                    LOG.log(System.Logger.Level.WARNING, "cairn sync: " + loop.lastError);
                }
                continue;
            }
            changes.add(sc.change());
        }
        try {
            c.applier.apply(changes, page.cursor());
        } catch (RuntimeException e) {
            stall(s, page, e);
            return;
        }
        s.knownHead = Math.max(s.knownHead, page.cursor());
        if (s.caughtUp) {
            loop.lastSyncedAt = Instant.now();
        }
        if (c.spaces != null) {
            c.spaces.afterUserPage(s); // a spaces entry added: a space joined while connected
        }
        loop.publish();
        c.waiters.check();
    }

    /**
     * Not the page's fault (unknown sections and wrong kinds were filtered out, and stamps are the
     * server's business): most likely the local store. Skipping the page would move the cursor
     * past changes never applied, so stop pulling on this connection but keep pushing and taking
     * acks; pull again from the cursor on a new connection later.
     */
    private void stall(Session s, Frame.Changes page, RuntimeException e) {
        c.connection.pullFailed();
        s.pullStalled = true;
        s.caughtUp = false; // not live any more: changes are waiting that this replica does not have
        loop.state = SyncState.CATCHING_UP;
        s.knownHead = Math.max(s.knownHead, page.cursor());
        Duration delay = c.connection.nextBackoff();
        loop.report("apply-failed", "could not apply changes from the server (kept cursor " + c.port.cursor()
                + "; pushing goes on, pulling again in " + delay.toMillis() + " ms): " + SyncLoop.messageOf(e));
        LOG.log(System.Logger.Level.WARNING, "cairn sync: " + loop.lastError);
        s.pullRetryTimer = loop.schedule(() -> {
            s.pullRetryTimer = null;
            if (s.current()) {
                c.connection.reconnectNow(s); // the delay was waited already
            }
        }, delay.toNanos());
        loop.publish();
    }

    /**
     * The server holds values sealed with another key than this client's: a wrong passphrase.
     * Nothing of the page is applied (the cursor stays), nothing is pushed, and the client does
     * not reconnect: the app must build a client with the right passphrase.
     */
    private void lock(Session s, E2eException e) {
        locked = true;
        LOG.log(System.Logger.Level.WARNING, "cairn sync: end-to-end key mismatch; sync stopped");
        c.connection.end(s, "wrong-passphrase", "wrong passphrase: " + e.getMessage()
                + "; sync stopped until a client is built with the right passphrase", false);
        loop.state = SyncState.LOCKED;
        c.waiters.failAll(loop.lastErrorCode, loop.lastError);
        loop.publish();
    }

    void onCaughtUp(Session s, Frame.CaughtUp caughtUp) {
        if (!s.welcomed) {
            loop.report("malformed-frame", "the server sent caught-up before its welcome");
            loop.publish();
            return;
        }
        s.knownHead = Math.max(s.knownHead, caughtUp.cursor());
        if (s.pullStalled) {
            return; // not caught up: a page was not applied; the pull retry reconnects
        }
        s.caughtUp = true;
        c.connection.caughtUpCleanly();
        loop.state = SyncState.LIVE;
        loop.lastSyncedAt = Instant.now();
        loop.publish();
        c.waiters.check();
        if (c.cipher != null) {
            c.pumpAll(); // pushes were held until this catch-up proved the key
        }
    }
}
