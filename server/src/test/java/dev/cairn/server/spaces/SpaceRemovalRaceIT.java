package dev.cairn.server.spaces;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.protocol.ErrorCode;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.section.SpaceSections;
import dev.cairn.server.TestServer;
import dev.cairn.server.space.SpaceKeys;
import dev.cairn.server.store.ServerStore;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 18's removal race (PROTOCOL.md 8.2, 8.4), on both stores: a member pushes to a space
 * continuously while their {@code members} entry is deleted in a commit. No change of theirs is
 * committed after the removal (every one has a lower seq than the removal), every acked change is
 * in the space and every refused one is not, and neither of their sockets gets anything of the
 * space at or after the removal: their pages stop before it, then {@code space-left}, then nothing.
 */
class SpaceRemovalRaceIT {

    private static final Duration WAIT = SpaceWire.WAIT;

    @ParameterizedTest
    @ValueSource(strings = {"embedded", "postgres"})
    void nothingCommittedOrDeliveredAfterTheRemoval(String store) throws Exception {
        try (SpaceServers servers = SpaceServers.start(store)) {
            TestServer server = servers.server;
            SpaceFixture members = SpaceFixture.over(server);
            // the real membership service: the removal is its one atomic, guarded commit
            dev.cairn.server.space.Memberships service = server.node().memberships();
            String space = TestServer.await(service.create("alice", "race-" + store)).id();
            String key = SpaceKeys.storeKey(space);
            TestServer.await(service.setRole("alice", space, "bob", SpaceSections.EDITOR));

            try (SpaceWire pusher = SpaceWire.connect(server.syncUri(), server.token("bob"));
                 SpaceWire reader = SpaceWire.connect(server.syncUri(), server.token("bob"))) {
                for (SpaceWire ws : List.of(pusher, reader)) {
                    ws.hello(ws == pusher ? "phone" : "laptop", 0, Map.of());
                    ws.until(f -> f instanceof Frame.CaughtUp c && space.equals(c.space()), WAIT);
                }
                AtomicBoolean stop = new AtomicBoolean();
                int[] sent = {0};
                Thread pushing = new Thread(() -> {
                    // one change per batch, about 200 a second, until told to stop
                    while (!stop.get()) {
                        int n = sent[0]++;
                        pusher.send(new Frame.Push(n, List.of(new Change.Put("cards", "bob-" + n, "true", SpaceFixture.stampFor("phone"))), space));
                        try {
                            Thread.sleep(5);
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                }, "bob-pushes");
                pushing.start();
                Thread.sleep(300);
                TestServer.await(service.remove("alice", space, "bob"));
                for (int i = 0; i < 5; i++) {
                    members.commit(key, new Change.Put("cards", "after-" + i, "true", SpaceFixture.stamp()));
                }
                Thread.sleep(300);
                stop.set(true);
                pushing.join();

                // every batch answered: acked, or refused as not-a-member
                Map<Long, Frame> answers = new HashMap<>();
                long deadline = System.nanoTime() + WAIT.toNanos();
                while (answers.size() < sent[0] && System.nanoTime() < deadline) {
                    Frame f = pusher.poll(Duration.ofMillis(200));
                    if (f instanceof Frame.Ack a) {
                        answers.put(a.batch(), a);
                    } else if (f instanceof Frame.Error e && e.batch() != null) {
                        assertEquals(ErrorCode.NOT_A_MEMBER, e.code(), "only not-a-member refusals: " + e);
                        assertEquals(space, e.space());
                        answers.put(e.batch(), e);
                    }
                }
                assertEquals(sent[0], answers.size(), "every push answered");

                ServerStore.Page page = TestServer.await(server.store().readSince(key, 0, 100_000));
                long cut = -1;
                Map<String, Long> seqs = new HashMap<>();
                for (ServerStore.Sequenced s : page.changes()) {
                    if (s.change() instanceof Change.Put p && SpaceSections.MEMBERS.equals(p.section()) && p.key().equals("bob") && p.isDelete()) {
                        cut = s.seq();
                    }
                    seqs.put(s.change().section() + "/" + s.change().target(), s.seq());
                }
                assertTrue(cut > 0, "the removal is in the space");
                int acked = 0;
                int refused = 0;
                for (var e : answers.entrySet()) {
                    Long seq = seqs.get("cards/bob-" + e.getKey());
                    if (e.getValue() instanceof Frame.Ack) {
                        acked++;
                        assertTrue(seq != null && seq < cut, "acked batch " + e.getKey() + " committed before the removal: seq " + seq + ", cut " + cut);
                    } else {
                        refused++;
                        if (seq != null) {
                            fail("refused batch " + e.getKey() + " is in the space at seq " + seq);
                        }
                    }
                }
                assertTrue(acked > 0 && refused > 0, "the pushes straddled the removal: acked " + acked + ", refused " + refused);
                for (String k : seqs.keySet()) {
                    if (k.startsWith("cards/bob-")) {
                        assertTrue(seqs.get(k) < cut, k + " committed after the removal");
                    }
                }

                // both of bob's sockets: the space stops before the cut, then space-left, then nothing of it
                for (SpaceWire ws : List.of(pusher, reader)) {
                    long until = System.nanoTime() + WAIT.toNanos();
                    while (ws.received().stream().noneMatch(f -> f instanceof Frame.SpaceLeft) && System.nanoTime() < until) {
                        ws.poll(Duration.ofMillis(100)); // received() keeps what the answers loop above took
                    }
                    Thread.sleep(200);
                    List<Frame> frames = ws.received();
                    int left = -1;
                    Set<String> keys = new HashSet<>();
                    for (int i = 0; i < frames.size(); i++) {
                        Frame f = frames.get(i);
                        if (f instanceof Frame.SpaceLeft l) {
                            assertEquals(new Frame.SpaceLeft(space, "removed"), l);
                            assertEquals(-1, left, "space-left once");
                            left = i;
                        }
                        if (f instanceof Frame.Changes c && space.equals(c.space())) {
                            assertEquals(-1, left, "a page of the space after space-left: " + c);
                            assertTrue(c.cursor() < cut, "a page covering the removal: " + c);
                            for (Frame.SeqChange sc : c.changes()) {
                                assertTrue(sc.seq() < cut, "a change at or after the removal was delivered: " + sc);
                                keys.add(sc.change().target());
                            }
                        }
                        if (f instanceof Frame.Presence p) {
                            assertEquals(-1, left, "presence after space-left: " + p);
                        }
                    }
                    assertTrue(left >= 0, "space-left received");
                    for (int i = 0; i < 5; i++) {
                        assertFalse(keys.contains("after-" + i));
                    }
                }
            }
        }
    }

    /**
     * PROTOCOL.md 8.2, on both stores: a batch whose first push committed but whose ack was lost is
     * acknowledged when sent again after the user was made a viewer or removed (it writes nothing:
     * no seq), while a batch that would write is refused (forbidden, then not-a-member).
     */
    @ParameterizedTest
    @ValueSource(strings = {"embedded", "postgres"})
    void aReSentBatchWhoseAckWasLostIsAcknowledgedAfterTheRoleChangeAndTheRemoval(String store) throws Exception {
        try (SpaceServers servers = SpaceServers.start(store)) {
            TestServer server = servers.server;
            dev.cairn.server.space.Memberships service = server.node().memberships();
            String space = TestServer.await(service.create("alice", "resend-" + store)).id();
            String key = SpaceKeys.storeKey(space);
            TestServer.await(service.setRole("alice", space, "bob", SpaceSections.EDITOR));
            List<Change> batch = List.of(new Change.Put("cards", "bob-1", "true", SpaceFixture.stampFor("phone")));
            try (SpaceWire first = SpaceWire.connect(server.syncUri(), server.token("bob"))) {
                first.hello("phone", 0, Map.of());
                first.until(f -> f instanceof Frame.CaughtUp c && space.equals(c.space()), WAIT);
                first.send(new Frame.Push(1, batch, space));
                assertTrue(answer(first, 1) instanceof Frame.Ack, "committed; the device never gets this ack");
            }
            try (SpaceWire again = SpaceWire.connect(server.syncUri(), server.token("bob"))) {
                again.hello("phone", 0, Map.of());
                again.until(f -> f instanceof Frame.CaughtUp c && space.equals(c.space()), WAIT);
                TestServer.await(service.setRole("alice", space, "bob", SpaceSections.VIEWER));
                long head = TestServer.await(server.store().head(key));
                again.send(new Frame.Push(2, batch, space));
                assertTrue(answer(again, 2) instanceof Frame.Ack, "a viewer's re-send that writes nothing is acknowledged");
                List<Change> more = List.of(batch.get(0), new Change.Put("cards", "bob-3", "true", SpaceFixture.stampFor("phone")));
                again.send(new Frame.Push(3, more, space));
                Frame forbidden = answer(again, 3);
                assertTrue(forbidden instanceof Frame.Error e && e.code() == ErrorCode.FORBIDDEN, "a viewer's write: " + forbidden);
                assertEquals(head, TestServer.await(server.store().head(key)), "no seq for the re-send, nothing of the refused batch");

                TestServer.await(service.remove("alice", space, "bob"));
                head = TestServer.await(server.store().head(key));
                again.send(new Frame.Push(4, batch, space));
                assertTrue(answer(again, 4) instanceof Frame.Ack, "a removed member's re-send that writes nothing is acknowledged");
                again.send(new Frame.Push(5, more, space));
                Frame notMember = answer(again, 5);
                assertTrue(notMember instanceof Frame.Error e && e.code() == ErrorCode.NOT_A_MEMBER, "a removed member's write: " + notMember);
                assertEquals(head, TestServer.await(server.store().head(key)));
            }
            List<String> cards = new java.util.ArrayList<>();
            for (ServerStore.MapEntry e : TestServer.await(server.store().readMap(key, "cards", "", null, 100)).entries()) {
                cards.add(e.key());
            }
            assertEquals(List.of("bob-1"), cards, "the first push's change once, nothing of the refused batches");
        }
    }

    /** The ack or error of one batch (other frames skipped). */
    private static Frame answer(SpaceWire ws, long batch) {
        return ws.until(f -> f instanceof Frame.Ack a && a.batch() == batch
                || f instanceof Frame.Error e && e.batch() != null && e.batch() == batch, WAIT);
    }
}
