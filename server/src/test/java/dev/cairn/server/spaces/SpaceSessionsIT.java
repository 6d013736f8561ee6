package dev.cairn.server.spaces;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.protocol.ErrorCode;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.section.SpaceSections;
import dev.cairn.server.space.SpaceKeys;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Sync sessions with spaces on a real server (embedded store, random port), PROTOCOL.md 8.1-8.4:
 * welcome.spaces, each space's catch-up after the user's, live pages of kind 4 encoded once,
 * invitations never sent, a join mid-session, the cut and space-left, and the read-only
 * membership sections.
 */
class SpaceSessionsIT extends EmbeddedSpaces {

    private static final Duration WAIT = SpaceWire.WAIT;
    private static final AtomicLong IDS = new AtomicLong();
    private static String id(String what) {
        return what + "-" + IDS.incrementAndGet();
    }

    private static Change.Put card(String key, String replica) {
        return new Change.Put("cards", key, "true", SpaceFixture.stampFor(replica));
    }

    /** The secret part of an invitation code ({@code <space>.<secret>}). */
    private static String secretOf(String code) {
        return code.substring(code.indexOf('.') + 1);
    }

    /** Frames of the user's catch-up up to its caught-up (space null), then the rest. */
    private static Frame.CaughtUp caughtUp(SpaceWire ws, String space) {
        return (Frame.CaughtUp) ws.until(f -> f instanceof Frame.CaughtUp c && java.util.Objects.equals(c.space(), space), WAIT);
    }

    private static List<Frame.Changes> pagesOf(List<Frame> frames, String space) {
        return frames.stream().filter(f -> f instanceof Frame.Changes c && space.equals(c.space())).map(f -> (Frame.Changes) f).toList();
    }

    @Test
    void welcomeNamesTheSpacesAndEachIsCaughtUpAfterTheUsersOwn() {
        String alice = id("alice");
        String s = members.create(alice);
        members.commit(SpaceKeys.storeKey(s), card("card-1/isExpanded", "laptop"), card("card-2/isExpanded", "laptop"));
        String secret1 = secretOf(members.invite(s));

        try (SpaceWire ws = SpaceWire.connect(server.syncUri(), server.token(alice))) {
            Frame.Welcome welcome = ws.hello("phone", 0, Map.of());
            assertEquals(Map.of(s, new Frame.SpaceInfo("owner", server.head(SpaceKeys.storeKey(s)))), welcome.spaces());
            Frame.CaughtUp own = caughtUp(ws, null);
            Frame.CaughtUp space = caughtUp(ws, s);
            List<Frame> frames = ws.received();
            assertTrue(frames.indexOf(own) < frames.indexOf(space));
            for (Frame f : frames.subList(0, frames.indexOf(own))) {
                assertFalse(f instanceof Frame.Changes c && c.space() != null, "a space page before the user's caught-up: " + f);
            }
            List<Frame.Changes> pages = pagesOf(frames, s);
            assertEquals(server.head(SpaceKeys.storeKey(s)), space.cursor());
            List<String> keys = pages.stream().flatMap(p -> p.changes().stream()).map(c -> c.change().section() + "/" + c.change().target()).toList();
            assertEquals(List.of("members/" + alice, "cards/card-1/isExpanded", "cards/card-2/isExpanded"), keys);
            assertEquals(space.cursor(), pages.get(pages.size() - 1).cursor(), "the cursor covers the invitation it does not send");

            // live: a commit of the space reaches the session as a space page; invitations never
            String secret2 = secretOf(members.invite(s));
            members.commit(SpaceKeys.storeKey(s), card("card-3/isExpanded", "laptop"));
            Frame.Changes live = (Frame.Changes) ws.until(f -> f instanceof Frame.Changes c && !c.changes().isEmpty(), WAIT);
            assertEquals(s, live.space());
            assertEquals("card-3/isExpanded", live.changes().get(0).change().target());
            for (Frame f : ws.received()) {
                assertFalse(f.toString().contains(secret1) || f.toString().contains(secret2), "an invitation was sent: " + f);
                assertFalse(f instanceof Frame.Changes c && c.changes().stream().anyMatch(x -> x.change().section().equals(SpaceSections.INVITATIONS)),
                        "an invitation was sent: " + f);
            }
        }
    }

