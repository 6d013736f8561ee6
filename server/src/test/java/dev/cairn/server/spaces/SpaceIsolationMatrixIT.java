package dev.cairn.server.spaces;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.protocol.ErrorCode;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.FrameCodec;
import dev.cairn.engine.protocol.FrameType;
import dev.cairn.engine.protocol.PageCodec;
import dev.cairn.engine.section.SpaceSections;
import dev.cairn.server.space.SpaceKeys;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The isolation matrix of issue 18 for the socket: every frame type × every kind of actor
 * (owner, editor, viewer, removed member, never a member, another user who owns another space).
 * Each allowed case is allowed, each refused case refused with its code, and nothing of the space
 * reaches an actor who may not read it. A frame type without a row fails {@link #everyFrameTypeHasARow}.
 */
class SpaceIsolationMatrixIT extends EmbeddedSpaces {

    enum Actor { OWNER, EDITOR, VIEWER, REMOVED, NEVER, OTHER }

    private static final Duration WAIT = SpaceWire.WAIT;
    private static final Duration QUIET = Duration.ofMillis(300);
    private static final AtomicLong KEYS = new AtomicLong();

    /** The space of the matrix, created by the OWNER actor through the membership service. */
    private static String matrixSpace;
    /** The space the OTHER actor owns: theirs to read, never the matrix's. */
    private static String otherSpace;
    private static final Map<Actor, String> USERS = new EnumMap<>(Actor.class);

    /** One row per frame type: what happens when each actor sends it in a session that syncs spaces. */
    private interface Row {
        void check(Actor actor, SpaceWire ws);
    }

    private static final Map<FrameType, Row> ROWS = new EnumMap<>(FrameType.class);

    static {
        ROWS.put(FrameType.HELLO, SpaceIsolationMatrixIT::hello);
        ROWS.put(FrameType.PUSH, SpaceIsolationMatrixIT::push);
        ROWS.put(FrameType.PRESENCE, SpaceIsolationMatrixIT::presence);
        ROWS.put(FrameType.PING, (actor, ws) -> {
            ws.send(new Frame.Ping());
            assertEquals(new Frame.Pong(), ws.until(SpaceIsolationMatrixIT::answer, WAIT));
        });
        ROWS.put(FrameType.PONG, (actor, ws) -> {
            ws.send(new Frame.Pong());
            ws.send(new Frame.Ping());
            assertEquals(new Frame.Pong(), ws.until(SpaceIsolationMatrixIT::answer, WAIT), "a pong is not answered");
        });
        // Frames only a server sends: refused from any client, as JSON text and (where v2 carries them) as a page.
        ROWS.put(FrameType.WELCOME, serverOnly(() -> new Frame.Welcome(2, "x", 1, 1, 1, 1, Map.of(), Map.of(matrixSpace, new Frame.SpaceInfo("owner", 1)))));
        ROWS.put(FrameType.CHANGES, serverOnly(() -> new Frame.Changes(List.of(), 5, matrixSpace)));
        ROWS.put(FrameType.CAUGHT_UP, serverOnly(() -> new Frame.CaughtUp(5, matrixSpace)));
        ROWS.put(FrameType.ACK, serverOnly(() -> new Frame.Ack(5)));
        ROWS.put(FrameType.ERROR, serverOnly(() -> new Frame.Error(ErrorCode.NOT_A_MEMBER, "x", 1L, matrixSpace)));
        ROWS.put(FrameType.SPACE_LEFT, serverOnly(() -> new Frame.SpaceLeft(matrixSpace, "removed")));
    }

    /** After {@link EmbeddedSpaces#startServer}: the actors and their spaces, through the membership service. */
    @BeforeAll
    static void seed() {
        for (Actor a : Actor.values()) {
            USERS.put(a, "matrix-" + a.name().toLowerCase());
        }
        matrixSpace = members.create(USERS.get(Actor.OWNER));
        members.add(matrixSpace, USERS.get(Actor.EDITOR), SpaceSections.EDITOR);
        members.add(matrixSpace, USERS.get(Actor.VIEWER), SpaceSections.VIEWER);
        members.add(matrixSpace, USERS.get(Actor.REMOVED), SpaceSections.EDITOR);
        members.remove(matrixSpace, USERS.get(Actor.REMOVED));
        otherSpace = members.create(USERS.get(Actor.OTHER));
        members.commit(SpaceKeys.storeKey(matrixSpace), new Change.Put("cards", "secret/isExpanded", "true", SpaceFixture.stamp()));
    }

    @Test
    void everyFrameTypeHasARow() {
        for (FrameType t : FrameType.values()) {
            assertTrue(ROWS.containsKey(t), "the isolation matrix has no row for frame type '" + t.wire() + "': add one");
        }
    }

    @TestFactory
    Stream<DynamicTest> matrix() {
        List<DynamicTest> out = new ArrayList<>();
        ROWS.forEach((type, row) -> {
            for (Actor actor : Actor.values()) {
                out.add(DynamicTest.dynamicTest(type.wire() + " × " + actor.name().toLowerCase(), () -> {
                    try (SpaceWire ws = SpaceWire.connect(server.syncUri(), server.token(USERS.get(actor)))) {
                        if (type != FrameType.HELLO) {
                            ws.hello("matrix-" + KEYS.incrementAndGet(), 0, Map.of());
                            ws.until(f -> f instanceof Frame.CaughtUp c && c.space() == null, WAIT);
                            if (reads(actor)) {
                                ws.until(f -> f instanceof Frame.CaughtUp c && matrixSpace.equals(c.space()), WAIT);
                            } else if (actor == Actor.OTHER) {
                                ws.until(f -> f instanceof Frame.CaughtUp c && otherSpace.equals(c.space()), WAIT);
                            }
                        }
                        row.check(actor, ws);
                        assertNoSpaceDataUnlessReader(actor, ws);
                    }
                }));
            }
        });
        return out.stream();
    }

    /** Not a frame the server sends on its own (a member's socket may get pages and presence of the space at any time). */
    private static boolean answer(Frame f) {
        return !(f instanceof Frame.Changes) && !(f instanceof Frame.Presence);
    }

    private static boolean reads(Actor a) {
        return a == Actor.OWNER || a == Actor.EDITOR || a == Actor.VIEWER;
    }

    private static boolean writes(Actor a) {
        return a == Actor.OWNER || a == Actor.EDITOR;
    }

    private static void assertNoSpaceDataUnlessReader(Actor actor, SpaceWire ws) {
        if (reads(actor)) {
            return;
        }
        for (Frame f : ws.received()) {
            assertFalse(f instanceof Frame.Changes c && matrixSpace.equals(c.space()), actor + " received a page of the space: " + f);
            assertFalse(f instanceof Frame.CaughtUp c && matrixSpace.equals(c.space()), actor + " was caught up in the space: " + f);
            assertFalse(f instanceof Frame.Presence p && matrixSpace.equals(p.space()), actor + " received presence: " + f);
            assertFalse(f.toString().contains("secret/isExpanded"), actor + " received the space's data: " + f);
        }
    }

    private static void hello(Actor actor, SpaceWire ws) {
        Frame.Welcome welcome = ws.hello("matrix-" + KEYS.incrementAndGet(), 0, Map.of(matrixSpace, 0L));
        if (reads(actor)) {
            assertEquals(actor.name().toLowerCase(), welcome.spaces().get(matrixSpace).role());
            ws.until(f -> f instanceof Frame.CaughtUp c && matrixSpace.equals(c.space()), WAIT);
            assertTrue(ws.received().stream().anyMatch(f -> f.toString().contains("secret/isExpanded")), "a member reads the space");
        } else {
            assertFalse(welcome.spaces().containsKey(matrixSpace), "welcome names a space the user is not in: " + welcome);
            assertEquals(new Frame.SpaceLeft(matrixSpace, "not-a-member"), ws.next(WAIT));
            ws.until(f -> f instanceof Frame.CaughtUp c && c.space() == null, WAIT);
            Frame more;
            while ((more = ws.poll(QUIET)) != null) {
                assertTrue(actor == Actor.OTHER && more.toString().contains(otherSpace), "only the other user's own space follows: " + more);
            }
        }
    }

    private static void push(Actor actor, SpaceWire ws) {
        String key = "pushed-" + actor.name().toLowerCase() + "-" + KEYS.incrementAndGet();
        ws.send(new Frame.Push(7, List.of(new Change.Put("cards", key, "true", SpaceFixture.stampFor("phone"))), matrixSpace));
        Frame answer = ws.until(f -> f instanceof Frame.Ack || f instanceof Frame.Error, WAIT);
        if (writes(actor)) {
            assertEquals(new Frame.Ack(7), answer);
        } else {
            Frame.Error e = assertInstanceOf(Frame.Error.class, answer);
            ErrorCode code = actor == Actor.VIEWER ? ErrorCode.FORBIDDEN : ErrorCode.NOT_A_MEMBER;
            assertEquals(new Frame.Error(code, e.message(), 7L, matrixSpace), e);
        }
        assertEquals(writes(actor), members.has(SpaceKeys.storeKey(matrixSpace), "cards", key), "the push is in the space iff allowed");
        // a change of members: forbidden for every actor, the owner too
        ws.send(new Frame.Push(8, List.of(new Change.Put(SpaceSections.MEMBERS, USERS.get(actor), "{\"role\":\"owner\"}",
                SpaceFixture.stampFor("phone"))), matrixSpace));
        Frame.Error e = assertInstanceOf(Frame.Error.class, ws.until(f -> f instanceof Frame.Ack || f instanceof Frame.Error, WAIT));
        assertEquals(new Frame.Error(ErrorCode.FORBIDDEN, e.message(), 8L, matrixSpace), e);
        // a change of the user's own spaces section: forbidden too
        ws.send(new Frame.Push(9, List.of(new Change.Put(SpaceSections.SPACES, matrixSpace, "{\"name\":\"x\",\"role\":\"owner\"}",
                SpaceFixture.stampFor("phone")))));
        e = assertInstanceOf(Frame.Error.class, ws.until(f -> f instanceof Frame.Ack || f instanceof Frame.Error, WAIT));
        assertEquals(new Frame.Error(ErrorCode.FORBIDDEN, e.message(), 9L, null), e);
    }

    private static void presence(Actor actor, SpaceWire ws) {
        try (SpaceWire observer = SpaceWire.connect(server.syncUri(), server.token(USERS.get(Actor.OWNER)))) {
            observer.hello("observer-" + KEYS.incrementAndGet(), 0, Map.of());
            observer.until(f -> f instanceof Frame.CaughtUp c && matrixSpace.equals(c.space()), WAIT);
            String state = "{\"at\":\"item-" + KEYS.incrementAndGet() + "\"}";
            ws.send(new Frame.Presence(matrixSpace, state));
            if (reads(actor)) {
                Frame.Presence seen = (Frame.Presence) observer.until(f -> f instanceof Frame.Presence p && state.equals(p.state()), WAIT);
                assertEquals(USERS.get(actor), seen.user());
            } else {
                Frame.Error e = assertInstanceOf(Frame.Error.class, ws.until(SpaceIsolationMatrixIT::answer, WAIT));
                assertEquals(new Frame.Error(ErrorCode.NOT_A_MEMBER, e.message(), null, matrixSpace), e);
                Frame stray = observer.poll(QUIET);
                assertTrue(stray == null || !stray.toString().contains(USERS.get(actor)), "a non-member's presence reached a member: " + stray);
            }
        }
    }

    /** {@code frame} is made when the row runs: the space ids exist only once the service created them. */
    private static Row serverOnly(Supplier<Frame> make) {
        return (actor, ws) -> {
            Frame frame = make.get();
            ws.send(FrameCodec.encode(frame));
            Frame.Error e = assertInstanceOf(Frame.Error.class, ws.until(SpaceIsolationMatrixIT::answer, WAIT));
            assertEquals(ErrorCode.MALFORMED_FRAME, e.code(), e.toString());
            if (PageCodec.carries(frame)) {
                ws.send(frame); // as a binary page
                e = assertInstanceOf(Frame.Error.class, ws.until(SpaceIsolationMatrixIT::answer, WAIT));
                assertEquals(ErrorCode.MALFORMED_FRAME, e.code(), e.toString());
            }
        };
    }
}
