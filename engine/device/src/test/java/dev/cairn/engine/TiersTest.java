package dev.cairn.engine;

import dev.cairn.engine.section.PersistTo;
import dev.cairn.engine.section.StoragePolicy;
import dev.cairn.engine.sync.internal.SyncPorts;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.persist.Tier;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.NavigableMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where values go ({@code persistTo}), whether they sync ({@code sync}), the outbox, and the clock across restarts. */
class TiersTest {

    @TempDir
    Path dir;

    private Cairn open() {
        return Cairn.builder().dataDir(dir).replicaId("a").open();
    }

    private static StateOptions<String> to(PersistTo tier) {
        return StateOptions.<String>defaults().persistTo(tier);
    }

    @Test
    void contextValuesAreGoneAfterReopen() {
        try (Cairn cairn = open()) {
            cairn.state("ctx-sync", String.class, "default", to(PersistTo.CONTEXT)).set("v1");
            cairn.state("ctx-local", String.class, "default", to(PersistTo.CONTEXT).sync(false)).set("v2");
            cairn.save().join();
            assertEquals("v1", cairn.state("ctx-sync", String.class, "default", to(PersistTo.CONTEXT)).value());
        }
        try (Cairn cairn = open()) {
            assertEquals("default", cairn.state("ctx-sync", String.class, "default", to(PersistTo.CONTEXT)).value());
            assertEquals("default", cairn.state("ctx-local", String.class, "default", to(PersistTo.CONTEXT)).value());
        }
    }

    @Test
    void aMemoryOnlyLocalKeyIsNeverDirtyAndWritesNothing() {
        try (Cairn cairn = open()) {
            PersistentState<String> s = cairn.state("scratch", String.class, "", to(PersistTo.CONTEXT).sync(false));
            s.set("x");
            assertFalse(s.isDirty(), "nothing to save for a memory-only, local-only key");
            assertEquals(0, cairn.stats().unsavedRecords());
            assertEquals(0, cairn.stats().outboxSize());
        }
    }

    @Test
    void sessionStorageIsCountedInTheSessionTierWhileOpenAndGoneAfterReopen() {
        try (Cairn cairn = open()) {
            cairn.state("local", String.class, "", to(PersistTo.LOCAL_STORAGE)).set("L");
            cairn.save().join();
            assertEquals(0L, cairn.stats().bytesPerTier().get(Tier.SESSION), "localStorage keys do not use the session tier");

            PersistentState<String> session = cairn.state("session", String.class, "default", to(PersistTo.SESSION_STORAGE));
            session.set("S".repeat(100));
            cairn.save().join();
            assertFalse(session.isDirty());
            assertTrue(cairn.stats().bytesPerTier().get(Tier.SESSION) > 100, cairn.stats().toString());
        }
        try (Cairn cairn = open()) {
            assertEquals("default", cairn.state("session", String.class, "default", to(PersistTo.SESSION_STORAGE)).value());
            assertEquals("L", cairn.state("local", String.class, "", to(PersistTo.LOCAL_STORAGE)).value());
            assertEquals(0L, cairn.stats().bytesPerTier().get(Tier.SESSION));
        }
    }

    @Test
    void localStorageAndAllSurviveReopenAndAllAlsoUsesTheSessionTier() {
        try (Cairn cairn = open()) {
            cairn.state("local", String.class, "", to(PersistTo.LOCAL_STORAGE)).set("L");
            cairn.save().join();
            assertEquals(0L, cairn.stats().bytesPerTier().get(Tier.SESSION));
            cairn.state("all", String.class, "", to(PersistTo.ALL)).set("A");
            cairn.save().join();
            assertTrue(cairn.stats().bytesPerTier().get(Tier.SESSION) > 0);
        }
        try (Cairn cairn = open()) {
            assertEquals("L", cairn.state("local", String.class, "").value());
            assertEquals("A", cairn.state("all", String.class, "").value());
        }
    }

