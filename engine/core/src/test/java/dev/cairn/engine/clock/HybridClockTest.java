package dev.cairn.engine.clock;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.NullSource;
import org.junit.jupiter.params.provider.ValueSource;

class HybridClockTest {

    private final AtomicLong wall = new AtomicLong(1_000);

    private HybridClock clock(long maxAhead) {
        return new HybridClock(wall::get, "a", maxAhead);
    }

    @Test
    void tickFollowsTheWallAndCountsWithinAMillisecond() {
        HybridClock clock = clock(1_000);
        assertEquals(new Stamp(Stamp.pack(1_000, 0), "a"), clock.tick());
        assertEquals(new Stamp(Stamp.pack(1_000, 1), "a"), clock.tick());
        wall.set(1_001);
        assertEquals(new Stamp(Stamp.pack(1_001, 0), "a"), clock.tick());
        assertEquals(Stamp.pack(1_001, 0), clock.last());
    }

    @Test
    void backwardsWallJumpKeepsIncreasing() {
        HybridClock clock = clock(1_000);
        clock.tick();
        wall.set(900);
        assertEquals(Stamp.pack(1_000, 1), clock.tick().hlc());
        wall.set(0);
        assertEquals(Stamp.pack(1_000, 2), clock.tick().hlc());
        wall.set(1_002);
        assertEquals(Stamp.pack(1_002, 0), clock.tick().hlc());
    }

    @Test
    void firstTickAtWallZeroIsAboveTheInitialZero() {
        wall.set(0);
        HybridClock clock = clock(0);
        assertEquals("0000000000000001@a", clock.tick().toString());
        wall.set(-50); // before the epoch: clamped, still increasing
        assertEquals("0000000000000002@a", clock.tick().toString());
    }

    @Test
    void observeAheadThenTickPassesTheRemoteStamp() {
        HybridClock clock = clock(5_000);
        Stamp remote = new Stamp(Stamp.pack(2_000, 5), "b");
        clock.observe(remote);
        assertEquals(remote.hlc(), clock.last());
        Stamp next = clock.tick();
        assertEquals(new Stamp(Stamp.pack(2_000, 6), "a"), next);
        assertTrue(next.isAfter(remote));
    }

    @Test
    void observeOfAnEqualHlcFromAGreaterReplicaStillGetsPassed() {
        HybridClock clock = clock(5_000);
        Stamp mine = clock.tick();
        Stamp remote = new Stamp(mine.hlc(), "zzz"); // same hlc, greater replica id: sorts after mine
        assertTrue(remote.isAfter(mine));
        clock.observe(remote);
        assertTrue(clock.tick().isAfter(remote));
    }

    @Test
    void observeBehindDoesNotLowerTheClock() {
        HybridClock clock = clock(5_000);
        clock.tick();
        clock.tick();
        clock.observe(new Stamp(Stamp.pack(500, 0), "b"));
        assertEquals(Stamp.pack(1_000, 1), clock.last());
        assertEquals(Stamp.pack(1_000, 2), clock.tick().hlc());
    }

    @Test
    void observeBeyondTheBoundThrowsAndChangesNothing() {
        HybridClock clock = clock(1_000);
        clock.tick();
        long before = clock.last();
        Stamp tooFar = new Stamp(Stamp.pack(2_001, 0), "b");
        ClockSkewException e = assertThrows(ClockSkewException.class, () -> clock.observe(tooFar));
        assertEquals(2_001, e.remoteMillis());
        assertEquals(1_000, e.localMillis());
        assertTrue(e.getMessage().contains("1001 ms ahead"), e.getMessage());
        assertTrue(e.getMessage().contains("bound 1000 ms"), e.getMessage());
        assertEquals(before, clock.last());
        assertThrows(ClockSkewException.class, () -> clock.check(tooFar));
        assertEquals(Stamp.pack(1_000, 1), clock.tick().hlc());
    }

