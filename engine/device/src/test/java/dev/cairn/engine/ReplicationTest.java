package dev.cairn.engine;

import dev.cairn.engine.sync.internal.SyncPorts;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.clock.ClockSkewException;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.UnknownSectionException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Two replicas exchanging outbox changes through {@code applyRemote}: field-level merge, clears, refusals. */
class ReplicationTest {

    private final List<Cairn> engines = new ArrayList<>();

    private Cairn replica(String id) {
        Cairn c = TestSupport.inMemory(id);
        engines.add(c);
        return c;
    }

    private Cairn replica(String id, ManualWallClock clock) {
        Cairn c = TestSupport.inMemory(id, clock);
        engines.add(c);
        return c;
    }

    @AfterEach
    void closeAll() {
        engines.forEach(Cairn::close);
    }

    @Test
    void concurrentEditsOfDifferentFieldsOfOneCardBothSurvive() {
        Cairn a = replica("a");
        Cairn b = replica("b");
        a.cards().card("x").expand();
        b.cards().card("x").setVisible(false);

        TestSupport.ship(a, b);
        TestSupport.ship(b, a);

        for (Cairn r : List.of(a, b)) {
            Card x = r.cards().card("x");
            assertTrue(x.isExpanded(), r.replicaId() + ": A's expand must survive");
            assertFalse(x.isVisible(), r.replicaId() + ": B's hide must survive");
        }
        assertEquals(a.canonicalState(), b.canonicalState());
    }

    @Test
    void concurrentWritesOfOneKeyConvergeToTheNewerStamp() {
        ManualWallClock wall = new ManualWallClock();
        Cairn a = replica("a", wall);
        Cairn b = replica("b", wall);
        a.preferences().setTheme("dark");
        wall.advance(Duration.ofSeconds(1));
        b.preferences().setTheme("light");
        TestSupport.ship(b, a);
        TestSupport.ship(a, b);
        assertEquals("light", a.preferences().theme());
        assertEquals("light", b.preferences().theme());
        assertEquals(a.canonicalState(), b.canonicalState());
    }

    @Test
    void remoteChangesFireListenersWithOriginRemoteAndReachTypedHandles() {
        Cairn a = replica("a");
        Cairn b = replica("b");
        PersistentState<Integer> counter = b.state("counter", Integer.class, 0);
        List<Integer> seen = new ArrayList<>();
        counter.subscribe(seen::add);
        List<ChangeEvent> events = new ArrayList<>();
        b.onChange(events::add);

        a.state("counter", Integer.class, 0).set(5);
        a.chat().append("c", "user", "hi");
        TestSupport.ship(a, b);

        assertEquals(5, counter.value());
        assertEquals(List.of(5), seen);
        assertEquals(2, events.size());
        assertTrue(events.stream().allMatch(e -> e.origin() == ChangeEvent.Origin.REMOTE && e.isRemote()), events.toString());
        assertEquals("hi", b.chat().history("c").get(0).text());
    }

    @Test
    void applyingTheSameChangesTwiceChangesNothingTheSecondTime() {
        Cairn a = replica("a");
        Cairn b = replica("b");
        a.memory().remember("x", 1);
        a.chat().append("c", "user", "hi");
        assertEquals(2, TestSupport.ship(a, b));
        String once = b.canonicalState();
        List<ChangeEvent> events = new ArrayList<>();
        b.onChange(events::add);
        assertEquals(0, TestSupport.ship(a, b));
        assertEquals(once, b.canonicalState());
        assertEquals(List.of(), events, "a change that alters nothing is not an event");
    }

    @Test
    void remoteChangesDoNotEnterTheReceiversOutbox() {
        Cairn a = replica("a");
        Cairn b = replica("b");
        a.memory().remember("x", 1);
        TestSupport.ship(a, b);
        b.save().join();
        assertEquals(0, SyncPorts.of(b).outbox(100).size());
        assertEquals(0, b.stats().outboxSize());
    }

    @Test
    void aBatchWithAnUnknownSectionIsRefusedWholeAndAppliesNothing() {
        Cairn b = replica("b");
        Stamp s = new Stamp(Stamp.pack(System.currentTimeMillis(), 0), "a");
        String before = b.canonicalState();
        List<Change> batch = List.of(
                new Change.Put("memory", "good", "1", s),
                new Change.Put("nosuchsection", "k", "1", s));
        assertThrows(UnknownSectionException.class, () -> SyncPorts.of(b).applyRemote(batch));
        assertEquals(before, b.canonicalState());
        assertNull(b.memory().recall("good", Integer.class));
    }

