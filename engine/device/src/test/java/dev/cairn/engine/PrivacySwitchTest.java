package dev.cairn.engine;

import dev.cairn.engine.sync.internal.SyncPorts;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The per-section privacy switch on one engine ({@link Cairn#disableSync} / {@link Cairn#enableSync}):
 * what enters the outbox (the only way anything reaches the server), what is applied from the
 * server, and what the KEEP and DELETE choices send. End to end against a real server (its
 * database read) in the server module's SyncScenarios.
 */
class PrivacySwitchTest {

    private static Cairn open(Path dir, String replica) {
        return Cairn.builder().dataDir(dir.resolve(replica)).replicaId(replica).open();
    }

    /** Saves, then acknowledges (forgets) everything in the outbox, as after a sync. */
    private static void synced(Cairn cairn) {
        cairn.save().join();
        SyncPorts.of(cairn).acknowledge(new ArrayList<>(SyncPorts.of(cairn).outbox(Integer.MAX_VALUE).keySet())).join();
    }

    private static List<Change> outboxOf(Cairn cairn, String section) {
        cairn.save().join();
        return SyncPorts.of(cairn).outbox(Integer.MAX_VALUE).values().stream().filter(c -> c.section().equals(section)).toList();
    }

    @Test
    void keepStopsSyncingBothWaysAndTurningItBackOnPushesWhatStayedLocal(@TempDir Path dir) {
        Stamp sharedStamp;
        try (Cairn a = open(dir, "dev-a")) {
            a.ui().put("shared", "before the switch");
            sharedStamp = a.map("ui").entry("shared").stamp();
            synced(a);
            assertTrue(a.isSyncing("ui"));
            a.disableSync("ui", ServerCopy.KEEP).join();
            assertFalse(a.isSyncing("ui"));
            assertTrue(a.isSyncing("memory"), "other sections go on syncing");
            a.ui().put("private", "written with sync off");
            a.memory().remember("fact", "synced");
            assertEquals(List.of(), outboxOf(a, "ui"), "nothing of a section with sync off enters the outbox");
            assertEquals(1, outboxOf(a, "memory").size());
            assertEquals(0, outboxOf(a, "ui").size());
            // nothing of it is applied from the server either (the cursor still moves on)
            Stamp remote = new Stamp(a.clock().last() + 1, "dev-b");
            assertEquals(1, SyncPorts.of(a).applyRemote(List.of(new Change.Put("ui", "from-b", "1", remote),
                    new Change.Put("memory", "from-b", "1", remote)), 7));
            assertFalse(a.ui().contains("from-b"));
            assertTrue(a.map("memory").contains("from-b"));
            assertEquals(7, a.cursor());
        }
        try (Cairn a = open(dir, "dev-a")) {
            assertFalse(a.isSyncing("ui"), "the switch survives a restart");
            a.ui().put("private-2", "still local");
            assertEquals(0, outboxOf(a, "ui").size());

            a.enableSync("ui").join();
            assertTrue(a.isSyncing("ui"));
            List<Change> pushed = outboxOf(a, "ui");
            assertEquals(List.of("private", "private-2", "shared"), pushed.stream().map(Change::target).sorted().toList(),
                    "turning sync back on pushes the section as this device has it");
            assertTrue(pushed.stream().anyMatch(c -> c.target().equals("shared") && c.stamp().equals(sharedStamp)),
                    "with KEEP, entries keep their stamps (newer writes elsewhere still win)");
            assertEquals(0, a.cursor(), "the next connection catches up from the start: what changed while it was off");
            assertEquals(0, SyncPorts.of(a).cursorForHello());
            SyncPorts.of(a).applyRemote(List.of(new Change.Put("ui", "from-b", "1", new Stamp(a.clock().last() + 1, "dev-b"))), 9);
            assertTrue(a.ui().contains("from-b"), "with sync on again, the server's changes apply");
            assertEquals(9, a.cursor());
        }
    }

    @Test
    void deleteClearsTheServersCopyAndTheOtherDevicesButThisDeviceKeepsItsOwn(@TempDir Path dir) {
        try (Cairn a = open(dir, "dev-a"); Cairn b = open(dir, "dev-b")) {
            a.ui().put("k1", "one");
            a.ui().put("k2", "two");
            TestSupport.ship(a, b);
            synced(a);
            assertEquals(2, b.ui().size());

            a.disableSync("ui", ServerCopy.DELETE).join();
            List<Change> sent = outboxOf(a, "ui");
            assertEquals(1, sent.size(), sent.toString());
            Change.Clear clear = (Change.Clear) sent.get(0);
            assertTrue(clear.isWholeSection());
            assertEquals(List.of("k1", "k2"), List.copyOf(a.ui().keys()), "this device keeps its copy");
            assertEquals(null, EngineAccess.state(a).map("ui").watermark(), "the clear is not applied here");

            // another device (through the server) applies the clear and loses its copy
            assertEquals(1, SyncPorts.of(b).applyRemote(sent));
            assertEquals(0, b.ui().size());
            // the echo of its own clear from the server does not touch this device either
            assertEquals(0, SyncPorts.of(a).applyRemote(sent, 12));
            assertEquals(2, a.ui().size());

            a.ui().put("k3", "written while off");
            assertEquals(1, outboxOf(a, "ui").size(), "still only the clear");
            synced(a);

            a.enableSync("ui").join();
            List<Change> pushed = outboxOf(a, "ui");
            assertEquals(List.of("k1", "k2", "k3"), pushed.stream().map(Change::target).sorted().toList());
            for (Change c : pushed) {
                assertTrue(c.stamp().compareTo(clear.stamp()) > 0, "the copy is shared again, above the clear: " + c);
            }
            assertNotNull(EngineAccess.state(a).map("ui").watermark(), "the server's clear now applies here too");
            assertEquals(List.of("k1", "k2", "k3"), List.copyOf(a.ui().keys()), "and hides none of this device's data");
            SyncPorts.of(b).applyRemote(pushed);
            assertEquals(a.canonicalState(), b.canonicalState());
        }
    }

    @Test
    void deleteOfALogSectionSendsAWatermarkPerStream(@TempDir Path dir) {
        try (Cairn a = open(dir, "dev-a")) {
            a.chat().append("c1", "user", "one");
            a.chat().append("c2", "user", "two");
            synced(a);
            a.disableSync("chat", ServerCopy.DELETE).join();
            List<Change> sent = outboxOf(a, "chat");
            assertEquals(List.of("c1", "c2"), sent.stream().map(Change::target).sorted().toList());
            assertTrue(sent.stream().allMatch(c -> c instanceof Change.Clear));
            assertEquals(1, a.chat().size("c1"));
            a.enableSync("chat").join();
            assertEquals(List.of("one"), a.chat().history("c1").stream().map(ChatMessage::text).toList(),
                    "re-shared entries replace the old ones here, no duplicates");
            assertEquals(2, outboxOf(a, "chat").stream().filter(c -> c instanceof Change.Append).count());
        }
    }

    @Test
    void aConnectedClientIsToldToCatchUpAgain(@TempDir Path dir) {
        try (Cairn a = open(dir, "dev-a")) {
            AtomicInteger told = new AtomicInteger();
            SyncPorts.of(a).onResync(told::incrementAndGet);
            a.disableSync("preferences", ServerCopy.KEEP).join();
            assertEquals(0, told.get());
            a.enableSync("preferences").join();
            assertEquals(1, told.get());
            a.enableSync("preferences").join();
            assertEquals(1, told.get(), "turning on a section that is on changes nothing");
        }
    }
}
