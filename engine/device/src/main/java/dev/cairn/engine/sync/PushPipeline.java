package dev.cairn.engine.sync;

import dev.cairn.engine.codec.ChangeJson;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.protocol.ErrorCode;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.FrameCodec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Sends the outbox (PROTOCOL.md 3.3): the in-flight window, the frame budget from welcome, one
 * retry queue keyed by reason ({@link Reason}), splitting a refused batch, dropping what can never
 * be accepted. Sync thread only.
 */
final class PushPipeline {

    /** Push frames are kept under this share of the server's maxFrameBytes (headroom), in percent. */
    static final int FRAME_BUDGET_PERCENT = 90;

    /** The bytes of an empty push frame with the longest possible batch id. */
    private static final long PUSH_OVERHEAD_BYTES = utf8Length(FrameCodec.encode(new Frame.Push(Long.MIN_VALUE, List.of())));

    private static final System.Logger LOG = SyncLoop.LOG;

    /** Why a batch waits before it is sent again; each reason has its own timer and backoff. */
    enum Reason {
        /** rate-limited, unavailable: no push at all until the timer fires. */
        RETRY,
        /** clock-skew: other batches go on. */
        SKEW,
        /** quota-exceeded: other batches go on; syncNow() re-sends at once. */
        QUOTA
    }

    /** Some outbox entries: seqs and their changes, in the same order. */
    record Part(List<Long> seqs, List<Change> changes) {
        int size() {
            return seqs.size();
        }

        Part slice(int from, int to) {
            return new Part(List.copyOf(seqs.subList(from, to)), List.copyOf(changes.subList(from, to)));
        }
    }

    record Batch(long id, Part part) {
    }

    private final SyncClient c;
    private final SyncLoop loop;
    /** The outbox this pipeline sends: the user's, or a space's. */
    final dev.cairn.engine.sync.internal.SyncPort port;
    /** The space whose outbox this is; null for the user's own. */
    final String space;
    /** Outbox seqs acknowledged (or dropped) whose removal from the outbox is in progress. */
    private final Set<Long> acking = new HashSet<>();

    PushPipeline(SyncClient client, SyncLoop loop) {
        this(client, loop, client.port, null);
    }

    /** The pipeline of space {@code space}'s outbox ({@code port} its replica's). */
    PushPipeline(SyncClient client, SyncLoop loop, dev.cairn.engine.sync.internal.SyncPort port, String space) {
        this.c = client;
        this.loop = loop;
        this.port = port;
        this.space = space;
    }

    /** This pipeline's lane of session {@code s}. */
    private Session.Lane lane(Session s) {
        return s.lane(space);
    }

    /** Whether batch {@code id} is one of this pipeline's, in flight on {@code s}. */
    boolean owns(Session s, long id) {
        return lane(s).inFlight.containsKey(id);
    }

    Session.RetryQueue newRetryQueue() {
        return new Session.RetryQueue(new Backoff(c.retryMin, c.retryMax, c.random),
                new Backoff(c.skewRetryMin, c.skewRetryMax, c.random), new Backoff(c.quotaRetryMin, c.quotaRetryMax, c.random));
    }

