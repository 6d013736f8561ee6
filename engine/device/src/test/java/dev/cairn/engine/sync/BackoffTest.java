package dev.cairn.engine.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class BackoffTest {

    @Test
    void ceilingDoublesUpToTheMaximum() {
        Backoff b = new Backoff(Duration.ofMillis(200), Duration.ofSeconds(30), new Random(1));
        List<Long> ceilings = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            ceilings.add(b.ceilingMillis(i));
        }
        assertEquals(List.of(200L, 400L, 800L, 1600L, 3200L, 6400L, 12800L, 25600L, 30000L, 30000L), ceilings);
        assertEquals(30000L, b.ceilingMillis(Integer.MAX_VALUE), "no overflow for huge attempts");
    }

    @Test
    void delaysAreJitteredWithinTheGrowingBound() {
        SyncTestSupport.RecordingRandom highest = new SyncTestSupport.RecordingRandom(true);
        Backoff b = new Backoff(Duration.ofMillis(100), Duration.ofMillis(1000), highest);
        List<Long> delays = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            delays.add(b.next().toMillis());
        }
        // full jitter: uniform in [0, ceiling], asked as nextLong(ceiling + 1)
        assertEquals(List.of(101L, 201L, 401L, 801L, 1001L, 1001L), highest.bounds);
        assertEquals(List.of(100L, 200L, 400L, 800L, 1000L, 1000L), delays);

        b.reset();
        assertEquals(100L, b.next().toMillis(), "reset starts over");
    }

    @Test
    void realRandomStaysWithinBoundsAndSpreads() {
        Backoff b = new Backoff(Duration.ofMillis(200), Duration.ofSeconds(30), new Random(7));
        java.util.Set<Long> seen = new java.util.HashSet<>();
        for (int attempt = 0; attempt < 12; attempt++) {
            long ceiling = b.ceilingMillis(attempt);
            long d = b.next().toMillis();
            assertTrue(d >= 0 && d <= ceiling, "attempt " + attempt + ": " + d + " not in [0, " + ceiling + "]");
            seen.add(d);
        }
        assertTrue(seen.size() > 6, "jitter spreads delays: " + seen);
    }
}