    @Test
    void aLocalOnlyKeyNeverEntersTheOutboxButIsStillSaved() {
        try (Cairn cairn = open()) {
            PersistentState<String> local = cairn.state("device-only", String.class, "", StateOptions.<String>defaults().sync(false));
            local.set("1");
            local.set("2");
            cairn.save().join();
            local.reset();
            cairn.save().join();
            local.set("3");
            cairn.save().join();
            assertEquals(0, TestSupport.outboxCount(cairn, "state", "device-only"));
            assertEquals(0, cairn.stats().outboxSize());
        }
        try (Cairn cairn = open()) {
            assertEquals("3", cairn.state("device-only", String.class, "").value(), "sync(false) still persists locally");
            assertEquals(0, SyncPorts.of(cairn).outbox(100).size());
        }
    }

    @Test
    void aSyncingKeyEntersTheOutboxOncePerCoalescedSave() {
        try (Cairn cairn = open()) {
            PersistentState<Integer> n = cairn.state("n", Integer.class, 0, StateOptions.<Integer>defaults().sync(true));
            n.set(1);
            n.set(2);
            n.set(3);
            cairn.save().join();
            List<Change> first = TestSupport.outbox(cairn);
            assertEquals(1, first.size(), first.toString());
            assertEquals("3", ((Change.Put) first.get(0)).value(), "the outbox carries the latest value of the coalesced key");
            cairn.save().join();
            assertEquals(1, SyncPorts.of(cairn).outbox(100).size(), "a save with nothing new adds nothing");
            n.set(4);
            cairn.save().join();
            assertEquals(2, TestSupport.outboxCount(cairn, "state", "n"));
        }
    }

    @Test
    void aContextKeyThatSyncsReachesTheOutboxWithoutAStateRecord() {
        try (Cairn cairn = open()) {
            cairn.state("ephemeral", String.class, "", to(PersistTo.CONTEXT).sync(true)).set("for the server");
            cairn.save().join();
            assertEquals(1, TestSupport.outboxCount(cairn, "state", "ephemeral"));
        }
        try (Cairn cairn = open()) {
            assertFalse(cairn.map("state").contains("ephemeral"));
            assertEquals(1, TestSupport.outboxCount(cairn, "state", "ephemeral"), "the outbox itself is durable");
        }
    }

    @Test
    void theOutboxSurvivesReopenAcknowledgedEntriesStayGoneAndSequencesKeepGrowing() {
        long lastSeq;
        try (Cairn cairn = open()) {
            cairn.memory().remember("a", 1);
            cairn.memory().remember("b", 2);
            cairn.memory().remember("c", 3);
            cairn.save().join();
            NavigableMap<Long, Change> outbox = SyncPorts.of(cairn).outbox(100);
            assertEquals(3, outbox.size());
            SyncPorts.of(cairn).acknowledge(List.of(outbox.firstKey())).join();
            lastSeq = outbox.lastKey();
        }
        try (Cairn cairn = open()) {
            NavigableMap<Long, Change> outbox = SyncPorts.of(cairn).outbox(100);
            assertEquals(2, outbox.size(), outbox.toString());
            cairn.memory().remember("d", 4);
            cairn.save().join();
            assertTrue(SyncPorts.of(cairn).outbox(100).lastKey() > lastSeq, "sequence numbers must not be reused after a restart");
            assertEquals(2, SyncPorts.of(cairn).outbox(2).size(), "outbox(limit) returns at most limit entries");
            assertEquals(outbox.firstKey(), SyncPorts.of(cairn).outbox(1).firstKey(), "oldest first");
        }
    }

    @Test
    void remoteChangesAreSavedButNeverQueuedForTheServer() {
        try (Cairn cairn = open()) {
            Stamp stamp = new Stamp(Stamp.pack(System.currentTimeMillis(), 0), "server-side");
            assertEquals(1, SyncPorts.of(cairn).applyRemote(List.of(new Change.Put("memory", "fact", "\"remote\"", stamp))));
            cairn.save().join();
            assertEquals(0, SyncPorts.of(cairn).outbox(100).size());
        }
        try (Cairn cairn = open()) {
            assertEquals("remote", cairn.memory().recall("fact", String.class));
        }
    }

