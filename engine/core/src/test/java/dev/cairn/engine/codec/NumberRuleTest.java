package dev.cairn.engine.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The number rule (PROTOCOL.md 1.2) over many doubles, beyond the hand-written vectors in
 * spec/vectors/numbers.json: the canonical spelling of every finite double reads back as that
 * double, has the fewest digits that do, is its own canonical spelling, and a decimal one digit
 * longer that is not the same value is refused. (The browser codec gave the same spelling for
 * 24,000 random doubles when the rule was written.)
 */
class NumberRuleTest {

    private static final int N = 20_000;

    @Test
    void theCanonicalSpellingOfEveryDoubleIsItsShortestRoundTripDecimal() {
        SplittableRandom random = new SplittableRandom(20261206L);
        for (int i = 0; i < N; i++) {
            double d = i % 4 == 0 ? random.nextDouble() * Math.pow(10, random.nextInt(-30, 30))
                    : Double.longBitsToDouble(random.nextLong());
            if (Double.isNaN(d) || Double.isInfinite(d) || d == 0) {
                continue;
            }
            String canonical = Json.canonicalDouble(d);
            assertEquals(d, Double.parseDouble(canonical), canonical);
            assertEquals(canonical, Json.canonicalNumber(canonical), "accepted as its own spelling");
            BigDecimal value = new BigDecimal(canonical).stripTrailingZeros();
            int digits = value.precision();
            if (digits > 1) {
                BigDecimal shorter = new BigDecimal(d).round(new MathContext(digits - 1, RoundingMode.HALF_EVEN));
                assertNotEquals(d, Double.parseDouble(shorter.toString()), "a shorter decimal round-trips: " + shorter + " for " + canonical);
            }
            // The exact binary value of d, written out, is accepted only when it is the shortest decimal too.
            BigDecimal exact = new BigDecimal(d);
            if (exact.compareTo(value) != 0) {
                String longer = exact.toString();
                assertThrows(IllegalArgumentException.class, () -> Json.canonicalNumber(longer), longer);
            }
        }
    }
}