    @Test
    void theBoundIsInclusive() {
        HybridClock clock = clock(1_000);
        Stamp atBound = new Stamp(Stamp.pack(2_000, 0xFFFF), "b");
        clock.check(atBound);
        assertEquals(0, clock.last(), "check() must not move the clock");
        clock.observe(atBound);
        assertEquals(atBound.hlc(), clock.last());
        // last + 1 carries the full counter into the next millisecond
        assertEquals(new Stamp(Stamp.pack(2_001, 0), "a"), clock.tick());
    }

    @Test
    void zeroBoundRefusesAnyFutureMillisecond() {
        HybridClock clock = clock(0);
        clock.observe(new Stamp(Stamp.pack(1_000, 0xFFFF), "b"));
        assertThrows(ClockSkewException.class, () -> clock.observe(new Stamp(Stamp.pack(1_001, 0), "b")));
    }

    @Test
    void skewIsMeasuredAgainstTheCurrentWall() {
        HybridClock clock = clock(1_000);
        Stamp remote = new Stamp(Stamp.pack(3_000, 0), "b");
        assertThrows(ClockSkewException.class, () -> clock.observe(remote));
        wall.set(2_000);
        clock.observe(remote);
        assertEquals(remote.hlc(), clock.last());
    }

    @Test
    void restoreNeverLowers() {
        HybridClock clock = clock(1_000);
        clock.restore(Stamp.pack(5_000, 3));
        assertEquals(Stamp.pack(5_000, 3), clock.last());
        clock.restore(Stamp.pack(4_000, 0));
        clock.restore(0);
        assertEquals(Stamp.pack(5_000, 3), clock.last());
        assertEquals(Stamp.pack(5_000, 4), clock.tick().hlc());
    }

    @Test
    void counterOverflowWithinOneMillisecondStillIncreases() {
        HybridClock clock = clock(1_000);
        Stamp previous = clock.tick();
        assertEquals(Stamp.pack(1_000, 0), previous.hlc());
        for (int i = 1; i < 70_000; i++) {
            Stamp next = clock.tick();
            Stamp prev = previous;
            assertTrue(next.compareTo(prev) > 0, () -> "tick " + next + " not after " + prev);
            assertEquals(previous.hlc() + 1, next.hlc());
            if (i == 0xFFFF) {
                assertEquals(new Stamp(Stamp.pack(1_000, 0xFFFF), "a"), next);
            } else if (i == 0x10000) {
                assertEquals(new Stamp(Stamp.pack(1_001, 0), "a"), next, "the counter carries into the next millisecond");
            }
            previous = next;
        }
        assertEquals(1_001, previous.millis());
        // the wall catching up does not go back either
        wall.set(1_001);
        assertTrue(clock.tick().isAfter(previous));
        wall.set(1_002);
        assertEquals(Stamp.pack(1_002, 0), clock.tick().hlc());
    }

    @Test
    void constructorValidates() {
        assertThrows(IllegalArgumentException.class, () -> new HybridClock(wall::get, "bad id", 0));
        assertThrows(IllegalArgumentException.class, () -> new HybridClock(wall::get, "", 0));
        assertThrows(IllegalArgumentException.class, () -> new HybridClock(wall::get, "a", -1));
        assertThrows(NullPointerException.class, () -> new HybridClock(null, "a", 0));
        HybridClock clock = new HybridClock(wall::get, "phone-1", 42);
        assertEquals("phone-1", clock.replica());
        assertEquals(42, clock.maxAheadMillis());
    }

    // --- Stamp ---

    @Test
    void textFormIsSixteenLowerCaseHexDigitsAtReplica() {
        Stamp s = new Stamp(Stamp.pack(0x0190a1b2c3d4L, 1), "phone-1");
        assertEquals("0190a1b2c3d40001@phone-1", s.toString());
        assertEquals("0000000000000000@a", new Stamp(0, "a").toString());
        assertEquals("7fffffffffffffff@Z_9", new Stamp(Long.MAX_VALUE, "Z_9").toString());
        assertEquals(s, Stamp.parse("0190a1b2c3d40001@phone-1"));
        assertEquals(0x0190a1b2c3d4L, s.millis());
        assertEquals(1, s.counter());
    }

