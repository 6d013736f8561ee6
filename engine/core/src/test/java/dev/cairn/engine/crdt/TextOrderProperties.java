package dev.cairn.engine.crdt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** TextOrder is UTF-8 byte order (PostgreSQL's COLLATE "C"), which is code point order. */
class TextOrderProperties {

    @Property(tries = 2000)
    void agreesWithUtf8ByteOrder(@ForAll("texts") String a, @ForAll("texts") String b) {
        int bytes = Arrays.compareUnsigned(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
        assertEquals(Integer.signum(bytes), Integer.signum(TextOrder.compare(a, b)), () -> a + " vs " + b);
    }

    @Property(tries = 500)
    void isAntisymmetric(@ForAll("texts") String a, @ForAll("texts") String b) {
        assertEquals(Integer.signum(TextOrder.compare(a, b)), -Integer.signum(TextOrder.compare(b, a)));
    }

    @Example
    void supplementaryCharactersSortAfterTheTopOfTheBasicPlane() {
        String emoji = "\uD83D\uDE00"; // U+1F600
        String privateUse = "\uE000";
        assertTrue(TextOrder.compare(emoji, privateUse) > 0);
        assertTrue(emoji.compareTo(privateUse) < 0, "UTF-16 code unit order says the opposite");
        assertTrue(TextOrder.compare("\uFFFF", emoji) < 0);
        assertTrue(TextOrder.compare("a", "ab") < 0);
        assertEquals(0, TextOrder.compare("same", "same"));
    }

    /** Strings mixing ASCII, U+E000..U+FFFF and characters above U+FFFF, where the orders differ. */
    @Provide
    Arbitrary<String> texts() {
        Arbitrary<String> ascii = Arbitraries.strings().withCharRange('a', 'c').ofMinLength(1).ofMaxLength(1);
        Arbitrary<String> high = Arbitraries.strings().withCharRange('\uE000', '\uE002').ofMinLength(1).ofMaxLength(1);
        Arbitrary<String> top = Arbitraries.of("\uFFFD", "\uFFFF", "\u00E9", "\u07FF");
        Arbitrary<String> supplementary = Arbitraries.of("\uD83D\uDE00", "\uD800\uDC00", "\uDBFF\uDFFF");
        return Arbitraries.oneOf(ascii, high, top, supplementary).list().ofMaxSize(5).map(parts -> String.join("", parts));
    }
}
