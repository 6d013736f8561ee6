package dev.cairn.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.sync.internal.SyncPort;
import dev.cairn.engine.sync.internal.SyncPorts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Spaces on the device (PROTOCOL.md 8): one local replica per space, membership sections read-only. */
class SpaceReplicaTest {

    @TempDir
    Path dir;

    private static Stamp serverStamp(long millis) {
        return new Stamp(Stamp.pack(millis, 0), "server");
    }

    @Test
    void aSpaceIsItsOwnDurableReplicaWithItsOwnCursorAndOutbox() {
        try (Cairn cairn = Cairn.builder().dataDir(dir).replicaId("phone").open()) {
            Space trip = cairn.space("sp-1");
            assertSame(trip, cairn.space("sp-1"));
            trip.map("state").put("destination", "Lisbon");
            cairn.map("state").put("destination", "home");
            trip.save().join();
            cairn.save().join();
            SyncPort space = SyncPorts.of(cairn).space("sp-1", false);
            assertEquals(1, space.outbox(10).size(), "the space's write is in the space's outbox only");
            assertEquals(1, SyncPorts.of(cairn).outbox(10).size());
            space.applyRemote(List.of(new Change.Put("state", "budget", "900", serverStamp(1_000))), 7);
            assertEquals(7, trip.cursor());
            assertEquals(0, cairn.cursor());
        }
        assertTrue(Files.isDirectory(dir.resolve("spaces").resolve("sp-1")));
        try (Cairn cairn = Cairn.builder().dataDir(dir).replicaId("phone").open()) {
            assertEquals(List.of("sp-1"), SyncPorts.of(cairn).heldSpaces(), "held spaces are found on disk");
            Space trip = cairn.space("sp-1");
            assertEquals("\"Lisbon\"", trip.map("state").json("destination"));
            assertEquals("900", trip.map("state").json("budget"));
            assertEquals("\"home\"", cairn.map("state").json("destination"));
            assertEquals(7, trip.cursor());
        }
    }

    @Test
    void membershipSectionsAreReadOnlyAndReadOffline() {
        try (Cairn cairn = Cairn.builder().dataDir(dir).replicaId("phone").open()) {
            SyncPort port = SyncPorts.of(cairn);
            port.applyRemote(List.of(new Change.Put("spaces", "sp-2", "{\"name\":\"Trip\",\"role\":\"viewer\"}", serverStamp(1_000)),
                    new Change.Put("spaces", "sp-1", "{\"name\":\"Home\",\"role\":\"owner\"}", serverStamp(1_001))), 2);
            assertEquals(List.of(new SpaceMembership("sp-1", "Home", "owner"), new SpaceMembership("sp-2", "Trip", "viewer")), cairn.spaces());
            Space trip = cairn.space("sp-2");
            assertEquals(new SpaceMembership("sp-2", "Trip", "viewer"), trip.membership());
            port.space("sp-2", false).applyRemote(List.of(new Change.Put("members", "bob", "{\"role\":\"viewer\"}", serverStamp(1_000)),
                    new Change.Put("members", "alice", "{\"role\":\"owner\"}", serverStamp(1_000))), 2);
            assertEquals(List.of(new SpaceMember("alice", "owner"), new SpaceMember("bob", "viewer")), trip.members());

            assertThrows(ValidationException.class, () -> cairn.map("spaces").put("sp-3", "{}"));
            assertThrows(ValidationException.class, () -> cairn.clear("spaces"));
            assertThrows(ValidationException.class, () -> cairn.disableSync("spaces", ServerCopy.DELETE));
            assertThrows(ValidationException.class, () -> trip.map("members").clear());
            assertThrows(ValidationException.class, () -> trip.map("members").put("eve", "{\"role\":\"owner\"}"));
            assertThrows(ValidationException.class, () -> trip.map("members").remove("bob"));
            assertEquals(2, trip.members().size(), "nothing was written");
            assertFalse(cairn.sections().containsKey("spaces"), "the app's section list does not show the reserved section");
            assertFalse(cairn.exportData().contains("\"spaces\""), "an export holds the app's sections only");
        }
    }

    @Test
    void reservedNamesCannotBeRegisteredAndBadIdsAreRefused() {
        for (String name : List.of("spaces", "members", "invitations")) {
            assertThrows(IllegalArgumentException.class, () -> Cairn.builder().section(name, SectionKind.MAP));
        }
        try (Cairn cairn = TestSupport.inMemory("a")) {
            assertThrows(IllegalArgumentException.class, () -> cairn.space("no spaces"));
            assertThrows(IllegalArgumentException.class, () -> cairn.space(""));
            assertThrows(IllegalArgumentException.class, () -> cairn.space("x".repeat(65)));
            assertTrue(cairn.spaces().isEmpty());
        }
    }

    @Test
    void leftSpacesAreKeptReadOnlyOrDroppedAndLoseTheirCursor() {
        try (Cairn cairn = Cairn.builder().dataDir(dir).replicaId("phone").open()) {
            SyncPort port = SyncPorts.of(cairn);
            Space kept = cairn.space("kept");
            Space gone = cairn.space("gone");
            port.space("kept", false).applyRemote(List.of(new Change.Put("state", "a", "1", serverStamp(1_000))), 5);
            gone.map("state").put("a", 2);
            gone.save().join();
            port.spaceLeft("kept", "removed", true);
            port.spaceLeft("gone", "deleted", false);
            assertEquals("removed", kept.leftReason());
            assertEquals(0, kept.cursor(), "the cursor is dropped: a user added again catches up from 0");
            assertEquals("1", kept.map("state").json("a"), "the copy stays readable");
            assertThrows(ValidationException.class, () -> kept.map("state").put("a", 3));
            assertTrue(gone.isDropped());
            assertThrows(IllegalStateException.class, () -> gone.map("state"));
            assertFalse(Files.exists(dir.resolve("spaces").resolve("gone")));
            assertEquals(List.of(), port.heldSpaces(), "a left space is not said in hello");
            port.spaceRejoined("kept");
            kept.map("state").put("a", 4);
            assertEquals("4", kept.map("state").json("a"));
        }
    }