    /** Sends outbox entries while the in-flight window has room. */
    void pump() {
        Session s = c.connection.session();
        if (s == null || !s.current() || !s.welcomed || s.connection == null || lane(s).retry.timers[Reason.RETRY.ordinal()] != null) {
            return;
        }
        if (space != null && s.spaces != null && !s.spaces.pushes(space)) {
            return; // a space left (or refused at hello): its outbox waits for a new membership
        }
        if (space == null && c.cipher != null && !s.caughtUp) {
            // Push only once this session's catch-up opened every encrypted value with this key, so
            // a device with a wrong passphrase never puts values the other devices cannot open.
            return;
        }
        int perBatch = Math.max(1, Math.min(c.batchSize, s.maxBatch));
        while (lane(s).inFlight.size() < c.maxInFlight) {
            Part part = lane(s).resend.pollFirst();
            boolean fromOutbox = part == null;
            if (fromOutbox) {
                part = readOutbox(s, perBatch);
                if (part == null) {
                    return;
                }
            }
            // Cut by count and by encoded size; what is cut off goes back (or stays in the outbox).
            int fits = Math.min(perBatch, fitting(s, part));
            if (fits == 0) {
                // The first change alone makes a frame larger than the server takes: it can never be accepted.
                Part rest = part.slice(1, part.size());
                if (!fromOutbox && rest.size() > 0) {
                    lane(s).resend.addFirst(rest);
                }
                dropForGood(s, part.seqs().get(0), part.changes().get(0), "change-too-large",
                        "its push frame is larger than the server's limit of " + s.maxFrameBytes + " bytes");
                continue;
            }
            if (fits < part.size()) {
                if (!fromOutbox) {
                    lane(s).resend.addFirst(part.slice(fits, part.size()));
                }
                part = part.slice(0, fits);
            }
            if (fromOutbox) {
                lane(s).owned.addAll(part.seqs());
            }
            long id = c.nextBatchId++; // unique across the user's and every space's batches (PROTOCOL.md 8.2)
            Frame.Push push = new Frame.Push(id, part.changes(), space);
            String text = FrameCodec.encode(push);
            // text.length() * 3 bounds the UTF-8 bytes: count them only when that bound is over the limit
            if (part.size() > 1 && text.length() * 3L > s.maxFrameBytes && utf8Length(text) > s.maxFrameBytes) {
                // Not expected (sizes are summed from the same encoder), but never send a frame the server closes on.
                int half = part.size() / 2;
                lane(s).resend.addFirst(part.slice(half, part.size()));
                lane(s).resend.addFirst(part.slice(0, half));
                continue;
            }
            lane(s).inFlight.put(id, new Batch(id, part));
            c.connection.sendPush(s, push, text);
        }
    }

    /**
     * How many leading changes of {@code part} fit in one push frame within the session's frame
     * budget: at least 1 if the first change alone fits within the server's hard limit, 0 if not.
     */
    private static int fitting(Session s, Part part) {
        // Usually the whole part fits by far: bound each change's UTF-8 bytes by 3 per UTF-16
        // char (no byte counting, which was 40% of a W2 client's CPU) and count only if needed.
        String[] encoded = new String[part.size()];
        long bound = PUSH_OVERHEAD_BYTES;
        for (int i = 0; i < encoded.length; i++) {
            encoded[i] = ChangeJson.encode(part.changes().get(i));
            bound += encoded[i].length() * 3L + 1;
        }
        if (bound <= s.frameBudget) {
            return part.size();
        }
        long bytes = PUSH_OVERHEAD_BYTES;
        for (int i = 0; i < part.size(); i++) {
            bytes += utf8Length(encoded[i]) + (i == 0 ? 0 : 1); // a comma between changes
            if (bytes > s.frameBudget) {
                if (i > 0) {
                    return i;
                }
                return bytes <= s.maxFrameBytes ? 1 : 0; // alone, with less headroom: still acceptable
            }
        }
        return part.size();
    }

    static long utf8Length(String text) {
        long bytes = 0;
        for (int i = 0; i < text.length(); i++) {
            char ch = text.charAt(i);
            if (ch < 0x80) {
                bytes += 1;
            } else if (ch < 0x800) {
                bytes += 2;
            } else if (Character.isHighSurrogate(ch) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                bytes += 4;
                i++;
            } else {
                bytes += 3;
            }
        }
        return bytes;
    }

    /**
     * The session ended (or the space was left): its batches in flight got no answer. The server
     * may have committed them, so each goes again as it was, never mixed with other changes
     * (PROTOCOL.md 3.3), until acknowledged or refused for good.
     */
    void sessionEnded(Session s) {
        Session.Lane lane = space == null ? s.user : s.spaceLanes.get(space);
        if (lane == null) {
            return; // nothing of this outbox was sent on the session
        }
        // Parts waiting to go again (parked after a rate-limited that named no batch, or queued to
        // resend) may have been committed too: each keeps its batch, as one in flight does.
        List<Part> unanswered = new ArrayList<>();
        lane.inFlight.values().forEach(b -> unanswered.add(b.part()));
        unanswered.addAll(lane.resend);
        for (Reason r : Reason.values()) {
            unanswered.addAll(lane.retry.parked(r));
        }
        Map<Long, Long> marks = c.unanswered.computeIfAbsent(key(), k -> new HashMap<>());
        for (Part part : unanswered) {
            long batch = ++c.unansweredBatches;
            part.seqs().forEach(seq -> marks.put(seq, batch));
        }
    }

