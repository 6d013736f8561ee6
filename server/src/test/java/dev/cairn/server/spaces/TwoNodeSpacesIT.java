package dev.cairn.server.spaces;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.section.SpaceSections;
import dev.cairn.server.TestServer;
import dev.cairn.server.space.SpaceKeys;
import dev.cairn.server.store.TestDatabase;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Spaces across two nodes on one PostgreSQL database: a space's commits on one node reach a
 * member's session on the other (the fan-out carries the space's store key like a user's), a join
 * made on one node starts the space on the other, and a removal made on one node cuts the space on
 * the other, which names the reason from the page itself (PROTOCOL.md 8.4); presence set on one
 * node is seen on the other within a second, kept while refreshed, and gone with its socket.
 */
class TwoNodeSpacesIT {

    private static final Duration WAIT = SpaceWire.WAIT;

    @Test
    void aSpaceSyncsAcrossNodesAndTheCutHoldsOnTheOtherNode() {
        Vertx admin = Vertx.vertx();
        try (TestDatabase db = TestDatabase.create(admin);
             TestServer a = TestServer.postgres(db.url()).nodeId("node-a").start();
             TestServer b = TestServer.postgres(db.url()).nodeId("node-b").start()) {
            SpaceFixture onA = SpaceFixture.over(a);
            String s = onA.create("alice");
            try (SpaceWire bob = SpaceWire.connect(b.syncUri(), b.token("bob"));
                 SpaceWire alice = SpaceWire.connect(a.syncUri(), a.token("alice"))) {
                bob.hello("phone", 0, Map.of());
                bob.until(f -> f instanceof Frame.CaughtUp c && c.space() == null, WAIT);
                alice.hello("web", 0, Map.of());
                alice.until(f -> f instanceof Frame.CaughtUp c && s.equals(c.space()), WAIT);

                onA.add(s, "bob", SpaceSections.EDITOR); // committed on node A: bob on node B joins
                bob.until(f -> f instanceof Frame.CaughtUp c && s.equals(c.space()), WAIT);

                alice.send(new Frame.Push(1, List.of(new Change.Put("cards", "from-a", "true", SpaceFixture.stampFor("web"))), s));
                alice.until(f -> f instanceof Frame.Ack, WAIT);
                bob.until(f -> f instanceof Frame.Changes c && s.equals(c.space())
                        && c.changes().stream().anyMatch(x -> x.change().target().equals("from-a")), WAIT);

                onA.leave(s, "bob"); // SpaceEvents on node A only (left): node B tells the reason from the page
                onA.commit(SpaceKeys.storeKey(s), new Change.Put("cards", "after", "true", SpaceFixture.stamp()));
                assertEquals(new Frame.SpaceLeft(s, "removed"), bob.until(f -> f instanceof Frame.SpaceLeft, WAIT));
                alice.until(f -> f instanceof Frame.Changes c && c.changes().stream().anyMatch(x -> x.change().target().equals("after")), WAIT);
                for (Frame f : bob.received()) {
                    assertFalse(f.toString().contains("key=after,"), "node B sent bob a change after the removal: " + f);
                }
            }
        } finally {
            TestServer.await(admin.close());
        }
    }

    @Test
    void presenceCrossesNodesStaysWhileRefreshedAndGoesWithTheSocket() throws Exception {
        Vertx admin = Vertx.vertx();
        try (TestDatabase db = TestDatabase.create(admin);
             TestServer a = TestServer.postgres(db.url()).nodeId("node-a").start();
             TestServer b = TestServer.postgres(db.url()).nodeId("node-b").start()) {
            SpaceFixture onA = SpaceFixture.over(a);
            String s = onA.create("alice");
            onA.add(s, "bob", SpaceSections.EDITOR);
            try (SpaceWire alice = SpaceWire.connect(a.syncUri(), a.token("alice"))) {
                alice.hello("web", 0, Map.of());
                alice.until(f -> f instanceof Frame.CaughtUp c && s.equals(c.space()), WAIT);
                SpaceWire bob = SpaceWire.connect(b.syncUri(), b.token("bob"));
                bob.hello("phone", 0, Map.of());
                bob.until(f -> f instanceof Frame.CaughtUp c && s.equals(c.space()), WAIT);

                long set = System.nanoTime();
                bob.send(new Frame.Presence(s, "{\"at\":1}"));
                Frame.Presence seen = (Frame.Presence) alice.until(f -> f instanceof Frame.Presence, WAIT);
                assertEquals(new Frame.Presence(s, "bob", "phone", "{\"at\":1}"), seen);
                assertTrue(System.nanoTime() - set < 1_000_000_000L, "presence from the other node took over 1 s");

                // refreshed every 2 s for 7 s: node A keeps it (no withdrawal), and passes on nothing unchanged
                for (int i = 0; i < 4; i++) {
                    Thread.sleep(1_750);
                    bob.send(new Frame.Presence(s, "{\"at\":1}"));
                    Frame f = alice.poll(Duration.ofMillis(1));
                    assertTrue(f == null || !(f instanceof Frame.Presence), "a refresh was passed on, or the presence expired: " + f);
                }
                assertNull(alice.poll(Duration.ofMillis(250)));

                long closed = System.nanoTime();
                bob.close();
                Frame.Presence gone = (Frame.Presence) alice.until(f -> f instanceof Frame.Presence, WAIT);
                assertNull(gone.state());
                assertTrue(System.nanoTime() - closed < 1_000_000_000L, "presence outlived its socket on the other node by over 1 s");
            }
        } finally {
            TestServer.await(admin.close());
        }
    }
}
