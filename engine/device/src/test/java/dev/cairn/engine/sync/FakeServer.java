package dev.cairn.engine.sync;

import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.protocol.ErrorCode;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.FrameCodec;
import dev.cairn.engine.protocol.ProtocolException;
import dev.cairn.engine.section.SectionSpec;
import dev.cairn.engine.section.StandardSections;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * An in-JVM sync server speaking PROTOCOL.md through {@link FrameCodec}, plugged in as a
 * {@link Transport}. The token is the user id ({@code null} or {@code "bad"} is refused like an
 * HTTP 401). Per user it keeps the winning changes with their seqs (catch-up sends current state,
 * so superseded entries leave gaps), answers push with ack, and broadcasts commits to the user's
 * caught-up connections. Everything runs on one "fake-server" thread; the knobs below make it
 * misbehave.
 */
final class FakeServer implements Transport, AutoCloseable {

    /** A frame a client sent, with the connection it came on. */
    record Received(int connection, String text, Frame frame) {
    }

    private final ExecutorService loop = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "fake-server");
        t.setDaemon(true);
        return t;
    });
    private final Map<String, SectionKind> kinds = new HashMap<>();
    private final Map<String, UserData> users = new HashMap<>();
    private final List<Conn> connections = new ArrayList<>();
    private final CopyOnWriteArrayList<Received> received = new CopyOnWriteArrayList<>();
    private final AtomicInteger connectAttempts = new AtomicInteger();
    private final CopyOnWriteArrayList<Long> connectNanos = new CopyOnWriteArrayList<>();
    private final AtomicInteger tooBigCloses = new AtomicInteger();
    private volatile long largestFrameBytes;

    // ---- knobs (read on the loop thread)
    volatile int maxBatch = 1000;
    /** The limit actually enforced (a lying server announces maxBatch but enforces this). */
    volatile int enforcedMaxBatch = Integer.MAX_VALUE;
    volatile int pageSize = 50;
    volatile boolean refuseConnections;
    volatile boolean holdAcks;
    volatile boolean dropAcks;
    volatile boolean answerPings = true;
    volatile boolean echoToSender = true;
    volatile boolean refuseProtocol;
    volatile Predicate<Change> rejectIf = c -> false;
    /** Changes answered with clock-skew (their stamp "too far ahead of the server's clock"). */
    volatile Predicate<Change> skewIf = c -> false;
    /** A batch holding a change this matches is refused with quota-exceeded. */
    volatile Predicate<Change> quotaIf = c -> false;
    /** Announced in welcome; a bigger frame from a client closes its socket with 1009. */
    volatile long maxFrameBytes = Frame.Welcome.DEFAULT_MAX_FRAME_BYTES;
    /** The frame limit actually enforced (a lying server announces maxFrameBytes but enforces the smaller of both). */
    volatile long enforcedMaxFrameBytes = Long.MAX_VALUE;
    final AtomicInteger unavailableNext = new AtomicInteger();
    final AtomicInteger dropNextAcks = new AtomicInteger();

    FakeServer() {
        for (SectionSpec spec : StandardSections.ALL) {
            kinds.put(spec.name(), spec.kind());
        }
    }

    /** Lets the server accept an app section. */
    FakeServer section(String name, SectionKind kind) {
        call(() -> kinds.put(name, kind));
        return this;
    }

    // ------------------------------------------------------------------ Transport

    @Override
    public CompletableFuture<Connection> connect(URI uri, String bearerToken, Listener listener) {
        connectAttempts.incrementAndGet();
        connectNanos.add(System.nanoTime());
        if (refuseConnections) {
            return CompletableFuture.failedFuture(new SyncConnectException("fake server refuses connections", 0, null));
        }
        if (bearerToken == null || bearerToken.equals("bad")) {
            return CompletableFuture.failedFuture(new SyncConnectException("the server refused the WebSocket upgrade to " + uri
                    + " with HTTP 401", 401, null));
        }
        return CompletableFuture.supplyAsync(() -> {
            Conn c = new Conn(connections.size() + 1, bearerToken, listener);
            connections.add(c);
            return c;
        }, loop);
    }

    private final class Conn implements Connection {
        final int id;
        final String user;
        final Listener listener;
        boolean open = true;
        boolean ready;
        boolean live;
        final List<Long> heldAcks = new ArrayList<>();
        int outstanding;
        int maxOutstanding;

        Conn(int id, String user, Listener listener) {
            this.id = id;
            this.user = user;
            this.listener = listener;
        }

        @Override
        public CompletableFuture<Void> send(String text) {
            CompletableFuture<Void> done = new CompletableFuture<>();
            loop.execute(() -> {
                if (!open) {
                    done.completeExceptionally(new IOException("connection " + id + " is closed"));
                    return;
                }
                done.complete(null);
                long bytes = text.getBytes(StandardCharsets.UTF_8).length;
                largestFrameBytes = Math.max(largestFrameBytes, bytes);
                if (bytes > Math.min(maxFrameBytes, enforcedMaxFrameBytes)) {
                    received.add(new Received(id, text, null));
                    tooBigCloses.incrementAndGet();
                    disconnect(this, 1009, "message too big");
                    return;
                }
                onText(this, text);
            });
            return done;
        }

        @Override
        public void close() {
            loop.execute(() -> open = false);
        }

        void deliver(Frame frame) {
            if (frame instanceof Frame.Ack || (frame instanceof Frame.Error e && e.batch() != null)) {
                outstanding--;
            }
            deliverText(FrameCodec.encode(frame));
        }

        void deliverText(String text) {
            if (open) {
                listener.onText(text);
            }
        }
    }

    private static final class UserData {
        final ReplicaState state;
        /** seq to the change that made an entry what it is now (superseded ones are removed). */
        final java.util.TreeMap<Long, Change> log = new java.util.TreeMap<>();
        long head;

        UserData(Map<String, SectionKind> kinds) {
            this.state = new ReplicaState(kinds::get);
        }
    }

    private UserData user(String user) {
        return users.computeIfAbsent(user, u -> new UserData(kinds));
    }

    // ------------------------------------------------------------------ protocol

    private void onText(Conn c, String text) {
        Frame frame;
        try {
            frame = FrameCodec.decode(text);
        } catch (ProtocolException e) {
            received.add(new Received(c.id, text, null));
            c.deliver(new Frame.Error(e.code(), e.getMessage(), null));
            return;
        }
        received.add(new Received(c.id, text, frame));
        if (frame instanceof Frame.Hello hello) {
            onHello(c, hello);
        } else if (frame instanceof Frame.Push push) {
            onPush(c, push);
        } else if (frame instanceof Frame.Ping) {
            if (answerPings) {
                c.deliver(new Frame.Pong());
            }
        } else if (!(frame instanceof Frame.Pong)) {
            c.deliver(new Frame.Error(ErrorCode.MALFORMED_FRAME, "a client may not send '" + frame.type().wire() + "' frames", null));
        }
    }

    private void onHello(Conn c, Frame.Hello hello) {
        if (c.ready) {
            c.deliver(new Frame.Error(ErrorCode.NOT_READY, "hello was already received", null));
            return;
        }
        if (refuseProtocol || hello.protocol() != Frame.PROTOCOL_VERSION) {
            c.deliverText("{\"type\":\"error\",\"code\":\"protocol-version\",\"message\":\"protocol " + hello.protocol()
                    + " is not supported\",\"supported\":[99]}");
            disconnect(c, 1002, "unsupported protocol version");
            return;
        }
        c.ready = true;
        UserData u = user(c.user);
        long head = u.head;
        c.deliver(new Frame.Welcome(Frame.PROTOCOL_VERSION, c.user, head, maxBatch, 60_000, maxFrameBytes));
        long sent = hello.cursor() > head ? 0 : hello.cursor();
        while (sent < head) {
            List<Frame.SeqChange> page = new ArrayList<>();
            for (Map.Entry<Long, Change> e : u.log.tailMap(sent, false).entrySet()) {
                if (page.size() == pageSize) {
                    break;
                }
                page.add(new Frame.SeqChange(e.getKey(), e.getValue()));
            }
            long cursor = page.size() < pageSize ? head : page.get(page.size() - 1).seq();
            c.deliver(new Frame.Changes(page, cursor));
            sent = cursor;
        }
        c.deliver(new Frame.CaughtUp(head));
        c.live = true;
    }

    private void onPush(Conn c, Frame.Push push) {
        c.outstanding++;
        c.maxOutstanding = Math.max(c.maxOutstanding, c.outstanding);
        if (!c.ready) {
            c.deliver(new Frame.Error(ErrorCode.NOT_READY, "send hello first", push.batch()));
            return;
        }
        if (push.changes().size() > Math.min(maxBatch, enforcedMaxBatch)) {
            c.deliver(new Frame.Error(ErrorCode.BATCH_TOO_LARGE, push.changes().size() + " changes in one batch; the limit is "
                    + Math.min(maxBatch, enforcedMaxBatch), push.batch()));
            return;
        }
        UserData u = user(c.user);
        for (int i = 0; i < push.changes().size(); i++) {
            Change change = push.changes().get(i);
            try {
                u.state.check(change);
            } catch (RuntimeException e) {
                c.deliver(new Frame.Error(ErrorCode.INVALID_CHANGE, "change " + i + ": " + e.getMessage(), push.batch()));
                return;
            }
            if (rejectIf.test(change)) {
                c.deliver(new Frame.Error(ErrorCode.INVALID_CHANGE, "change " + i + ": refused by the test", push.batch()));
                return;
            }
        }
        for (int i = 0; i < push.changes().size(); i++) {
            if (skewIf.test(push.changes().get(i))) {
                c.deliver(new Frame.Error(ErrorCode.CLOCK_SKEW, "change " + i + ": stamp " + push.changes().get(i).stamp()
                        + " is too far ahead of the server's clock", push.batch()));
                return;
            }
        }
        if (push.changes().stream().anyMatch(quotaIf)) {
            c.deliver(new Frame.Error(ErrorCode.QUOTA_EXCEEDED, "storage quota exceeded: these changes would take the user's data "
                    + "on the server from 990 to 1200 bytes; the quota is 1000 bytes", push.batch()));
            return;
        }
        if (unavailableNext.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            c.deliver(new Frame.Error(ErrorCode.UNAVAILABLE, "the store failed; send it again", push.batch()));
            return;
        }
        List<Frame.SeqChange> applied = commitOnLoop(c.user, push.changes());
        if (dropAcks || dropNextAcks.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            // committed, never acknowledged
        } else if (holdAcks) {
            c.heldAcks.add(push.batch());
        } else {
            c.deliver(new Frame.Ack(push.batch()));
        }
        broadcast(c.user, applied, c);
    }

    /** Merges changes for a user: each that alters the state gets the next seq. Loop thread. */
    private List<Frame.SeqChange> commitOnLoop(String user, List<Change> changes) {
        UserData u = user(user);
        List<Frame.SeqChange> applied = new ArrayList<>();
        for (Change change : changes) {
            if (!u.state.apply(change)) {
                continue;
            }
            // Keep current state only: drop what this change superseded.
            u.log.values().removeIf(old -> supersedes(change, old));
            long seq = ++u.head;
            u.log.put(seq, change);
            applied.add(new Frame.SeqChange(seq, change));
        }
        return applied;
    }

    private static boolean supersedes(Change change, Change old) {
        if (!old.section().equals(change.section()) || !old.target().equals(change.target())) {
            return false;
        }
        if (change instanceof Change.Put) {
            return old instanceof Change.Put;
        }
        if (change instanceof Change.Clear) {
            return old.stamp().compareTo(change.stamp()) <= 0;
        }
        return false;
    }

    private void broadcast(String user, List<Frame.SeqChange> applied, Conn from) {
        if (applied.isEmpty()) {
            return;
        }
        long cursor = user(user).head;
        for (Conn other : connections) {
            if (other.open && other.live && other.user.equals(user) && (echoToSender || other != from)) {
                other.deliver(new Frame.Changes(applied, cursor));
            }
        }
    }

    private void disconnect(Conn c, int code, String reason) {
        if (c.open) {
            c.open = false;
            c.listener.onClosed(code, reason);
        }
    }

    // ------------------------------------------------------------------ test controls

    /** Commits changes as if another replica pushed them (broadcast to live connections). */
    void commit(String user, List<Change> changes) {
        call(() -> {
            broadcast(user, commitOnLoop(user, changes), null);
            return null;
        });
    }

    /** Removes committed changes matching {@code which} (a test repairing what it broke). */
    void purge(String user, Predicate<Change> which) {
        call(() -> user(user).log.values().removeIf(which));
    }

    /** Forgets a user's data and seqs, as a server restored from an empty database would. */
    void reset(String user) {
        call(() -> users.remove(user));
    }

    long head(String user) {
        return call(() -> user(user).head);
    }

    /** The committed changes of a user, by seq. */
    Map<Long, Change> committed(String user) {
        return call(() -> new java.util.TreeMap<>(user(user).log));
    }

    /** Sends the acks held while {@link #holdAcks} was set, in order. */
    void releaseAcks() {
        call(() -> {
            for (Conn c : connections) {
                for (long batch : c.heldAcks) {
                    c.deliver(new Frame.Ack(batch));
                }
                c.heldAcks.clear();
            }
            return null;
        });
    }

    /** Acks held so far on all connections. */
    int heldAckCount() {
        return call(() -> connections.stream().mapToInt(c -> c.heldAcks.size()).sum());
    }

    /** Closes every open connection from the server side (code 1001). */
    void disconnectAll() {
        call(() -> {
            for (Conn c : connections) {
                disconnect(c, 1001, "going away");
            }
            return null;
        });
    }

    /** Fails every open connection (as a network error). */
    void breakAll() {
        call(() -> {
            for (Conn c : connections) {
                if (c.open) {
                    c.open = false;
                    c.listener.onError(new IOException("connection reset"));
                }
            }
            return null;
        });
    }

    /** Sends a raw text frame on every open connection. */
    void sendToAll(String text) {
        call(() -> {
            for (Conn c : connections) {
                c.deliverText(text);
            }
            return null;
        });
    }

    void sendToAll(Frame frame) {
        sendToAll(FrameCodec.encode(frame));
    }

    /** The most pushes any connection had unanswered at once. */
    int maxOutstanding() {
        return call(() -> connections.stream().mapToInt(c -> c.maxOutstanding).max().orElse(0));
    }

    int connectAttempts() {
        return connectAttempts.get();
    }

    /** Connect attempts made within the last {@code millis} milliseconds. */
    int connectAttemptsWithin(long millis) {
        long since = System.nanoTime() - TimeUnit.MILLISECONDS.toNanos(millis);
        return (int) connectNanos.stream().filter(t -> t >= since).count();
    }

    /** Connections closed with 1009 because a client frame was over the limit. */
    int tooBigCloses() {
        return tooBigCloses.get();
    }

    /** The largest frame (UTF-8 bytes) any client sent, accepted or not. */
    long largestFrameBytes() {
        return largestFrameBytes;
    }

    /** Connections that are open from the server's point of view. */
    int openConnections() {
        return call(() -> (int) connections.stream().filter(c -> c.open).count());
    }

    List<Received> received() {
        return List.copyOf(received);
    }

    /** Frames of one type the clients sent, in order. */
    <F extends Frame> List<F> received(Class<F> type) {
        List<F> out = new ArrayList<>();
        for (Received r : received) {
            if (type.isInstance(r.frame())) {
                out.add(type.cast(r.frame()));
            }
        }
        return out;
    }

    <F extends Frame> List<F> received(Class<F> type, int connection) {
        List<F> out = new ArrayList<>();
        for (Received r : received) {
            if (r.connection() == connection && type.isInstance(r.frame())) {
                out.add(type.cast(r.frame()));
            }
        }
        return out;
    }

    /** Runs on the loop thread and waits: a barrier after which everything sent before it was handled. */
    <T> T call(Callable<T> action) {
        try {
            return loop.submit(action).get(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        } catch (ExecutionException e) {
            throw new AssertionError(e.getCause());
        } catch (java.util.concurrent.TimeoutException e) {
            throw new AssertionError("fake server loop is stuck", e);
        }
    }

    @Override
    public void close() {
        loop.shutdownNow();
    }
}