    /** This outbox's key in SyncClient.unanswered. */
    private String key() {
        return space == null ? "" : space;
    }

    /**
     * Up to {@code n} committed outbox entries not owned by this session, held, or being
     * acknowledged; all of one unanswered batch, or all new ones.
     */
    private Part readOutbox(Session s, int n) {
        long limit = (long) lane(s).owned.size() + lane(s).held.size() + acking.size() + n;
        while (true) {
            int asked = (int) Math.min(Integer.MAX_VALUE, limit);
            NavigableMap<Long, Change> outbox = port.outbox(asked);
            List<Long> seqs = new ArrayList<>(n);
            List<Change> changes = new ArrayList<>(n);
            Map<Long, Long> sentBefore = c.unanswered.getOrDefault(key(), Map.of());
            Long was = null; // the unanswered batch of the part's first change, if any
            boolean cut = false;
            for (Map.Entry<Long, Change> e : outbox.entrySet()) {
                if (!lane(s).owned.contains(e.getKey()) && !acking.contains(e.getKey()) && !lane(s).held.contains(e.getKey())) {
                    if (s.serverSections != null && !s.serverSections.contains(e.getValue().section())) {
                        unknownSection(s, e.getKey(), e.getValue());
                        continue;
                    }
                    Long from = sentBefore.get(e.getKey());
                    if (seqs.isEmpty()) {
                        was = from;
                    } else if (!Objects.equals(from, was)) {
                        cut = true;
                        break;
                    }
                    seqs.add(e.getKey());
                    changes.add(c.cipher == null || space != null ? e.getValue() : c.cipher.seal(e.getValue()));
                    if (seqs.size() == n) {
                        break;
                    }
                }
            }
            // Entries are only ever skipped for being owned, held or acking, so one read is normally
            // enough; read more if the outbox holds more than expected (e.g. a failed removal).
            if (cut || seqs.size() == n || outbox.size() < asked || asked == Integer.MAX_VALUE) {
                return seqs.isEmpty() ? null : new Part(List.copyOf(seqs), List.copyOf(changes));
            }
            limit *= 2;
        }
    }

    /**
     * welcome did not list the change's section: pushing it could only get it dropped for good
     * (invalid-change). It stays queued (a later welcome may list the section) and is reported.
     */
    private void unknownSection(Session s, long seq, Change change) {
        lane(s).held.add(seq);
        loop.report("unknown-section", "the server does not know section '" + change.section()
                + "': its changes stay queued on this device (update the server, or check the app's sections)");
        LOG.log(System.Logger.Level.WARNING, "cairn sync: " + loop.lastError);
        if (space == null) {
            c.waiters.failHeld(s);
        }
        loop.requestPublish();
    }

    void onAck(Session s, Frame.Ack ack) {
        Batch batch = lane(s).inFlight.remove(ack.batch());
        if (batch == null) {
            return; // a duplicate, or a batch already given up on and sent again under another id
        }
        // An ack forgets its batch only, whatever the order (spec/vectors/sync/README.md): the
        // server names a batch it did not apply (rate-limited), so no guessing from the order.
        for (Reason r : Reason.values()) {
            if (r == Reason.RETRY || lane(s).retry.parked(r).isEmpty()) {
                lane(s).retry.backoffs[r.ordinal()].reset();
            }
        }
        c.connection.pushesGetThrough();
        lane(s).owned.removeAll(batch.part().seqs());
        acknowledgeLocally(batch.part().seqs(), 0);
        if (s.caughtUp) {
            loop.lastSyncedAt = java.time.Instant.now();
        }
        pump();
        loop.publish();
    }