    @Test
    void aHelloCursorOfASpaceTheUserIsNotInIsAnsweredWithSpaceLeft() {
        String bob = id("bob");
        String s = members.create(id("alice"));
        String other = members.create(id("carol"));
        members.add(s, bob, SpaceSections.EDITOR);
        members.commit(SpaceKeys.storeKey(other), card("card-9/isExpanded", "carol-phone"));
        try (SpaceWire ws = SpaceWire.connect(server.syncUri(), server.token(bob))) {
            Frame.Welcome welcome = ws.hello("phone", 0, Map.of(s, 0L, other, 1L));
            assertEquals(List.of(s), List.copyOf(welcome.spaces().keySet()));
            assertEquals(new Frame.SpaceLeft(other, "not-a-member"), ws.next(WAIT));
            caughtUp(ws, s);
            assertTrue(pagesOf(ws.received(), other).isEmpty());
        }
    }

    @Test
    void aSpaceJoinedMidSessionIsCaughtUpFrom0AfterThePageThatAddsIt() {
        String bob = id("bob");
        String s = members.create(id("alice"));
        members.commit(SpaceKeys.storeKey(s), card("card-1/isExpanded", "laptop"));
        try (SpaceWire ws = SpaceWire.connect(server.syncUri(), server.token(bob))) {
            assertEquals(Map.of(), ws.hello("phone", 0, Map.of()).spaces());
            caughtUp(ws, null);
            members.add(s, bob, SpaceSections.VIEWER);
            Frame.CaughtUp space = caughtUp(ws, s);
            List<Frame> frames = ws.received();
            int added = -1;
            for (int i = 0; i < frames.size(); i++) {
                if (frames.get(i) instanceof Frame.Changes c && c.space() == null
                        && c.changes().stream().anyMatch(x -> x.change().section().equals(SpaceSections.SPACES) && x.change().target().equals(s))) {
                    added = i;
                }
            }
            assertTrue(added >= 0, "the user's page adding the space: " + frames);
            List<Frame.Changes> pages = pagesOf(frames, s);
            assertTrue(frames.indexOf(pages.get(0)) > added, "the space's catch-up comes after the page that adds it");
            assertTrue(pages.stream().anyMatch(p -> p.changes().stream().anyMatch(c -> c.change().target().equals("card-1/isExpanded"))));
            assertEquals(server.head(SpaceKeys.storeKey(s)), space.cursor());
        }
    }

    @Test
    void removalCutsTheSpaceAtTheRemovalAndSendsSpaceLeftWithTheServicesReason() {
        String alice = id("alice");
        String bob = id("bob");
        String s = members.create(alice);
        members.add(s, bob, SpaceSections.EDITOR);
        try (SpaceWire ws = SpaceWire.connect(server.syncUri(), server.token(bob))) {
            ws.hello("phone", 0, Map.of(s, 0L));
            caughtUp(ws, s);
            members.commit(SpaceKeys.storeKey(s), card("before/isExpanded", "laptop"));
            members.leave(s, bob);
            members.commit(SpaceKeys.storeKey(s), card("after/isExpanded", "laptop"));
            Frame left = ws.until(f -> f instanceof Frame.SpaceLeft, WAIT);
            assertEquals(new Frame.SpaceLeft(s, "left"), left);
            assertNull(ws.poll(Duration.ofMillis(500)));
            List<Frame.Changes> pages = pagesOf(ws.received(), s);
            assertTrue(pages.stream().anyMatch(p -> p.changes().stream().anyMatch(c -> c.change().target().equals("before/isExpanded"))));
            for (Frame.Changes p : pages) {
                for (Frame.SeqChange c : p.changes()) {
                    assertFalse(c.change().target().equals("after/isExpanded"), "a change after the removal was sent");
                    assertFalse(c.change().section().equals(SpaceSections.MEMBERS) && c.change().target().equals(bob)
                            && ((Change.Put) c.change()).isDelete(), "the cut itself is not sent");
                }
            }
        }
        // catch-up after the removal: the hello cursor of a space the user left
        try (SpaceWire ws = SpaceWire.connect(server.syncUri(), server.token(bob))) {
            ws.hello("phone", 0, Map.of(s, 3L));
            assertEquals(new Frame.SpaceLeft(s, "not-a-member"), ws.next(WAIT));
        }
    }