    @Test
    void refusedChangesStayVisibleSurviveRestartsAndAreToldToOnError() {
        List<Throwable> errors = new CopyOnWriteArrayList<>();
        Change refused = new Change.Put("state", "title", "\"mine\"", new Stamp(Stamp.pack(5_000, 0), "phone"));
        try (Cairn cairn = Cairn.builder().dataDir(dir).replicaId("phone").open()) {
            cairn.onError(errors::add);
            Space space = cairn.space("sp-1");
            SyncPorts.of(cairn).spaceRefused("sp-1", "forbidden", List.of(refused), "viewers cannot write");
            assertEquals(List.of(new RefusedChange("forbidden", refused)), space.refusedChanges());
            SpaceRefusedException e = (SpaceRefusedException) errors.get(0);
            assertEquals("sp-1", e.space());
            assertEquals("forbidden", e.code());
            space.save().join();
        }
        try (Cairn cairn = Cairn.builder().dataDir(dir).replicaId("phone").open()) {
            Space space = cairn.space("sp-1");
            assertEquals(List.of(new RefusedChange("forbidden", refused)), space.refusedChanges());
            assertEquals(1, space.dropRefused());
            assertTrue(space.refusedChanges().isEmpty());
        }
    }

    @Test
    void droppingRefusedChangesRollsTheirValuesBackAndRetakesTheSpace() {
        List<Integer> resyncs = new CopyOnWriteArrayList<>();
        try (Cairn cairn = Cairn.builder().dataDir(dir).replicaId("phone").open()) {
            SyncPort port = SyncPorts.of(cairn);
            port.onResync(() -> resyncs.add(1));
            Space space = cairn.space("sp-1");
            Change theirs = new Change.Put("state", "title", "\"theirs\"", serverStamp(1_000));
            port.space("sp-1", false).applyRemote(List.of(theirs, new Change.Put("state", "kept", "1", serverStamp(1_001))), 2);
            space.map("state").put("title", "mine");
            space.map("state").put("other", "mine too");
            space.log("chat").append("c1", "hello");
            space.save().join();
            List<Change> mine = space.engine().port.outbox(10).values().stream().toList();
            port.spaceRefused("sp-1", "forbidden", mine, "viewers cannot write");
            space.map("state").put("other", "newer"); // overwritten since: not rolled back
            space.save().join();
            assertEquals(3, space.dropRefused());
            assertNull(space.map("state").json("title"), "the refused value is gone");
            assertEquals("\"newer\"", space.map("state").json("other"));
            assertEquals(0, space.log("chat").size("c1"), "the refused append is gone");
            assertEquals("1", space.map("state").json("kept"));
            assertEquals(0, space.cursor(), "the space is taken again from the server");
            assertEquals(List.of(1), resyncs, "the sync client is told to start over");
            port.space("sp-1", false).applyRemote(List.of(theirs), 2);
            assertEquals("\"theirs\"", space.map("state").json("title"), "the value the refused write replaced is back");
            space.map("state").put("title2", "x"); // not refused: unaffected below
            space.save().join();
        }
        try (Cairn cairn = Cairn.builder().dataDir(dir).replicaId("phone").open()) {
            Space space = cairn.space("sp-1");
            assertEquals("\"theirs\"", space.map("state").json("title"), "rolled back on disk too");
            assertEquals(0, space.log("chat").size("c1"));
            assertEquals(0, space.dropRefused());
        }
    }

    @Test
    void presenceIsValidatedAndPeersAreListedSorted() {
        try (Cairn cairn = TestSupport.inMemory("a")) {
            Space space = cairn.space("sp-1");
            List<String> told = new CopyOnWriteArrayList<>();
            SyncPorts.of(cairn).onOwnPresence(told::add);
            space.setPresence("{ \"cursor\" : \"item-3\" }");
            assertEquals("{\"cursor\":\"item-3\"}", space.ownPresence());
            assertEquals(List.of("sp-1"), told);
            assertThrows(ValidationException.class, () -> space.setPresence("\"" + "x".repeat(1100) + "\""));
            assertThrows(ValidationException.class, () -> space.setPresence("{nope"));
            List<List<SpacePresence>> seen = new CopyOnWriteArrayList<>();
            space.onPresence(seen::add);
            SyncPort port = SyncPorts.of(cairn);
            port.peerPresence("sp-1", "carol", "r1", "{}");
            port.peerPresence("sp-1", "bob", "r2", "{\"x\":1}");
            port.peerPresence("sp-1", "bob", "r2", "{\"x\":1}"); // unchanged: not told again
            assertEquals(List.of(new SpacePresence("bob", "r2", "{\"x\":1}"), new SpacePresence("carol", "r1", "{}")), space.presence());
            assertEquals(2, seen.size());
            port.peerPresence("sp-1", "carol", "r1", null);
            assertEquals(List.of(new SpacePresence("bob", "r2", "{\"x\":1}")), space.presence());
            port.clearPresence();
            assertTrue(space.presence().isEmpty());
            space.setPresence(null);
            assertNull(space.ownPresence());
        }
    }
}
