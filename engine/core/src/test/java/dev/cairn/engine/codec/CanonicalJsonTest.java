package dev.cairn.engine.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.engine.crdt.SectionKind;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CanonicalJsonTest {

    private static final Map<String, SectionKind> KINDS =
            Map.of("cards", SectionKind.MAP, "chat", SectionKind.LOG, "about", SectionKind.MAP, "zeta", SectionKind.LOG);

    private static Stamp s(int counter, String replica) {
        return new Stamp(Stamp.pack(0x0190a1b2c3d4L, counter), replica);
    }

    private static ReplicaState state() {
        return new ReplicaState(KINDS::get);
    }

    @Test
    void emptyStateIsAnEmptyObject() {
        assertEquals("{}", CanonicalJson.encode(state()));
    }

    @Test
    void sectionsKeysAndStreamsAreSortedWhateverTheInsertionOrder() {
        ReplicaState state = state();
        state.apply(new Change.Append("zeta", "s", "1", s(0, "a")));
        state.apply(new Change.Put("cards", "b", "2", s(1, "a")));
        state.apply(new Change.Put("cards", "B", "3", s(1, "a")));
        state.apply(new Change.Put("cards", "a", "1", s(1, "a")));
        state.apply(new Change.Append("chat", "conv-2", "\"late\"", s(5, "a")));
        state.apply(new Change.Append("chat", "conv-2", "\"early\"", s(2, "b")));
        state.apply(new Change.Append("chat", "conv-1", "{\"z\":1,\"a\":2}", s(3, "a")));
        state.apply(new Change.Put("about", "k", "true", s(0, "a")));
        String st0 = s(0, "a").toString();
        String st1 = s(1, "a").toString();
        assertEquals("{"
                + "\"about\":{\"kind\":\"map\",\"entries\":{\"k\":{\"stamp\":\"" + st0 + "\",\"value\":true}}},"
                + "\"cards\":{\"kind\":\"map\",\"entries\":{"
                + "\"B\":{\"stamp\":\"" + st1 + "\",\"value\":3},"
                + "\"a\":{\"stamp\":\"" + st1 + "\",\"value\":1},"
                + "\"b\":{\"stamp\":\"" + st1 + "\",\"value\":2}}},"
                + "\"chat\":{\"kind\":\"log\",\"streams\":{"
                + "\"conv-1\":{\"entries\":[{\"stamp\":\"" + s(3, "a") + "\",\"value\":{\"z\":1,\"a\":2}}]},"
                + "\"conv-2\":{\"entries\":[{\"stamp\":\"" + s(2, "b") + "\",\"value\":\"early\"},"
                + "{\"stamp\":\"" + s(5, "a") + "\",\"value\":\"late\"}]}}},"
                + "\"zeta\":{\"kind\":\"log\",\"streams\":{\"s\":{\"entries\":[{\"stamp\":\"" + st0 + "\",\"value\":1}]}}}"
                + "}", CanonicalJson.encode(state));
    }

    @Test
    void keysSortByUtf16CodeUnitsLikeJavaScript() {
        ReplicaState state = state();
        // U+FF5A (fullwidth z) sorts after U+1F600 (a surrogate pair starting 0xD83D) in UTF-16 order
        for (String key : List.of("\uff5a", "\ud83d\ude00", "\u65e5", "caf\u00e9", "cafe", "Z")) {
            state.apply(new Change.Put("cards", key, "1", s(0, "a")));
        }
        String encoded = CanonicalJson.encode(state);
        List<String> order = List.of("Z", "cafe", "caf\u00e9", "\u65e5", "\ud83d\ude00", "\uff5a");
        int previous = -1;
        for (String key : order) {
            int at = encoded.indexOf("\"" + key + "\"");
            assertEquals(true, at > previous, key + " out of order in " + encoded);
            previous = at;
        }
    }

    @Test
    void tombstonesAreDeletedTrueWithoutAValue() {
        ReplicaState state = state();
        state.apply(new Change.Put("cards", "gone", "1", s(0, "a")));
        state.apply(new Change.Put("cards", "gone", null, s(1, "a")));
        state.apply(new Change.Put("cards", "null-value", "null", s(0, "a")));
        assertEquals("{\"cards\":{\"kind\":\"map\",\"entries\":{"
                + "\"gone\":{\"stamp\":\"" + s(1, "a") + "\",\"deleted\":true},"
                + "\"null-value\":{\"stamp\":\"" + s(0, "a") + "\",\"value\":null}}}}", CanonicalJson.encode(state));
    }

    @Test
    void watermarkIsClearedUpToBeforeTheEntries() {
        ReplicaState state = state();
        state.apply(new Change.Append("chat", "c", "1", s(1, "a")));
        state.apply(new Change.Append("chat", "c", "2", s(3, "a")));
        state.apply(new Change.Clear("chat", "c", s(2, "a")));
        state.apply(new Change.Clear("chat", "empty", s(0, "b")));
        assertEquals("{\"chat\":{\"kind\":\"log\",\"streams\":{"
                + "\"c\":{\"clearedUpTo\":\"" + s(2, "a") + "\",\"entries\":[{\"stamp\":\"" + s(3, "a") + "\",\"value\":2}]},"
                + "\"empty\":{\"clearedUpTo\":\"" + s(0, "b") + "\",\"entries\":[]}}}}", CanonicalJson.encode(state));
    }

    @Test
    void namedSectionsIncludeEmptyOnesAndSkipUnknownOnes() {
        ReplicaState state = state();
        state.apply(new Change.Put("cards", "k", "1", s(0, "a")));
        assertEquals("{\"cards\":{\"kind\":\"map\",\"entries\":{\"k\":{\"stamp\":\"" + s(0, "a") + "\",\"value\":1}}},"
                + "\"chat\":{\"kind\":\"log\",\"streams\":{}}}", CanonicalJson.encode(state, List.of("nope", "chat", "cards")));
        assertEquals("{}", CanonicalJson.encode(state, List.of()));
    }

    @Test
    void encodingIsValidJsonWithEscapedStrings() throws Exception {
        ReplicaState state = state();
        String key = "quote\" back\\slash \u00e9 \ud83d\ude00";
        state.apply(new Change.Put("cards", key, "\"line\\nbreak \\u0001\"", s(0, "a")));
        String encoded = CanonicalJson.encode(state);
        assertEquals("{\"cards\":{\"kind\":\"map\",\"entries\":{\"quote\\\" back\\\\slash \u00e9 \ud83d\ude00\":"
                + "{\"stamp\":\"" + s(0, "a") + "\",\"value\":\"line\\nbreak \\u0001\"}}}}", encoded);
        assertEquals("line\nbreak \u0001", Json.MAPPER.readTree(encoded).path("cards").path("entries").path(key).path("value").asText());
    }
}