    @Test
    void compareIsHlcThenReplica() {
        Stamp a1 = new Stamp(Stamp.pack(10, 1), "a");
        Stamp b0 = new Stamp(Stamp.pack(10, 0), "b");
        Stamp b1 = new Stamp(Stamp.pack(10, 1), "b");
        assertTrue(a1.isAfter(b0), "counter beats replica id");
        assertTrue(b1.isAfter(a1), "replica id breaks ties");
        assertTrue(new Stamp(Stamp.pack(10, 1), "phone-9").isAfter(new Stamp(Stamp.pack(10, 1), "phone-10")),
                "replica ids compare as strings");
        assertEquals(0, a1.compareTo(new Stamp(a1.hlc(), "a")));
    }

    @ParameterizedTest
    @NullSource
    @ValueSource(strings = {
        "",
        "0190a1b2c3d40001",            // no '@', no replica
        "0190a1b2c3d40001@",           // empty replica
        "0190a1b2c3d4001@a",           // 15 digits
        "0190a1b2c3d400012@a",         // 17 digits
        "0190A1B2C3D40001@a",          // upper-case hex
        "0190a1b2c3d4000F@a",          // one upper-case digit
        "0190a1b2c3d4000g@a",          // not hex
        "0190a1b2c3d4000 @a",
        "+190a1b2c3d40001@a",
        "-190a1b2c3d40001@a",
        "0190a1b2c3d40001#a",          // wrong separator
        "0190a1b2c3d40001@bad id",     // space in replica
        "0190a1b2c3d40001@a@b",        // '@' in replica
        "0190a1b2c3d40001@caf\u00e9",  // non-ASCII replica
        "0190a1b2c3d40001@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", // 65 chars
        "8000000000000000@a",          // does not fit a non-negative long
        "ffffffffffffffff@a",
        "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660\u0661\u0662\u0663\u0664\u0665@a", // Arabic-Indic digits
        "0190a1b2c3d4000\uff41@a",    // fullwidth 'a'
        "0190a1b2c3d4000\uff11@a",    // fullwidth '1'
    })
    void parseRejectsMalformedText(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Stamp.parse(text));
        assertTrue(e.getMessage() != null && !e.getMessage().isBlank());
    }

    @Test
    void sixtyFourCharacterReplicaIsAccepted() {
        String id = "a".repeat(64);
        assertEquals(id, Stamp.parse("0000000000000001@" + id).replica());
    }

    @Test
    void everyPackableHlcIsAValidStamp() {
        // the largest millis with the largest counter must still be a non-negative hlc
        Stamp max = new Stamp(Stamp.pack(Stamp.MAX_MILLIS, (int) Stamp.COUNTER_MASK), "a");
        assertEquals(Long.MAX_VALUE, max.hlc());
        assertEquals(max, Stamp.parse(max.toString()));
        assertThrows(IllegalArgumentException.class, () -> Stamp.pack(Stamp.MAX_MILLIS + 1, 0));
        wall.set(Long.MAX_VALUE); // a wall beyond the range is clamped, not wrapped
        assertEquals(Stamp.MAX_MILLIS, clock(0).tick().millis());
    }

    @Test
    void packValidatesRanges() {
        assertThrows(IllegalArgumentException.class, () -> Stamp.pack(-1, 0));
        assertThrows(IllegalArgumentException.class, () -> Stamp.pack(0, 0x10000));
        assertThrows(IllegalArgumentException.class, () -> Stamp.pack(0, -1));
        assertThrows(IllegalArgumentException.class, () -> new Stamp(-1, "a"));
        assertEquals(0x0003_e8_0002L, Stamp.pack(1_000, 2));
    }
}
