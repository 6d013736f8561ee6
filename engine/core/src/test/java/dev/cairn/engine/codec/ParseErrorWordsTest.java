package dev.cairn.engine.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.cairn.engine.protocol.FrameCodec;
import dev.cairn.engine.protocol.ProtocolException;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Why JSON could not be read is said in this project's words (PROTOCOL.md 5: no answer carries a
 * library's text): the server sends these messages in malformed-frame, invalid-change and HTTP 400
 * answers. Jackson's own messages name its classes and features.
 */
class ParseErrorWordsTest {

    private static final Pattern LIBRARY_WORDS = Pattern.compile(
            "Jackson|JsonReadFeature|StreamRead|Feature|Source:|REDACTED|marker|token|Unrecognized|Unexpected|Exception|java\\.|com\\.");

    static List<Arguments> badJson() {
        return List.of(
                Arguments.of("{", "the text ends inside a JSON value (truncated?) at line 1, column 2"),
                Arguments.of("{\"x\":NaN}", "NaN or an infinity, which JSON cannot carry at line 1, column 9"),
                Arguments.of("[".repeat(70) + "]".repeat(70), "nested deeper than 64 levels"),
                Arguments.of("{\"a\":1,\"a\":2}", "a duplicate member 'a' in one object at line 1, column 11"),
                Arguments.of("hello", "unexpected text at line 1, column 6"),
                Arguments.of("[1,]", "unexpected text at line 1, column 4"),
                Arguments.of("{\"a\":1 // c\n}", "unexpected text at line 1, column 8"),
                Arguments.of("\"a\u0001b\"", "unexpected text at line 1, column 3"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badJson")
    void aValueThatIsNotJsonIsRefusedInOurWords(String text, String why) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Json.normalize(text));
        assertEquals("not a JSON value: " + why, e.getMessage());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badJson")
    void aFrameThatIsNotJsonIsMalformedInOurWords(String text, String why) {
        ProtocolException e = assertThrows(ProtocolException.class, () -> FrameCodec.decode(text));
        assertFalse(LIBRARY_WORDS.matcher(e.getMessage()).find(), e.getMessage());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badJson")
    void anImportThatIsNotJsonIsRefusedInOurWords(String text, String why) {
        Exception e = assertThrows(IllegalArgumentException.class, () -> ExportDocument.read(text, section -> dev.cairn.engine.crdt.SectionKind.MAP));
        assertFalse(LIBRARY_WORDS.matcher(e.getMessage()).find(), e.getMessage());
    }
}
