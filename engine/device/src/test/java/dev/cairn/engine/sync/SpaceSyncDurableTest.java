package dev.cairn.engine.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.Cairn;
import dev.cairn.engine.LeftSpaceCopy;
import dev.cairn.engine.Space;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.FrameCodec;
import dev.cairn.engine.protocol.PageCodec;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Spaces over a real durable engine (the transcripts run in memory): a space's pages and cursor
 * survive a restart, the next hello names the space with that cursor, and a space change left
 * unacknowledged is pushed again, as a space push, by the next client.
 */
class SpaceSyncDurableTest {

    @TempDir
    Path dir;

    /** One socket: frames the client sent (decoded), and the listener to answer through. */
    private static final class Socket implements Transport.Connection {
        final Transport.Listener listener;
        final LinkedBlockingDeque<Frame> sent = new LinkedBlockingDeque<>();

        Socket(Transport.Listener listener) {
            this.listener = listener;
        }

        @Override
        public CompletableFuture<Void> send(String text) {
            sent.add(FrameCodec.decode(text));
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public CompletableFuture<Void> send(byte[] page) {
            sent.add(PageCodec.decode(page, 1 << 20));
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public boolean binary() {
            return true;
        }

        @Override
        public void close() {
        }

        Frame next() throws InterruptedException {
            while (true) {
                Frame f = sent.poll(10, TimeUnit.SECONDS);
                if (f == null) {
                    throw new AssertionError("the client sent nothing");
                }
                if (!(f instanceof Frame.Ping)) {
                    return f;
                }
            }
        }

        void page(Frame frame) {
            listener.onBinary(PageCodec.encode(frame));
        }

        void text(Frame frame) {
            listener.onText(FrameCodec.encode(frame));
        }
    }

    private static final class OneSocket implements Transport {
        final CompletableFuture<Socket> socket = new CompletableFuture<>();

        @Override
        public CompletableFuture<Connection> connect(URI uri, String token, Listener listener) {
            Socket s = new Socket(listener);
            socket.complete(s);
            return CompletableFuture.completedFuture(s);
        }
    }

    private static Stamp stamp(long millis, String replica) {
        return new Stamp(Stamp.pack(millis, 0), replica);
    }

    private static SyncClient client(Cairn cairn, OneSocket transport) {
        return SyncClient.builder(cairn, URI.create("ws://test.invalid/sync"), () -> "tok").transport(transport)
                .syncSpaces(LeftSpaceCopy.KEEP).build();
    }

    private static void welcome(Socket s, long head) {
        s.text(new Frame.Welcome(2, "alice", head, 1000, 60_000, 1 << 20, null, Map.of("trip", new Frame.SpaceInfo("editor", 5))));
    }

    @Test
    void aSpacesCursorAndDataSurviveARestartAndItsUnackedChangeIsPushedAgain() throws Exception {
        long now = System.currentTimeMillis();
        try (Cairn cairn = Cairn.builder().dataDir(dir).replicaId("phone").open()) {
            OneSocket transport = new OneSocket();
            try (SyncClient sync = client(cairn, transport)) {
                sync.start();
                Socket s = transport.socket.get(10, TimeUnit.SECONDS);
                Frame.Hello hello = (Frame.Hello) s.next();
                assertEquals(Map.of(), hello.spaces());
                welcome(s, 1);
                s.page(new Frame.Changes(List.of(new Frame.SeqChange(1, new Change.Put("spaces", "trip",
                        "{\"name\":\"Trip\",\"role\":\"editor\"}", stamp(now - 10_000, "server")))), 1));
                s.text(new Frame.CaughtUp(1));
                s.page(new Frame.Changes(List.of(new Frame.SeqChange(5, new Change.Put("state", "dest", "\"Lisbon\"",
                        stamp(now - 9_000, "laptop")))), 5, "trip"));
                s.text(new Frame.CaughtUp(5, "trip"));
                SyncTestSupport.await("the space is live", () -> sync.spaceStatus("trip") != null
                        && sync.spaceStatus("trip").state() == SpaceSyncState.LIVE);
                Space trip = cairn.space("trip");
                assertEquals(5, trip.cursor());
                trip.map("state").put("budget", 900);
                Frame.Push push = (Frame.Push) s.next();
                assertEquals("trip", push.space());
                assertEquals("budget", ((Change.Put) push.changes().get(0)).key());
                // no ack: the change stays in the space's durable outbox
            }
        }
        try (Cairn cairn = Cairn.builder().dataDir(dir).replicaId("phone").open()) {
            Space trip = cairn.space("trip");
            assertEquals("\"Lisbon\"", trip.map("state").json("dest"));
            assertEquals(5, trip.cursor());
            assertEquals(1, trip.pendingChanges());
            assertEquals("Trip", cairn.spaces().get(0).name());
            OneSocket transport = new OneSocket();
            try (SyncClient sync = client(cairn, transport)) {
                sync.start();
                Socket s = transport.socket.get(10, TimeUnit.SECONDS);
                Frame.Hello hello = (Frame.Hello) s.next();
                assertEquals(Map.of("trip", 5L), hello.spaces());
                assertEquals(1, hello.cursor());
                welcome(s, 1);
                Frame.Push again = (Frame.Push) s.next();
                assertEquals("trip", again.space());
                assertEquals("900", ((Change.Put) again.changes().get(0)).value());
                s.page(new Frame.Ack(again.batch()));
                SyncTestSupport.await("the ack empties the space's outbox", () -> trip.pendingChanges() == 0);
                assertTrue(trip.refusedChanges().isEmpty());
            }
        }
    }
}