    /** An error frame about a push; false if it is not about one. */
    boolean onError(Session s, Frame.Error error) {
        ErrorCode code = error.code();
        Batch batch = error.batch() == null ? null : lane(s).inFlight.get(error.batch());
        String message = "server error " + code.wire() + (error.batch() == null ? "" : " for batch " + error.batch()) + ": " + error.message();
        switch (code) {
            case CLOCK_SKEW -> {
                if (batch == null) {
                    loop.report(code.wire(), "the server refused a change because this device's clock is ahead of the server's: " + error.message());
                    return false;
                }
                park(s, Reason.SKEW, List.of(batch));
                loop.report("clock-skew", "this device's clock is ahead of the server's: the server refused " + batch.part().size()
                        + " change(s) for now; they stay queued and are sent again later: " + error.message());
                LOG.log(System.Logger.Level.WARNING, "cairn sync: " + loop.lastError);
            }
            case QUOTA_EXCEEDED -> {
                if (batch == null) {
                    loop.report(code.wire(), "the server's storage quota for this user is full: " + error.message());
                    return false;
                }
                overQuota(s, batch, error.message());
                return true;
            }
            case FORBIDDEN, NOT_A_MEMBER -> {
                if (batch == null) {
                    loop.report(code.wire(), message);
                    return false;
                }
                refusedForGood(s, batch, code, error.message());
            }
            case INVALID_CHANGE, BATCH_TOO_LARGE -> {
                if (batch == null) {
                    loop.report(code.wire(), message);
                    return false;
                }
                refused(s, batch, code, error.message());
            }
            case UNAVAILABLE, RATE_LIMITED -> {
                loop.report(code.wire(), message);
                if (batch == null && code == ErrorCode.UNAVAILABLE) {
                    return false; // at hello: the server closes the socket
                }
                // A rate-limited frame named no batch: any push in flight may have been it; send them all again later.
                park(s, Reason.RETRY, batch != null ? List.of(batch) : new ArrayList<>(lane(s).inFlight.values()));
            }
            default -> {
                loop.report(code.wire(), message);
                if (batch == null) {
                    return false;
                }
                park(s, Reason.RETRY, List.of(batch)); // never answered otherwise: try again later
            }
        }
        pump();
        loop.publish();
        return true;
    }

    /** The server refused a batch for good: split it to find the change(s) it refuses, drop only those. */
    private void refused(Session s, Batch batch, ErrorCode code, String message) {
        lane(s).inFlight.remove(batch.id());
        Part part = batch.part();
        if (part.size() > 1) {
            if (code == ErrorCode.BATCH_TOO_LARGE) {
                s.maxBatch = Math.max(1, Math.min(s.maxBatch, part.size() / 2));
            }
            int half = part.size() / 2;
            lane(s).resend.addFirst(part.slice(half, part.size()));
            lane(s).resend.addFirst(part.slice(0, half));
        } else {
            dropForGood(s, part.seqs().get(0), part.changes().get(0), code.wire(), code.wire() + ": " + message);
        }
    }

