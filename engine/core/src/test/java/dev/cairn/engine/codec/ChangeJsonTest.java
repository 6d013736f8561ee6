package dev.cairn.engine.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.Names;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ChangeJsonTest {

    private static final String STAMP = "0190a1b2c3d40001@phone-1";
    private static final Stamp S = Stamp.parse(STAMP);

    static Stream<Change> everyOp() {
        return Stream.of(
                new Change.Put("cards", "card-intro/isExpanded", "true", S),
                new Change.Put("cards", "card-intro/isExpanded", null, S),
                new Change.Put("cards", "k", "null", S), // JSON null is a value, not a delete
                new Change.Put("cards", "k", "{\"a\":{\"b\":[1,2,{\"c\":null}],\"d\":-1.5,\"f\":12345678901234567000},\"e\":[]}", S),
                new Change.Put("cards", "caf\u00e9 \u65e5\u672c \ud83d\ude00 \"q\"", "\"\\\"quoted\\\" \\\\ \\n\\t\\u0001 caf\u00e9 \ud83d\ude00\"", S),
                new Change.Append("chat", "conv-1", "{\"role\":\"user\",\"text\":\"hi\"}", S),
                new Change.Append("chat", "gespr\u00e4ch", "[\"\\u0000\",\"\u2028\"]", S),
                new Change.Clear("chat", "conv-1", S),
                Change.Clear.wholeSection("cards", S));
    }

    @ParameterizedTest
    @MethodSource("everyOp")
    void roundTrips(Change change) {
        String json = ChangeJson.encode(change);
        assertEquals(change, ChangeJson.decode(json), json);
        assertEquals(json, ChangeJson.encode(ChangeJson.decode(json)), "encoding is stable");
    }

    @Test
    void encodesTheDocumentedShape() {
        assertEquals("{\"op\":\"set\",\"section\":\"cards\",\"key\":\"k\",\"value\":true,\"stamp\":\"" + STAMP + "\"}",
                ChangeJson.encode(new Change.Put("cards", "k", "true", S)));
        assertEquals("{\"op\":\"delete\",\"section\":\"cards\",\"key\":\"k\",\"stamp\":\"" + STAMP + "\"}",
                ChangeJson.encode(new Change.Put("cards", "k", null, S)));
        assertEquals("{\"op\":\"append\",\"section\":\"chat\",\"stream\":\"c\",\"value\":{\"t\":1},\"stamp\":\"" + STAMP + "\"}",
                ChangeJson.encode(new Change.Append("chat", "c", "{\"t\":1}", S)));
        assertEquals("{\"op\":\"clear\",\"section\":\"chat\",\"stream\":\"c\",\"stamp\":\"" + STAMP + "\"}",
                ChangeJson.encode(new Change.Clear("chat", "c", S)));
        assertEquals("{\"op\":\"clear\",\"section\":\"cards\",\"stamp\":\"" + STAMP + "\"}",
                ChangeJson.encode(Change.Clear.wholeSection("cards", S)), "a whole map section's clear has no stream");
        assertEquals(Change.Clear.wholeSection("cards", S),
                ChangeJson.decode("{\"op\":\"clear\",\"section\":\"cards\",\"stamp\":\"" + STAMP + "\"}"));
    }

    @Test
    void decodingNormalizesValuesAndIgnoresFieldOrder() {
        Change c = ChangeJson.decode("  {\"stamp\":\"" + STAMP + "\", \"value\" : { \"b\" : [ 1 , 2 ] ,\n \"a\":\"\\u0041\\u00e9\" },"
                + " \"key\":\"k\", \"section\":\"cards\", \"op\":\"set\"}  ");
        assertEquals(new Change.Put("cards", "k", "{\"b\":[1,2],\"a\":\"A\u00e9\"}", S), c);
    }

    @Test
    void decodesUnicodeEscapesInKeys() {
        Change c = ChangeJson.decode("{\"op\":\"delete\",\"section\":\"cards\",\"key\":\"\\u65e5\\ud83d\\ude00\",\"stamp\":\"" + STAMP + "\"}");
        assertEquals("\u65e5\ud83d\ude00", ((Change.Put) c).key());
    }

    @Test
    void encodeAllDecodeAllRoundTrip() {
        List<Change> all = everyOp().toList();
        assertEquals(all, ChangeJson.decodeAll(ChangeJson.encodeAll(all)));
        assertEquals(List.of(), ChangeJson.decodeAll("[]"));
        assertMalformed(() -> ChangeJson.decodeAll("{}"), "expected a JSON array");
        assertMalformed(() -> ChangeJson.decodeAll("[] []"), "trailing content");
        assertMalformed(() -> ChangeJson.decodeAll("[1]"), "must be a JSON object");
        assertMalformed(() -> ChangeJson.decodeAll("[" + ChangeJson.encode(all.get(0))), "not valid JSON");
    }

    private static String change(String fields) {
        return "{" + fields + "}";
    }

    private static final String SET = "\"op\":\"set\",\"section\":\"cards\",\"key\":\"k\",\"value\":1,\"stamp\":\"" + STAMP + "\"";

    static Stream<Arguments> malformed() {
        String deep = "[".repeat(Json.MAX_DEPTH) + "]".repeat(Json.MAX_DEPTH);
        return Stream.of(
                Arguments.of("not JSON", "hello", "not valid JSON"),
                Arguments.of("empty", "", "must be a JSON object"),
                Arguments.of("truncated", "{\"op\":\"set\"", "not valid JSON"),
                Arguments.of("not an object", "[1,2]", "must be a JSON object"),
                Arguments.of("a string", "\"set\"", "must be a JSON object"),
                Arguments.of("missing op", change("\"section\":\"cards\",\"key\":\"k\",\"value\":1,\"stamp\":\"" + STAMP + "\""), "no 'op'"),
                Arguments.of("unknown op", change("\"op\":\"upsert\",\"section\":\"cards\",\"key\":\"k\",\"value\":1,\"stamp\":\"" + STAMP + "\""),
                        "unknown op 'upsert'"),
                Arguments.of("missing stamp", change("\"op\":\"set\",\"section\":\"cards\",\"key\":\"k\",\"value\":1"), "no 'stamp'"),
                Arguments.of("malformed stamp", change("\"op\":\"set\",\"section\":\"cards\",\"key\":\"k\",\"value\":1,\"stamp\":\"0190A1B2C3D40001@a\""),
                        "malformed stamp"),
                Arguments.of("short stamp", change("\"op\":\"set\",\"section\":\"cards\",\"key\":\"k\",\"value\":1,\"stamp\":\"12@a\""),
                        "malformed stamp"),
                Arguments.of("bad replica in stamp", change("\"op\":\"set\",\"section\":\"cards\",\"key\":\"k\",\"value\":1,\"stamp\":\"0190a1b2c3d40001@a b\""),
                        "invalid replica id"),
                Arguments.of("unknown field", change(SET + ",\"author\":\"me\""), "unknown field 'author'"),
                Arguments.of("set without value", change("\"op\":\"set\",\"section\":\"cards\",\"key\":\"k\",\"stamp\":\"" + STAMP + "\""),
                        "needs a 'value'"),
                Arguments.of("delete with value", change("\"op\":\"delete\",\"section\":\"cards\",\"key\":\"k\",\"value\":1,\"stamp\":\"" + STAMP + "\""),
                        "has no 'value'"),
                Arguments.of("delete with null value", change("\"op\":\"delete\",\"section\":\"cards\",\"key\":\"k\",\"value\":null,\"stamp\":\"" + STAMP + "\""),
                        "has no 'value'"),
                Arguments.of("set with stream", change(SET + ",\"stream\":\"s\""), "not a 'stream'"),
                Arguments.of("key on append", change("\"op\":\"append\",\"section\":\"chat\",\"stream\":\"s\",\"key\":\"k\",\"value\":1,\"stamp\":\"" + STAMP + "\""),
                        "not a 'key'"),
                Arguments.of("append without value", change("\"op\":\"append\",\"section\":\"chat\",\"stream\":\"s\",\"stamp\":\"" + STAMP + "\""),
                        "needs a 'value'"),
                Arguments.of("append without stream", change("\"op\":\"append\",\"section\":\"chat\",\"value\":1,\"stamp\":\"" + STAMP + "\""),
                        "invalid stream"),
                Arguments.of("clear with value", change("\"op\":\"clear\",\"section\":\"chat\",\"stream\":\"s\",\"value\":1,\"stamp\":\"" + STAMP + "\""),
                        "has no 'value'"),
                Arguments.of("empty stream on clear", change("\"op\":\"clear\",\"section\":\"cards\",\"stream\":\"\",\"stamp\":\"" + STAMP + "\""),
                        "must not be empty"),
                Arguments.of("key on a section clear", change("\"op\":\"clear\",\"section\":\"cards\",\"key\":\"k\",\"stamp\":\"" + STAMP + "\""),
                        "not a 'key'"),
                Arguments.of("key on clear", change("\"op\":\"clear\",\"section\":\"chat\",\"stream\":\"s\",\"key\":\"k\",\"stamp\":\"" + STAMP + "\""),
                        "not a 'key'"),
                Arguments.of("set without key", change("\"op\":\"set\",\"section\":\"cards\",\"value\":1,\"stamp\":\"" + STAMP + "\""),
                        "invalid key"),
                Arguments.of("empty key", change("\"op\":\"set\",\"section\":\"cards\",\"key\":\"\",\"value\":1,\"stamp\":\"" + STAMP + "\""),
                        "invalid key"),
                Arguments.of("control character in key", change("\"op\":\"set\",\"section\":\"cards\",\"key\":\"a\\u0000b\",\"value\":1,\"stamp\":\"" + STAMP + "\""),
                        "control characters"),
                Arguments.of("key too long", change("\"op\":\"set\",\"section\":\"cards\",\"key\":\"" + "x".repeat(513) + "\",\"value\":1,\"stamp\":\"" + STAMP + "\""),
                        "1-512 characters"),
                Arguments.of("op is a number", change("\"op\":1,\"section\":\"cards\",\"key\":\"k\",\"value\":1,\"stamp\":\"" + STAMP + "\""),
                        "field 'op' must be a string"),
                Arguments.of("stamp is a number", change("\"op\":\"set\",\"section\":\"cards\",\"key\":\"k\",\"value\":1,\"stamp\":42"),
                        "field 'stamp' must be a string"),
                Arguments.of("key is an object", change("\"op\":\"set\",\"section\":\"cards\",\"key\":{},\"value\":1,\"stamp\":\"" + STAMP + "\""),
                        "field 'key' must be a string"),
                Arguments.of("section is null", change("\"op\":\"set\",\"section\":null,\"key\":\"k\",\"value\":1,\"stamp\":\"" + STAMP + "\""),
                        "field 'section' must be a string"),
                Arguments.of("missing section", change("\"op\":\"set\",\"key\":\"k\",\"value\":1,\"stamp\":\"" + STAMP + "\""),
                        "invalid section name"),
                Arguments.of("upper-case section", change("\"op\":\"set\",\"section\":\"Cards\",\"key\":\"k\",\"value\":1,\"stamp\":\"" + STAMP + "\""),
                        "invalid section name 'Cards'"),
                Arguments.of("section starting with a digit", change("\"op\":\"set\",\"section\":\"1cards\",\"key\":\"k\",\"value\":1,\"stamp\":\"" + STAMP + "\""),
                        "invalid section name"),
                Arguments.of("section with a slash", change("\"op\":\"set\",\"section\":\"a/b\",\"key\":\"k\",\"value\":1,\"stamp\":\"" + STAMP + "\""),
                        "invalid section name"),
                Arguments.of("trailing garbage", change(SET) + " x", "not valid JSON"),
                Arguments.of("trailing second object", change(SET) + " {}", "trailing content"),
                Arguments.of("trailing comma", change(SET + ","), "not valid JSON"),
                Arguments.of("value nested deeper than MAX_DEPTH",
                        change("\"op\":\"set\",\"section\":\"cards\",\"key\":\"k\",\"value\":" + deep + ",\"stamp\":\"" + STAMP + "\""),
                        "nested deeper than 64 levels"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("malformed")
    void rejectsMalformedChanges(String name, String json, String messagePart) {
        assertMalformed(() -> ChangeJson.decode(json), messagePart);
    }

    private static void assertMalformed(org.junit.jupiter.api.function.Executable decode, String messagePart) {
        MalformedChangeException e = assertThrows(MalformedChangeException.class, decode);
        assertTrue(e.getMessage().contains(messagePart), () -> "message '" + e.getMessage() + "' should mention '" + messagePart + "'");
        assertInstanceOf(IllegalArgumentException.class, e);
    }

    @Test
    void valuesNestUpToMaxValueDepth() {
        // a value may nest Names.MAX_VALUE_DEPTH levels: it then fits in every frame and document that carries it
        String value = "[".repeat(Names.MAX_VALUE_DEPTH) + "]".repeat(Names.MAX_VALUE_DEPTH);
        Change c = ChangeJson.decode(change("\"op\":\"set\",\"section\":\"cards\",\"key\":\"k\",\"value\":" + value + ",\"stamp\":\"" + STAMP + "\""));
        assertEquals(value, ((Change.Put) c).value());
        String oneTooDeep = "[" + value + "]";
        assertMalformed(() -> ChangeJson.decode(change("\"op\":\"set\",\"section\":\"cards\",\"key\":\"k\",\"value\":" + oneTooDeep
                + ",\"stamp\":\"" + STAMP + "\"")), "nested deeper than " + Names.MAX_VALUE_DEPTH);
        // the parser's own limit still guards documents that are not changes
        String tooDeep = "[".repeat(Json.MAX_DEPTH) + "]".repeat(Json.MAX_DEPTH);
        assertMalformed(() -> ChangeJson.decode(change("\"op\":\"set\",\"section\":\"cards\",\"key\":\"k\",\"value\":" + tooDeep
                + ",\"stamp\":\"" + STAMP + "\"")), "nested deeper than " + Json.MAX_DEPTH + " levels");
        assertEquals(tooDeep, Json.normalize(tooDeep), "MAX_DEPTH levels on their own are fine");
        assertThrows(IllegalArgumentException.class, () -> Json.normalize("[" + tooDeep + "]"));
    }

    @Test
    void loneSurrogatesAreRefused() {
        assertMalformed(() -> ChangeJson.decode(change("\"op\":\"set\",\"section\":\"cards\",\"key\":\"k\",\"value\":\"a\\ud800b\",\"stamp\":\"" + STAMP + "\"")), "surrogate");
        assertMalformed(() -> ChangeJson.decode(change("\"op\":\"set\",\"section\":\"cards\",\"key\":\"a\\udc00\",\"value\":1,\"stamp\":\"" + STAMP + "\"")), "surrogate");
        Change ok = ChangeJson.decode(change("\"op\":\"set\",\"section\":\"cards\",\"key\":\"k\",\"value\":\"\\ud83d\\ude00\",\"stamp\":\"" + STAMP + "\""));
        assertEquals("\"\ud83d\ude00\"", ((Change.Put) ok).value());
    }

    @Test
    void normalizeRejectsNonJsonAndTrailingContent() {
        assertEquals("{\"a\":[1,true,null]}", Json.normalize(" { \"a\" : [ 1 , true , null ] } "));
        assertThrows(IllegalArgumentException.class, () -> Json.normalize("{"));
        assertThrows(IllegalArgumentException.class, () -> Json.normalize("1 2"));
        assertThrows(IllegalArgumentException.class, () -> Json.normalize(""));
    }
}