    @Test
    void aMemberAddedAgainIsCaughtUpFrom0AfterSpaceLeft() {
        String bob = id("bob");
        String s = members.create(id("alice"));
        members.add(s, bob, SpaceSections.EDITOR);
        members.commit(SpaceKeys.storeKey(s), card("card-1/isExpanded", "laptop"));
        try (SpaceWire ws = SpaceWire.connect(server.syncUri(), server.token(bob))) {
            ws.hello("phone", 0, Map.of());
            caughtUp(ws, s);
            members.remove(s, bob);
            members.add(s, bob, SpaceSections.VIEWER);
            Frame left = ws.until(f -> f instanceof Frame.SpaceLeft, WAIT);
            assertEquals(new Frame.SpaceLeft(s, "removed"), left);
            Frame.CaughtUp again = caughtUp(ws, s);
            List<Frame> frames = ws.received();
            List<Frame.Changes> after = pagesOf(frames.subList(frames.indexOf(left), frames.size()), s);
            assertTrue(after.stream().anyMatch(p -> p.changes().stream().anyMatch(c -> c.change().target().equals("card-1/isExpanded"))),
                    "caught up again from 0: " + after);
            assertEquals(server.head(SpaceKeys.storeKey(s)), again.cursor());
        }
    }

    @Test
    void theCutSaysRemovedOrDeletedByItselfWhenNoServiceTellsTheReason() {
        String bob = id("bob");
        String s = members.create(id("alice"));
        members.add(s, bob, SpaceSections.VIEWER);
        try (SpaceWire ws = SpaceWire.connect(server.syncUri(), server.token(bob))) {
            ws.hello("phone", 0, Map.of());
            caughtUp(ws, s);
            // the space deleted: a whole-section clear of members, as the service writes it, but
            // committed without the service, so no SpaceEvents tells the reason
            members.commit(SpaceKeys.storeKey(s), Change.Clear.wholeSection(SpaceSections.MEMBERS, SpaceFixture.stamp()));
            assertEquals(new Frame.SpaceLeft(s, "deleted"), ws.until(f -> f instanceof Frame.SpaceLeft, WAIT));
        }
    }

    @Test
    void membershipSectionsAreReadOnly() {
        String alice = id("alice");
        String s = members.create(alice);
        try (SpaceWire ws = SpaceWire.connect(server.syncUri(), server.token(alice))) {
            ws.hello("phone", 0, Map.of());
            caughtUp(ws, s);
            ws.send(new Frame.Push(1, List.of(new Change.Put(SpaceSections.MEMBERS, "mallory", "{\"role\":\"owner\"}",
                    SpaceFixture.stampFor("phone"))), s));
            Frame.Error e1 = assertInstanceOf(Frame.Error.class, ws.until(f -> f instanceof Frame.Error, WAIT));
            assertEquals(new Frame.Error(ErrorCode.FORBIDDEN, e1.message(), 1L, s), e1);
            ws.send(new Frame.Push(2, List.of(new Change.Put(SpaceSections.SPACES, "other", "{\"role\":\"owner\"}",
                    SpaceFixture.stampFor("phone")))));
            Frame.Error e2 = assertInstanceOf(Frame.Error.class, ws.until(f -> f instanceof Frame.Error, WAIT));
            assertEquals(new Frame.Error(ErrorCode.FORBIDDEN, e2.message(), 2L, null), e2);
        }
        assertTrue(members.has(alice, SpaceSections.SPACES, s));
        assertFalse(members.has(alice, SpaceSections.SPACES, "other"));
        assertFalse(members.has(SpaceKeys.storeKey(s), SpaceSections.MEMBERS, "mallory"));
    }
}