    /**
     * The whole batch was refused by the membership check (PROTOCOL.md 8.2): not retried, not
     * split; a space's changes stay visible as refused (the space's refusedChanges, onError), a
     * user's (a change of {@code spaces}, which the engine never writes) are dropped.
     */
    private void refusedForGood(Session s, Batch batch, dev.cairn.engine.protocol.ErrorCode code, String message) {
        lane(s).inFlight.remove(batch.id());
        Part part = batch.part();
        if (space == null) {
            for (int i = 0; i < part.size(); i++) {
                dropForGood(s, part.seqs().get(i), part.changes().get(i), code.wire(), code.wire() + ": " + message);
            }
            return;
        }
        loop.report(code.wire(), "the server refused " + part.size() + " change(s) of space '" + space + "' (" + code.wire()
                + "); they are not sent again and stay visible as refused: " + message);
        LOG.log(System.Logger.Level.WARNING, "cairn sync: " + loop.lastError);
        lane(s).owned.removeAll(part.seqs());
        try {
            c.port.spaceRefused(space, code.wire(), part.changes(), message);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "cairn sync: could not record refused changes of space " + space + ": " + SyncLoop.messageOf(e));
        }
        if (c.spaces != null) {
            c.spaces.refused(space, part.size());
        }
        c.waiters.spaceRefused(space, part.seqs(), code.wire(), loop.lastError);
        acknowledgeLocally(part.seqs(), 0);
    }

    /** Every batch in flight waits for the retry timer (a rate-limited frame that named no batch). */
    void parkAll(Session s) {
        park(s, Reason.RETRY, new ArrayList<>(lane(s).inFlight.values()));
    }

    /**
     * A change the server can never accept: removes it from the outbox (as if acknowledged),
     * reports it, and fails the syncNow calls that cover it.
     */
    private void dropForGood(Session s, long seq, Change change, String code, String why) {
        String what = describe(change) + ": " + why;
        loop.report(code, "the server refused a change, which was dropped: " + what);
        LOG.log(System.Logger.Level.WARNING, "cairn sync: " + loop.lastError);
        if (space == null) {
            c.waiters.dropped(seq, code, what);
        }
        lane(s).owned.remove(seq);
        acknowledgeLocally(List.of(seq), 0);
    }

    /**
     * The batch would take the user over their storage quota: it stays pending and waits for the
     * quota timer (or syncNow); other batches go on (deletes free space); the syncNow calls that
     * cover it fail with the reason rather than wait for space that may never come.
     */
    private void overQuota(Session s, Batch batch, String message) {
        park(s, Reason.QUOTA, List.of(batch));
        int parked = lane(s).retry.parked(Reason.QUOTA).stream().mapToInt(Part::size).sum();
        loop.report("quota-exceeded", "storage quota exceeded: the server refused " + parked
                + " change(s), which stay pending (sent again later; delete data to free space): " + message);
        LOG.log(System.Logger.Level.WARNING, "cairn sync: " + loop.lastError);
        pump();
        loop.publish(); // before failing the waiters: a caller whose syncNow failed sees the reason in status()
        long first = batch.part().seqs().stream().mapToLong(Long::longValue).min().orElse(Long.MAX_VALUE);
        if (space == null) {
            c.waiters.overQuota(first, loop.lastError);
        }
    }

    /** Takes batches out of flight to wait for {@code reason}'s timer; starts it if idle. */
    private void park(Session s, Reason reason, List<Batch> batches) {
        List<Part> parked = lane(s).retry.parked(reason);
        for (Batch b : batches) {
            if (lane(s).inFlight.remove(b.id()) != null) {
                parked.add(b.part());
            }
        }
        int i = reason.ordinal();
        if (lane(s).retry.timers[i] != null || parked.isEmpty()) {
            return;
        }
        Duration delay = lane(s).retry.backoffs[i].next();
        lane(s).retry.timers[i] = loop.schedule(() -> {
            lane(s).retry.timers[i] = null;
            release(s, reason);
        }, Math.max(TimeUnit.MILLISECONDS.toNanos(1), delay.toNanos()));
    }

    /** Sends {@code reason}'s parked parts again now (its timer fired, or syncNow for the quota). */
    void release(Session s, Reason reason) {
        List<Part> parked = lane(s).retry.parked(reason);
        if (!s.current() || parked.isEmpty()) {
            return;
        }
        int i = reason.ordinal();
        SyncLoop.cancel(lane(s).retry.timers[i]);
        lane(s).retry.timers[i] = null;
        for (int k = parked.size() - 1; k >= 0; k--) {
            lane(s).resend.addFirst(parked.get(k));
        }
        parked.clear();
        pump();
    }

    /** Removes acknowledged (or dropped) entries from the outbox; retried if the store fails. */
    private void acknowledgeLocally(List<Long> seqs, int failures) {
        Map<Long, Long> marks = c.unanswered.get(key());
        if (marks != null) {
            seqs.forEach(marks::remove);
        }
        acking.addAll(seqs);
        CompletableFuture<Void> removal;
        try {
            removal = port.acknowledge(seqs);
        } catch (RuntimeException e) {
            removal = CompletableFuture.failedFuture(e);
        }
        removal.whenComplete((ignored, error) -> loop.post(() -> {
            if (error == null) {
                acking.removeAll(seqs);
                loop.publish();
                c.waiters.check();
                return;
            }
            loop.report("local-store", "could not remove acknowledged changes from the outbox: " + SyncLoop.messageOf(error));
            loop.publish();
            boolean gone = space != null && (c.spaces == null || c.spaces.pipelines.get(space) != this);
            if (!c.isClosed() && !gone) { // a left space's pipeline stops: its outbox is kept read-only or dropped
                long delay = c.connection.backoffCeilingMillis(failures + 3); // from 1.6 s with the default minimum
                loop.schedule(() -> acknowledgeLocally(seqs, failures + 1), TimeUnit.MILLISECONDS.toNanos(delay));
            }
        }));
    }

    static String describe(Change change) {
        String op;
        if (change instanceof Change.Put put) {
            op = put.isDelete() ? "delete" : "set";
        } else if (change instanceof Change.Append) {
            op = "append";
        } else {
            op = "clear";
        }
        return op + " " + change.section() + "/" + change.target() + " @" + change.stamp();
    }
}
