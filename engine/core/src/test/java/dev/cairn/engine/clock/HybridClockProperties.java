package dev.cairn.engine.clock;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.constraints.Size;

class HybridClockProperties {

    private static final long BOUND = 2_000;

    /** One thing that happens to a clock: the wall moves, it ticks, or it observes a remote stamp. */
    sealed interface Step permits Move, Tick, Observe, Restore {
    }

    record Move(long delta) implements Step {
    }

    record Tick() implements Step {
    }

    /** A remote stamp {@code ahead} ms from the current wall (negative: behind), within or beyond the bound. */
    record Observe(long ahead, int counter, String replica) implements Step {
    }

    /** Raise to a high-water mark {@code ahead} ms from the current wall. */
    record Restore(long ahead, int counter) implements Step {
    }

    @Provide
    Arbitrary<List<Step>> steps() {
        Arbitrary<Step> move = Arbitraries.frequencyOf(
                        Tuple.of(3, Arbitraries.longs().between(-3, 3)),
                        Tuple.of(2, Arbitraries.longs().between(-10_000, 10_000)),
                        Tuple.of(1, Arbitraries.just(0L)))
                .map(Move::new);
        Arbitrary<Step> tick = Arbitraries.just(new Tick());
        Arbitrary<Step> observe = Combinators.combine(
                        Arbitraries.longs().between(-2 * BOUND, 2 * BOUND),
                        Arbitraries.oneOf(Arbitraries.integers().between(0, 3), Arbitraries.integers().between(0xFFF0, 0xFFFF)),
                        Arbitraries.of("a", "b", "zz", "A"))
                .as(Observe::new);
        Arbitrary<Step> restore = Combinators.combine(
                        Arbitraries.longs().between(-BOUND, BOUND),
                        Arbitraries.integers().between(0, 0xFFFF))
                .as(Restore::new);
        return Arbitraries.frequencyOf(
                        Tuple.of(4, move),
                        Tuple.of(6, tick),
                        Tuple.of(3, observe),
                        Tuple.of(1, restore))
                .list().ofMinSize(1).ofMaxSize(80);
    }

    @Property(tries = 300)
    void ticksStrictlyIncreaseWhateverTheWallDoes(@ForAll("steps") List<Step> steps,
            @ForAll @LongRange(min = 0, max = 1L << 44) long start) {
        AtomicLong wall = new AtomicLong(start);
        HybridClock clock = new HybridClock(wall::get, "m", BOUND);
        Stamp highest = null; // highest stamp issued or accepted so far
        long lastSeen = 0;
        for (Step step : steps) {
            if (step instanceof Move m) {
                wall.set(Math.max(0, wall.get() + m.delta()));
            } else if (step instanceof Tick) {
                Stamp t = clock.tick();
                assertEquals("m", t.replica());
                if (highest != null) {
                    assertTrue(t.isAfter(highest), () -> "tick " + t + " not after " + "earlier max");
                }
                assertTrue(t.millis() >= wall.get(), "a tick is never behind the wall");
                assertEquals(t.hlc(), clock.last());
                highest = t;
            } else if (step instanceof Observe o) {
                long millis = Math.max(0, wall.get() + o.ahead());
                Stamp remote = new Stamp(Stamp.pack(millis, o.counter()), o.replica());
                long before = clock.last();
                if (millis - wall.get() > BOUND) {
                    assertThrows(ClockSkewException.class, () -> clock.observe(remote));
                    assertEquals(before, clock.last(), "a refused stamp must not move the clock");
                } else {
                    clock.observe(remote);
                    assertEquals(Math.max(before, remote.hlc()), clock.last());
                    if (highest == null || remote.isAfter(highest)) {
                        highest = remote;
                    }
                }
            } else if (step instanceof Restore r) {
                long mark = Stamp.pack(Math.max(0, wall.get() + r.ahead()), r.counter());
                long before = clock.last();
                clock.restore(mark);
                assertEquals(Math.max(before, mark), clock.last());
                if (highest == null || mark > highest.hlc()) {
                    // the greatest replica id: the next tick must beat the hlc itself, not win on replica id
                    highest = new Stamp(mark, "z".repeat(64));
                }
            }
            assertTrue(clock.last() >= lastSeen, "last() never decreases");
            lastSeen = clock.last();
        }
    }