    @Test
    void aBatchWithAChangeOfTheWrongKindIsRefusedWholeAndAppliesNothing() {
        Cairn b = replica("b");
        Stamp s = new Stamp(Stamp.pack(System.currentTimeMillis(), 0), "a");
        String before = b.canonicalState();
        List<Change> batch = List.of(
                new Change.Append("chat", "c", "\"ok\"", s),
                new Change.Append("cards", "c", "\"a log change for a map\"", s));
        assertThrows(UnknownSectionException.class, () -> SyncPorts.of(b).applyRemote(batch));
        assertEquals(before, b.canonicalState());
    }

    @Test
    void aBatchWithAStampBeyondMaxClockAheadIsRefusedWholeAndDoesNotMoveTheClock() {
        ManualWallClock wall = new ManualWallClock();
        Cairn b = Cairn.builder().inMemory().replicaId("b").wallClock(wall).maxClockAhead(Duration.ofMinutes(1)).open();
        engines.add(b);
        Stamp fine = new Stamp(Stamp.pack(wall.millis() + 30_000, 0), "a");
        Stamp future = new Stamp(Stamp.pack(wall.millis() + Duration.ofHours(1).toMillis(), 0), "a");
        String before = b.canonicalState();
        List<Change> batch = List.of(new Change.Put("memory", "near", "1", fine), new Change.Put("memory", "far", "2", future));
        assertThrows(ClockSkewException.class, () -> SyncPorts.of(b).applyRemote(batch));
        assertEquals(before, b.canonicalState());
        b.memory().remember("local", true);
        assertTrue(b.map("memory").entry("local").stamp().compareTo(fine) < 0,
                "a refused batch must not advance the clock, not even for its acceptable changes");
        assertEquals(1, SyncPorts.of(b).applyRemote(List.of(new Change.Put("memory", "near", "1", fine))));
    }

    @Test
    void clearingAMapSendsOneClearThatEmptiesTheOtherReplicaButANewerWriteThereSurvives() {
        ManualWallClock wall = new ManualWallClock();
        Cairn a = replica("a", wall);
        Cairn b = replica("b", wall);
        a.memory().remember("k1", "one");
        a.memory().remember("k2", "two");
        a.memory().remember("k3", "three");
        TestSupport.ship(a, b);
        assertEquals(3, b.map("memory").size());

        wall.advance(Duration.ofSeconds(1));
        a.save().join();
        assertEquals(3, SyncPorts.of(a).outbox(100).size());
        assertEquals(3, a.clear("memory"));
        assertEquals(0, a.map("memory").size());
        a.save().join();
        List<Change> sent = new ArrayList<>(SyncPorts.of(a).outbox(100).values());
        assertEquals(1, sent.size(), "one clear, not a tombstone per key; the unsent writes it covers leave the outbox: " + sent);
        assertTrue(sent.get(0) instanceof Change.Clear c && c.isWholeSection() && c.section().equals("memory"), sent.toString());
        wall.advance(Duration.ofSeconds(1));
        b.memory().remember("k2", "rewritten on b after the clear");

        TestSupport.ship(a, b);
        assertNull(b.memory().recall("k1", String.class));
        assertNull(b.memory().recall("k3", String.class));
        assertEquals("rewritten on b after the clear", b.memory().recall("k2", String.class));
        TestSupport.ship(b, a);
        assertEquals(a.canonicalState(), b.canonicalState());
        assertEquals(1, a.map("memory").size());
    }

    @Test
    void clearingAMapWithNothingLiveStillPurgesItsTombstones() {
        Cairn a = replica("a");
        a.memory().remember("k", 1);
        a.save().join();
        a.memory().forget("k");
        assertEquals(1, EngineAccess.state(a).map("memory").size(), "a single delete keeps its tombstone");
        assertEquals(0, a.clear("memory"));
        assertEquals(0, EngineAccess.state(a).map("memory").size(), "the clear purged the tombstone");
        a.save().join();
        List<Change> sent = new ArrayList<>(SyncPorts.of(a).outbox(100).values());
        assertEquals(1, sent.size(), "only the clear (which keeps older writes out): the put and delete it covers were never sent: " + sent);
        assertTrue(sent.get(0) instanceof Change.Clear c && c.isWholeSection(), sent.toString());
    }