    @Test
    void aSectionPolicyAppliesToItsKeysAndAKeyOptionOverridesIt() {
        StoragePolicy memoryOnly = StoragePolicy.DEFAULT.withPersistTo(PersistTo.CONTEXT).withSync(false);
        try (Cairn cairn = Cairn.builder().dataDir(dir).section("scratch", SectionKind.MAP, memoryOnly).open()) {
            cairn.map("scratch").put("plain", 1);
            cairn.state("kept", Integer.class, 0, StateOptions.<Integer>defaults().section("scratch")
                    .persistTo(PersistTo.LOCAL_STORAGE).sync(true)).set(2);
            cairn.save().join();
            assertEquals(0, TestSupport.outboxCount(cairn, "scratch", "plain"));
            assertEquals(1, TestSupport.outboxCount(cairn, "scratch", "kept"));
        }
        try (Cairn cairn = Cairn.builder().dataDir(dir).section("scratch", SectionKind.MAP, memoryOnly).open()) {
            assertFalse(cairn.map("scratch").contains("plain"));
            assertEquals(2, cairn.map("scratch").get("kept", Integer.class));
        }
    }

    @Test
    void stampsStayMonotonicAcrossRestartsEvenWhenTheWallClockGoesBack() {
        ManualWallClock wall = new ManualWallClock();
        List<Stamp> before = new ArrayList<>();
        try (Cairn cairn = Cairn.builder().dataDir(dir).replicaId("a").wallClock(wall).open()) {
            for (int i = 0; i < 5; i++) {
                cairn.memory().remember("k" + i, i);
                wall.advance(Duration.ofHours(1));
            }
            for (int i = 0; i < 5; i++) {
                before.add(cairn.map("memory").entry("k" + i).stamp());
            }
            cairn.save().join();
        }
        Stamp highest = before.stream().max(Stamp::compareTo).orElseThrow();
        wall.set(ManualWallClock.START - Duration.ofDays(30).toMillis());
        try (Cairn cairn = Cairn.builder().dataDir(dir).replicaId("a").wallClock(wall).open()) {
            cairn.memory().remember("k0", "after restart");
            cairn.memory().remember("new", true);
            Stamp rewritten = cairn.map("memory").entry("k0").stamp();
            Stamp fresh = cairn.map("memory").entry("new").stamp();
            assertTrue(rewritten.compareTo(highest) > 0, rewritten + " must be after " + highest);
            assertTrue(fresh.compareTo(rewritten) > 0);
            assertEquals("after restart", cairn.memory().recall("k0", String.class), "the new write must win over the old one");
        }
    }

    @Test
    void aMessageAfterAClearAndARestartWithTheClockSetBackStaysVisible() {
        // After a clear the newest stamp lives only in the stream's watermark: a message written
        // after a restart with the wall clock set back must still land above it and stay visible.
        ManualWallClock wall = new ManualWallClock();
        Stamp newest;
        try (Cairn cairn = Cairn.builder().dataDir(dir).replicaId("a").wallClock(wall).open()) {
            cairn.chat().append("c", "user", "one");
            wall.advance(Duration.ofDays(1));
            newest = cairn.chat().append("c", "user", "two").stamp();
            cairn.save().join();
            cairn.chat().clear("c");
            cairn.save().join();
            Stamp watermark = cairn.state().log("chat").watermark("c");
            assertTrue(watermark.compareTo(newest) > 0);
            newest = watermark;
        }
        wall.set(ManualWallClock.START);
        try (Cairn cairn = Cairn.builder().dataDir(dir).replicaId("a").wallClock(wall).open()) {
            Stamp next = cairn.chat().append("c", "user", "three").stamp();
            assertTrue(next.compareTo(newest) > 0, next + " must be after " + newest);
            assertEquals(1, cairn.chat().size("c"), "a new message after a clear must be visible");
        }
    }
}