    @Property(tries = 200)
    void observeBeyondTheBoundThrowsAndLeavesLastUnchanged(
            @ForAll @LongRange(min = 0, max = 1L << 44) long now,
            @ForAll @LongRange(min = 0, max = 100_000) long bound,
            @ForAll @LongRange(min = 1, max = 1_000_000) long excess,
            @ForAll @IntRange(min = 0, max = 0xFFFF) int counter,
            @ForAll @IntRange(min = 0, max = 20) int ticksBefore) {
        AtomicLong wall = new AtomicLong(now);
        HybridClock clock = new HybridClock(wall::get, "local", bound);
        for (int i = 0; i < ticksBefore; i++) {
            clock.tick();
        }
        long before = clock.last();
        Stamp remote = new Stamp(Stamp.pack(now + bound + excess, counter), "remote");
        ClockSkewException e = assertThrows(ClockSkewException.class, () -> clock.observe(remote));
        assertEquals(before, clock.last());
        assertEquals(now + bound + excess, e.remoteMillis());
        assertEquals(now, e.localMillis());
        // the same stamp at exactly the bound is accepted
        Stamp atBound = new Stamp(Stamp.pack(now + bound, counter), "remote");
        clock.observe(atBound);
        assertEquals(Math.max(before, atBound.hlc()), clock.last());
    }

    @Property(tries = 300)
    void afterObserveTheNextTickIsGreaterThanTheRemote(
            @ForAll @LongRange(min = 0, max = 1L << 44) long now,
            @ForAll @LongRange(min = -5_000, max = 5_000) long ahead,
            @ForAll @IntRange(min = 0, max = 0xFFFF) int counter,
            @ForAll("replicaIds") String replica,
            @ForAll @IntRange(min = 0, max = 5) int ticksBefore,
            @ForAll @LongRange(min = -3_000, max = 3_000) long wallMoveAfter) {
        AtomicLong wall = new AtomicLong(now);
        HybridClock clock = new HybridClock(wall::get, "a", 5_000);
        for (int i = 0; i < ticksBefore; i++) {
            clock.tick();
        }
        Stamp remote = new Stamp(Stamp.pack(Math.max(0, now + ahead), counter), replica);
        clock.observe(remote);
        wall.set(Math.max(0, now + wallMoveAfter));
        Stamp next = clock.tick();
        assertTrue(next.isAfter(remote), () -> next + " is not after " + remote);
        assertTrue(next.hlc() > remote.hlc(), "the tick beats the remote hlc itself, not just by replica id");
    }

    @Property(tries = 200)
    void restoreNeverLowers(@ForAll @Size(max = 30) List<@LongRange(min = 0, max = 1L << 50) Long> marks,
            @ForAll @LongRange(min = 0, max = 1L << 30) long now) {
        AtomicLong wall = new AtomicLong(now);
        HybridClock clock = new HybridClock(wall::get, "a", 0);
        long max = 0;
        for (long mark : marks) {
            long before = clock.last();
            clock.restore(mark);
            max = Math.max(max, mark);
            assertEquals(Math.max(before, mark), clock.last());
            assertTrue(clock.last() >= max);
            assertTrue(clock.tick().hlc() > max);
            max = clock.last();
        }
    }