    @Test
    void anOfflineReplicasOlderMapWritesAndDeletesCannotComeBackAfterAClear() {
        ManualWallClock wall = new ManualWallClock();
        Cairn a = replica("a", wall);
        Cairn b = replica("b", wall);
        a.ui().put("panel", "left");
        a.ui().put("zoom", 2);
        TestSupport.ship(a, b);
        // b, offline, edits and deletes (older than a's clear)
        wall.advance(Duration.ofSeconds(1));
        b.ui().put("panel", "offline edit");
        b.ui().remove("zoom");
        b.ui().put("new-offline-key", true);
        wall.advance(Duration.ofSeconds(1));
        assertEquals(2, a.ui().clear());
        // later, after the clear, b writes once more
        wall.advance(Duration.ofSeconds(1));
        b.ui().put("after", "kept");

        TestSupport.ship(a, b);
        TestSupport.ship(b, a);
        for (Cairn r : List.of(a, b)) {
            assertEquals(List.of("after"), List.copyOf(r.ui().keys()), r.replicaId());
            assertEquals(1, EngineAccess.state(r).map("ui").size(), r.replicaId() + ": no tombstone or older value is kept");
        }
        assertEquals(a.canonicalState(), b.canonicalState());
    }

    @Test
    void clearingAConversationPropagatesAndALaterMessageSurvives() {
        ManualWallClock wall = new ManualWallClock();
        Cairn a = replica("a", wall);
        Cairn b = replica("b", wall);
        a.chat().append("conv", "user", "1");
        a.chat().append("conv", "assistant", "2");
        TestSupport.ship(a, b);
        assertEquals(2, b.chat().size("conv"));

        wall.advance(Duration.ofSeconds(1));
        a.chat().clear("conv");
        wall.advance(Duration.ofSeconds(1));
        b.chat().append("conv", "user", "after the clear");
        TestSupport.ship(a, b);
        TestSupport.ship(b, a);
        for (Cairn r : List.of(a, b)) {
            assertEquals(List.of("after the clear"), r.chat().history("conv").stream().map(ChatMessage::text).toList(), r.replicaId());
        }
        assertEquals(a.canonicalState(), b.canonicalState());
    }

    @Test
    void anOfflineReplicasOldMessagesCannotComeBackAfterAClear() {
        ManualWallClock wall = new ManualWallClock();
        Cairn a = replica("a", wall);
        Cairn b = replica("b", wall);
        b.chat().append("conv", "user", "written offline on b");
        wall.advance(Duration.ofSeconds(1));
        a.chat().append("conv", "user", "on a");
        a.chat().clear("conv");
        TestSupport.ship(b, a);
        assertEquals(0, a.chat().size("conv"), "b's older message is below a's watermark");
        TestSupport.ship(a, b);
        assertEquals(0, b.chat().size("conv"));
        assertEquals(a.canonicalState(), b.canonicalState());
    }

    @Test
    void threeReplicasConvergeWhateverTheDeliveryOrder() {
        Cairn a = replica("a");
        Cairn b = replica("b");
        Cairn c = replica("c");
        a.cards().card("x").toggle();
        b.components().component("nav").hide();
        c.progress().updateOnboarding("welcome", true);
        c.chat().append("conv", "user", "from c");
        a.chat().append("conv", "user", "from a");
        a.save().join();
        b.save().join();
        c.save().join();
        List<Change> fromA = TestSupport.outbox(a);
        List<Change> fromB = TestSupport.outbox(b);
        List<Change> fromC = TestSupport.outbox(c);
        SyncPorts.of(a).applyRemote(fromC);
        SyncPorts.of(a).applyRemote(fromB);
        SyncPorts.of(b).applyRemote(fromA);
        SyncPorts.of(b).applyRemote(fromC);
        SyncPorts.of(c).applyRemote(fromB);
        SyncPorts.of(c).applyRemote(fromA);
        assertEquals(a.canonicalState(), b.canonicalState());
        assertEquals(b.canonicalState(), c.canonicalState());
        assertEquals(2, c.chat().size("conv"));
    }
}
