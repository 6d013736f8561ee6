package dev.cairn.server.session;

import dev.cairn.engine.clock.ClockSkewException;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.protocol.ErrorCode;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.section.SpaceSections;
import dev.cairn.server.store.GuardFailedException;
import dev.cairn.server.store.QuotaExceededException;
import dev.cairn.server.store.ServerStore.CommitResult;
import dev.cairn.server.store.ServerStore;
import io.vertx.core.Future;
import io.vertx.core.http.ServerWebSocket;
import java.util.ArrayDeque;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pushes of one session (PROTOCOL.md 3.3, 8.2): each batch checked whole before anything is
 * applied, handed to the group committer, and acked (or refused) in the order batches arrived.
 * Also the session's read back-pressure: a socket with too many unacknowledged pushes, or that
 * does not read its replies, is not read from. Confined to the session's event loop.
 */
final class SessionPushes {

    // The session's logger: its lines keep the category operators filter on.
    private static final Logger LOG = LoggerFactory.getLogger(SyncSession.class);
    /** Unacknowledged pushes a socket may have before the server stops reading from it. */
    private static final int MAX_PENDING_ACKS = 64;

    private final SyncSession session;
    private final SyncSession.Context ctx;
    private final ServerWebSocket ws;
    private final String user;
    private final FrameRate rate;
    private boolean readPaused;
    // Sized small: most sockets are idle, and an ArrayDeque starts with 16 slots.
    private final ArrayDeque<Future<CommitResult>> pendingAcks = new ArrayDeque<>(1);
    private final ArrayDeque<Long> pendingAckBatches = new ArrayDeque<>(1);
    /** The space of each pending batch (null: the user's own), in step with {@link #pendingAckBatches}. */
    private final ArrayDeque<java.util.Optional<String>> pendingAckSpaces = new ArrayDeque<>(1);

    SessionPushes(SyncSession session, ServerWebSocket ws, FrameRate rate) {
        this.session = session;
        this.ctx = session.context();
        this.ws = ws;
        this.user = session.user();
        this.rate = rate;
    }

    /** A push of the user's or (page kind 5) a space's changes: checked whole, then committed and acked in order. */
    void onPush(Frame.Push push) {
        if (!session.isReady()) {
            session.sendError(ErrorCode.NOT_READY, "send hello first", push.batch());
            return;
        }
        if (push.changes().size() > ctx.maxBatch()) {
            session.sendError(ErrorCode.BATCH_TOO_LARGE, push.changes().size() + " changes in one batch; the limit is " + ctx.maxBatch(), push.batch());
            return;
        }
        if (!rate.changesWithinRate(push.changes().size())) {
            session.sendError(ErrorCode.RATE_LIMITED, "more than " + ctx.maxChangesPerSecond() + " changes per second; batch dropped, send it again later",
                    push.batch());
            return;
        }
        // Check the whole batch before anything is applied: nothing half-applied.
        List<Change> changes = push.changes();
        for (int i = 0; i < changes.size(); i++) {
            Change c = changes.get(i);
            if (SpaceSections.RESERVED.contains(c.section())) {
                // Membership is the server's (PROTOCOL.md 8): spaces, members and invitations are read-only.
                ctx.metrics().rejectedBatch();
                session.sendError(ErrorCode.FORBIDDEN, "change " + i + ": section '" + c.section() + "' is written by the server only",
                        push.batch(), push.space());
                return;
            }
            try {
                ctx.sections().check(c);
                ctx.clock().check(c.stamp());
            } catch (ClockSkewException e) {
                // Not wrong, just early: the client keeps it and retries (PROTOCOL.md 3.5).
                ctx.metrics().rejectedBatch();
                session.sendError(ErrorCode.CLOCK_SKEW, "change " + i + ": " + e.getMessage(), push.batch(), push.space());
                return;
            } catch (RuntimeException e) {
                ctx.metrics().rejectedBatch();
                session.sendError(ErrorCode.INVALID_CHANGE, "change " + i + ": " + e.getMessage(), push.batch(), push.space());
                return;
            }
        }
        // The server's clock moves past every accepted stamp, so its own writes (HTTP) win over them.
        for (Change c : changes) {
            ctx.clock().observe(c.stamp());
        }
        if (changes.isEmpty()) {
            enqueueAck(push.batch(), push.space(), Future.succeededFuture(null)); // nothing to write, nothing to authorize
            return;
        }
        ServerStore.UserBatch batch = push.space() == null ? new ServerStore.UserBatch(user, changes) : SessionSpaces.guarded(user, push);
        Future<CommitResult> commit = ctx.committer().submit(batch);
        enqueueAck(push.batch(), push.space(), commit);
        ctx.metrics().changesIn(changes.size());
    }

    /** Acks go out in the order batches arrived, each after its commit. */
    private void enqueueAck(long batch, String space, Future<CommitResult> commit) {
        pendingAcks.add(commit);
        pendingAckBatches.add(batch);
        pendingAckSpaces.add(java.util.Optional.ofNullable(space));
        updateReadPause();
        commit.onComplete(ar -> flushAcks());
    }

    /** Stops reading from a socket that pushes faster than we commit or does not read our replies. */
    void updateReadPause() {
        if (session.isClosed() || !session.isWelcomed()) {
            return;
        }
        boolean shouldPause = pendingAcks.size() >= MAX_PENDING_ACKS || ws.writeQueueFull();
        if (shouldPause && !readPaused) {
            ws.pause();
            readPaused = true;
        } else if (!shouldPause && readPaused) {
            ws.resume();
            readPaused = false;
        }
    }

    private void flushAcks() {
        while (!pendingAcks.isEmpty() && pendingAcks.peek().isComplete()) {
            Future<CommitResult> f = pendingAcks.poll();
            long batch = pendingAckBatches.poll();
            String space = pendingAckSpaces.poll().orElse(null);
            if (session.isClosed()) {
                continue;
            }
            if (f.succeeded()) {
                session.send(new Frame.Ack(batch));
            } else if (f.cause() instanceof QuotaExceededException quota) {
                ctx.metrics().rejectedBatch();
                session.fields(LOG.atInfo()).log("batch refused, over quota batch={} used={} wouldUse={} quota={}", batch,
                        quota.usedBytes(), quota.wouldUseBytes(), quota.quotaBytes());
                session.sendError(ErrorCode.QUOTA_EXCEEDED, quota.getMessage(), batch, space);
            } else if (f.cause() instanceof GuardFailedException guard) {
                // Authorization as of the commit (PROTOCOL.md 8.2): no role is not a member, a role without writing is forbidden.
                ctx.metrics().rejectedBatch();
                session.fields(LOG.atInfo()).log("space batch refused batch={} space={} role={}", batch, space, guard.foundRole());
                if (guard.foundRole() == null) {
                    session.sendError(ErrorCode.NOT_A_MEMBER, "not a member of space '" + space + "'; the batch was not applied", batch, space);
                } else {
                    session.sendError(ErrorCode.FORBIDDEN, "the role '" + guard.foundRole() + "' may not write to space '" + space
                            + "'; the batch was not applied", batch, space);
                }
            } else {
                session.fields(LOG.atWarn()).log("commit failed batch={}: {}", batch, f.cause().toString());
                session.sendError(ErrorCode.UNAVAILABLE, "the store failed; the batch was not saved, send it again", batch, space);
            }
        }
        updateReadPause();
    }
}