    @Property(tries = 20)
    void counterOverflowAtAFrozenWallStillIncreases(@ForAll @LongRange(min = 0, max = 1L << 44) long now,
            @ForAll @IntRange(min = 65_537, max = 140_000) int ticks) {
        // 65537+ ticks: the last one is at least pack(now, 0) + 65536 = pack(now + 1, 0)
        AtomicLong wall = new AtomicLong(now);
        HybridClock clock = new HybridClock(wall::get, "a", 0);
        long previous = -1;
        for (int i = 0; i < ticks; i++) {
            long hlc = clock.tick().hlc();
            assertTrue(hlc > previous);
            previous = hlc;
        }
        // The first tick is pack(now, 0), except at wall 0 where it is 1 (last starts at 0 and
        // ticks are strictly greater); every later tick is exactly one above the previous.
        long first = Math.max(Stamp.pack(now, 0), 1);
        assertEquals(first + ticks - 1, previous);
        assertEquals(now + (first - Stamp.pack(now, 0) + ticks - 1) / 65_536, Stamp.millisOf(previous));
        assertTrue(Stamp.millisOf(previous) >= now + 1, "more than 65536 ticks spill into the next millisecond");
    }

    // --- Stamp text form ---

    @Provide
    Arbitrary<String> replicaIds() {
        Arbitrary<String> small = Arbitraries.strings().withChars("aAbB09-_z").ofMinLength(1).ofMaxLength(4);
        Arbitrary<String> any = Arbitraries.strings()
                .withCharRange('a', 'z').withCharRange('A', 'Z').withCharRange('0', '9').withChars('-', '_')
                .ofMinLength(1).ofMaxLength(64);
        return Arbitraries.oneOf(small, any);
    }

    @Provide
    Arbitrary<Long> hlcs() {
        return Arbitraries.oneOf(
                Arbitraries.longs().between(0, Long.MAX_VALUE),
                Arbitraries.longs().between(0, 20),
                Arbitraries.of(0L, 0xFFFFL, 0x10000L, Long.MAX_VALUE, Long.MAX_VALUE - 1, 1L << 48, (1L << 48) - 1));
    }

    @Property(tries = 500)
    void textFormRoundTrips(@ForAll("hlcs") long hlc, @ForAll("replicaIds") String replica) {
        Stamp stamp = new Stamp(hlc, replica);
        String text = stamp.toString();
        assertEquals(17 + replica.length(), text.length());
        assertTrue(text.substring(0, 16).chars().allMatch(c -> (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')), text);
        assertEquals('@', text.charAt(16));
        assertEquals(stamp, Stamp.parse(text));
        assertEquals(hlc, Long.parseUnsignedLong(text.substring(0, 16), 16));
    }

    @Property(tries = 1000)
    void stringOrderOfTextFormsEqualsCompareOrder(@ForAll("hlcs") long hlcA, @ForAll("replicaIds") String replicaA,
            @ForAll("hlcs") long hlcB, @ForAll("replicaIds") String replicaB, @ForAll boolean sameHlc) {
        Stamp a = new Stamp(hlcA, replicaA);
        Stamp b = new Stamp(sameHlc ? hlcA : hlcB, replicaB);
        assertEquals(Integer.signum(a.compareTo(b)), Integer.signum(a.toString().compareTo(b.toString())),
                () -> a + " vs " + b);
        assertEquals(Integer.signum(a.compareTo(b)), -Integer.signum(b.compareTo(a)));
    }

    @Property(tries = 300)
    void parseRejectsACorruptedDigit(@ForAll("hlcs") long hlc, @ForAll("replicaIds") String replica,
            @ForAll @IntRange(min = 0, max = 15) int position,
            @ForAll("badDigits") char bad) {
        char[] text = new Stamp(hlc, replica).toString().toCharArray();
        text[position] = bad;
        String corrupted = new String(text);
        assertThrows(IllegalArgumentException.class, () -> Stamp.parse(corrupted), corrupted);
    }

    @Provide
    Arbitrary<Character> badDigits() {
        return Arbitraries.oneOf(
                Arbitraries.chars().range('A', 'Z'),
                Arbitraries.chars().range('g', 'z'),
                Arbitraries.of(' ', '@', '-', '+', '.', '\u0660', '\u0669', '\uff10', '\uff41', '\u00e9'));
    }
}
