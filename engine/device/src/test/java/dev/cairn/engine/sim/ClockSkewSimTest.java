package dev.cairn.engine.sim;

import dev.cairn.engine.sync.internal.SyncPorts;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.Cairn;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.protocol.ErrorCode;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.FrameCodec;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Clock skew against the server model, step by step (the randomized part runs inside
 * {@link SimulatorTest}: devices +-24 h off, jumping back mid-run). Shows exactly what the engine
 * does with a clock far ahead: the server refuses the batch with clock-skew, the changes stay in
 * the outbox, and because the hybrid clock never goes back (its high-water mark is persisted),
 * the device keeps stamping a day ahead even after its wall clock is corrected, so its writes
 * wait until the server's time reaches them; then they are accepted and nothing is lost.
 */
class ClockSkewSimTest {

    private static final long DAY = Simulation.DAY;
    private static final long AHEAD_BOUND = 60_000;

    private final long[] now = {Simulation.EPOCH};
    private final long[] offset = {0};
    private final ServerModel server = new ServerModel(16, 20, AHEAD_BOUND, () -> now[0], KeySpace::kind, new SimStats(),
            new Trace(10), new Random(1));
    private final Connection conn = new Connection(1, null);
    private final ServerModel.ServerSession session = server.open(conn);
    private long batch = 1;

    private List<Frame> exchange(Frame frame) {
        server.receive(session, FrameCodec.encode(frame));
        List<Frame> out = new ArrayList<>();
        while (!conn.toClient.isEmpty()) {
            out.add(FrameCodec.decode(conn.toClient.pollFirst()));
        }
        return out;
    }

    private Frame push(Cairn cairn) {
        cairn.save().join();
        List<Change> outbox = new ArrayList<>(SyncPorts.of(cairn).outbox(100).values());
        List<Frame> replies = exchange(new Frame.Push(batch++, outbox));
        assertEquals(1, replies.size(), "one answer per push: " + replies);
        Frame reply = replies.get(0);
        if (reply instanceof Frame.Ack) {
            SyncPorts.of(cairn).acknowledge(SyncPorts.of(cairn).outbox(100).keySet()).join();
        }
        return reply;
    }

    @Test
    void aDeviceADayAheadKeepsItsWritesUntilTheServerCatchesUp() {
        System.out.println("ClockSkewSimTest seed=0 (replay: CAIRN_SEED=0; scripted, no randomness)");
        offset[0] = DAY;
        try (Cairn ahead = Cairn.builder().inMemory().replicaId("ahead").wallClock(() -> now[0] + offset[0]).open()) {
            exchange(new Frame.Hello(1, "ahead", 0));
            ahead.map("state").put("k", "written a day ahead");

            Frame refused = push(ahead);
            Frame.Error error = assertInstanceOf(Frame.Error.class, refused);
            assertEquals(ErrorCode.CLOCK_SKEW, error.code());
            assertEquals(0, server.head(), "nothing of a refused batch is applied");
            assertEquals(1, ahead.pendingChanges(), "the refused change stays in the outbox");

            // The wall clock is corrected, but the hybrid clock never goes back: new stamps stay a day ahead.
            offset[0] = 0;
            ahead.map("state").put("k2", "written after the clock was fixed");
            long stampMillis = ahead.map("state").entry("k2").stamp().millis();
            assertTrue(stampMillis - now[0] > DAY - 1_000, "the engine keeps stamping ahead of its corrected wall clock");
            error = assertInstanceOf(Frame.Error.class, push(ahead));
            assertEquals(ErrorCode.CLOCK_SKEW, error.code());
            assertEquals(2, ahead.pendingChanges(), "both writes wait in the outbox");

            // Within the bound of the server's clock: accepted, acknowledged, nothing lost.
            now[0] += DAY - AHEAD_BOUND + 5_000;
            assertInstanceOf(Frame.Ack.class, push(ahead));
            assertEquals(0, ahead.pendingChanges());
            assertEquals(2, server.readSince(0, 100).changes().size());
            for (Change c : server.store.accepted) {
                assertTrue(c.stamp().millis() - now[0] <= AHEAD_BOUND, "no accepted stamp beyond the server's bound: " + c);
            }
            assertEquals(server.canonicalFromStore(), ahead.canonicalState());
        }
    }

    @Test
    void aDeviceADayBehindIsAcceptedAtOnceAndMovesPastWhatItApplies() {
        offset[0] = -DAY;
        try (Cairn behind = Cairn.builder().inMemory().replicaId("behind").wallClock(() -> now[0] + offset[0]).open()) {
            exchange(new Frame.Hello(1, "behind", 0));
            behind.map("state").put("k", "old clock");
            assertInstanceOf(Frame.Ack.class, push(behind));
            // A change stamped by the server's clock reaches the device; its next write is stamped after it.
            Change.Put fromServer = new Change.Put("state", "k", "\"server\"", server.clock.tick());
            server.serverWrite(List.of(fromServer));
            SyncPorts.of(behind).applyRemote(List.of(fromServer), server.head());
            behind.map("state").put("k", "after the server's write");
            assertTrue(behind.map("state").entry("k").stamp().compareTo(fromServer.stamp()) > 0,
                    "a write after applying a newer remote change wins over it, whatever the wall clock says");
        }
    }

    /**
     * A server bug the model showed, now fixed in HttpApi.clearSection. PROTOCOL.md 3.3 says the server's own writes are stamped later than any change it has
     * seen, because its clock observes every accepted stamp. But that clock lives in memory:
     * after a restart (or on another node) it has not seen a change stamped up to maxAheadMillis
     * ahead, and HttpApi.clearSection stamps its tombstones with {@code clock.tick()} without first
     * advancing past the entries it loaded. The tombstone then loses and the key is not cleared.
     * The fix: {@code clock.advance(entry.stamp())} for each loaded entry before ticking. This test
     * shows the hazard and that advancing first removes it.
     */
    @Test
    void aServerClearAfterARestartLosesToAStampAheadOfTheFreshClock() {
        offset[0] = 30_000; // ahead, within the bound: accepted
        try (Cairn device = Cairn.builder().inMemory().replicaId("ahead30").wallClock(() -> now[0] + offset[0]).open()) {
            exchange(new Frame.Hello(1, "ahead30", 0));
            device.map("state").put("k", "v");
            assertInstanceOf(Frame.Ack.class, push(device));
            server.restartProcess();
            now[0] += 1_000;
            server.serverWrite(List.of(new Change.Put("state", "k", null, server.clock.tick()))); // as HttpApi.clearSection did
            assertTrue(!server.entry("state", "k").isTombstone(), "the clear lost to the entry stamped ahead of the fresh clock");
            // HttpApi.clearSection now advances its clock past every entry it clears first:
            server.clock.advance(server.entry("state", "k").stamp());
            server.serverWrite(List.of(new Change.Put("state", "k", null, server.clock.tick())));
            assertTrue(server.entry("state", "k").isTombstone(), "after advancing, the clear wins");
        }
    }
}
