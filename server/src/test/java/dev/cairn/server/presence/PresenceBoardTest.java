package dev.cairn.server.presence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.protocol.Frame;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** PresenceBoard (PROTOCOL.md 8.6): what it passes on, what it only refreshes, and when entries go. */
class PresenceBoardTest {

    private final List<PresenceUpdate> sent = new ArrayList<>();
    private final PresenceBoard board = new PresenceBoard(sent::add);
    private final Object phoneSocket = new Object();
    private final Object laptopSocket = new Object();

    private List<Frame.Presence> frames() {
        List<Frame.Presence> out = sent.stream().map(PresenceUpdate::frame).toList();
        sent.clear();
        return out;
    }

    @Test
    void aChangePassesOnOnceAnUnchangedStateOnlyRefreshes() {
        board.set("s", "bob", "phone", "{\"at\":1}", phoneSocket, 0);
        board.set("s", "bob", "phone", "{\"at\":1}", phoneSocket, 2_000);
        board.set("s", "bob", "phone", "{\"at\":2}", phoneSocket, 2_100);
        assertEquals(List.of(new Frame.Presence("s", "bob", "phone", "{\"at\":1}"), new Frame.Presence("s", "bob", "phone", "{\"at\":2}")), frames());
        assertEquals("{\"type\":\"presence\",\"space\":\"s\",\"user\":\"bob\",\"replica\":\"phone\",\"state\":{\"at\":2}}",
                board.present("s").get(0).text());
        board.set("s", "bob", "phone", null, phoneSocket, 2_200);
        board.set("s", "bob", "phone", null, phoneSocket, 2_300); // nothing left to withdraw
        assertEquals(List.of(new Frame.Presence("s", "bob", "phone", null)), frames());
        assertTrue(board.present("s").isEmpty());
    }

    @Test
    void entriesNotRefreshedFor4500MillisExpireAndRefreshedOnesStay() {
        board.set("s", "bob", "phone", "1", phoneSocket, 0);
        board.set("s", "bob", "laptop", "2", laptopSocket, 0);
        frames();
        board.set("s", "bob", "laptop", "2", laptopSocket, 2_000);
        board.expire(4_499);
        assertTrue(frames().isEmpty());
        board.expire(4_500);
        assertEquals(List.of(new Frame.Presence("s", "bob", "phone", null)), frames());
        board.set("s", "bob", "laptop", "2", laptopSocket, 4_000);
        board.expire(8_000);
        assertTrue(frames().isEmpty(), "refreshed at 4,000 ms: still there at 8,000");
        assertEquals(1, board.present("s").size());
    }

    @Test
    void aClosedSocketsEntriesGoInEverySpaceAndOnlyItsOwn() {
        board.set("s", "bob", "phone", "1", phoneSocket, 0);
        board.set("t", "bob", "phone", "1", phoneSocket, 0);
        board.set("s", "bob", "laptop", "1", laptopSocket, 0);
        frames();
        board.dropAll(phoneSocket);
        List<Frame.Presence> gone = frames();
        assertEquals(2, gone.size());
        assertTrue(gone.contains(new Frame.Presence("s", "bob", "phone", null)) && gone.contains(new Frame.Presence("t", "bob", "phone", null)));
        assertEquals(1, board.present("s").size());
        assertTrue(board.present("t").isEmpty());
    }

    @Test
    void aUserWhoLeftASpaceIsWithdrawnThereOnly() {
        board.set("s", "bob", "phone", "1", phoneSocket, 0);
        board.set("s", "alice", "web", "1", laptopSocket, 0);
        board.set("t", "bob", "phone", "1", phoneSocket, 0);
        frames();
        board.dropUser("s", "bob");
        assertEquals(List.of(new Frame.Presence("s", "bob", "phone", null)), frames());
        assertEquals(1, board.present("t").size());
    }

    @Test
    void whoIsPresentIsSortedByUserThenReplica() {
        board.set("s", "bob", "phone", "1", phoneSocket, 0);
        board.set("s", "alice", "web", "2", laptopSocket, 0);
        board.set("s", "bob", "laptop", "3", laptopSocket, 0);
        assertEquals(List.of("alice/web", "bob/laptop", "bob/phone"),
                board.present("s").stream().map(p -> p.frame().user() + "/" + p.frame().replica()).toList());
    }

    @Test
    void localChangesAndRefreshesGoToTheOtherNodesAndRemoteOnesAreNotSentOn() {
        List<io.vertx.core.json.JsonObject> forwarded = new ArrayList<>();
        board.forwardTo(forwarded::add);
        board.set("s", "bob", "phone", "1", phoneSocket, 0);
        board.set("s", "bob", "phone", "1", phoneSocket, 500); // a refresh within the second: not told
        board.set("s", "bob", "phone", "1", phoneSocket, 1_000); // told: keeps the other nodes' copy alive
        board.set("s", "bob", "phone", null, phoneSocket, 1_100);
        assertEquals(List.of("1", "1", "null"), forwarded.stream().map(j -> String.valueOf(j.getValue("state"))).toList());
        forwarded.clear();
        frames();

        io.vertx.core.json.JsonObject remote = new io.vertx.core.json.JsonObject().put("space", "s").put("user", "alice").put("replica", "web").put("state", "{\"a\":1}");
        board.applyRemote("node-b", remote, 0);
        board.applyRemote("node-b", remote, 2_000); // a refresh: nothing passed on
        assertEquals(List.of(new Frame.Presence("s", "alice", "web", "{\"a\":1}")), frames());
        board.expire(6_000);
        assertTrue(frames().isEmpty(), "refreshed at 2,000 ms");
        board.expire(6_500);
        assertEquals(List.of(new Frame.Presence("s", "alice", "web", null)), frames(), "the other node stopped refreshing: gone here too");
        assertTrue(forwarded.isEmpty(), "another node's entries are never sent on");
        board.applyRemote("node-b", new io.vertx.core.json.JsonObject().put("space", "a b").put("user", "x").put("replica", "y").put("state", "1"), 0);
        assertTrue(board.present("a b").isEmpty(), "a malformed item is ignored");
    }

    @Test
    void theSizeLimitIs1024BytesOfUtf8() {
        assertTrue(PresenceBoard.fits("\"" + "x".repeat(1022) + "\""));
        assertFalse(PresenceBoard.fits("\"" + "x".repeat(1023) + "\""));
        assertFalse(PresenceBoard.fits("\"" + "é".repeat(512) + "\""), "1,026 bytes in 514 characters");
        assertTrue(PresenceBoard.fits(null));
    }

    @Test
    void theRateIs10ASecondPerSocket() {
        PresenceRate rate = new PresenceRate();
        for (int i = 0; i < 10; i++) {
            assertTrue(rate.allow(1_000 + i));
        }
        assertFalse(rate.allow(1_500));
        assertTrue(rate.allow(2_000));
    }
}
