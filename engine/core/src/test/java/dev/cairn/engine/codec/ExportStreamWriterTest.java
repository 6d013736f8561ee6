package dev.cairn.engine.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.LogEntry;
import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.engine.crdt.SectionKind;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** The piece-by-piece writer gives the very bytes of the whole-state writer, and reads back as the same changes. */
class ExportStreamWriterTest {

    private static final Map<String, SectionKind> KINDS =
            Map.of("cards", SectionKind.MAP, "chat", SectionKind.LOG, "empty", SectionKind.MAP, "quiet", SectionKind.LOG);
    private static final Instant AT = Instant.parse("2026-12-01T10:00:00Z");

    private static Stamp s(int counter, String replica) {
        return new Stamp(Stamp.pack(0x0190a1b2c3d4L, counter), replica);
    }

    private static ReplicaState state() {
        ReplicaState state = new ReplicaState(KINDS::get);
        state.apply(new Change.Put("cards", "b", "{\"x\":\"caf\u00e9 \\n\"}", s(1, "a")));
        state.apply(new Change.Put("cards", "a", null, s(2, "a")));
        state.apply(new Change.Put("cards", "\u00fc/\ud83d\ude00", "true", s(3, "b")));
        state.apply(new Change.Append("chat", "conv-2", "\"late \ud83c\udf89\"", s(5, "a")));
        state.apply(new Change.Append("chat", "conv-2", "\"early\"", s(2, "b")));
        state.apply(new Change.Append("chat", "conv-1", "{\"z\":1}", s(3, "a")));
        state.apply(new Change.Append("chat", "conv-1", "\"hidden\"", s(1, "a")));
        state.apply(new Change.Clear("chat", "conv-1", s(2, "c")));
        state.apply(new Change.Clear("chat", "gone", s(9, "c")));
        return state;
    }

    /** Writes the state through the StreamWriter in document order, as the server's streamed export does. */
    private static String streamed(ReplicaState state, List<String> sections) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ExportDocument.StreamWriter w = new ExportDocument.StreamWriter(out, "server", AT)) {
            for (String section : new TreeSet<>(sections)) {
                SectionKind kind = KINDS.get(section);
                w.section(section, kind);
                if (kind == SectionKind.MAP) {
                    for (var e : state.map(section).sorted().entrySet()) {
                        w.mapEntry(e.getKey(), e.getValue());
                    }
                } else {
                    for (String stream : state.log(section).streams()) {
                        w.stream(stream, state.log(section).watermark(stream));
                        for (LogEntry e : state.log(section).entries(stream)) {
                            w.logEntry(e.stamp(), e.value());
                        }
                    }
                }
            }
            w.finish();
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void sameBytesAsTheWholeStateWriter() throws IOException {
        ReplicaState state = state();
        for (List<String> sections : List.of(List.of("cards", "chat", "empty", "quiet"), List.of("chat"), List.of("empty"))) {
            ByteArrayOutputStream whole = new ByteArrayOutputStream();
            ExportDocument.write(whole, "server", AT, state, sections, TransferProgress.NONE);
            assertEquals(whole.toString(StandardCharsets.UTF_8), streamed(state, sections), "sections " + sections);
            // and the text writer's: characters beyond the BMP are UTF-8, not escaped surrogates
            assertEquals(ExportDocument.write("server", AT, state, sections), streamed(state, sections), "sections " + sections);
        }
    }

    @Test
    void readsBackToTheSameState() throws IOException {
        ReplicaState state = state();
        byte[] bytes = streamed(state, List.copyOf(KINDS.keySet())).getBytes(StandardCharsets.UTF_8);
        ReplicaState copy = new ReplicaState(KINDS::get);
        ExportDocument.read(new ByteArrayInputStream(bytes), bytes.length, bytes.length, KINDS::get, TransferProgress.NONE).forEach(copy::apply);
        assertEquals(CanonicalJson.encode(state, KINDS.keySet()), CanonicalJson.encode(copy, KINDS.keySet()));
    }

    @Test
    void anUnfinishedDocumentStaysUnfinished() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ExportDocument.StreamWriter w = new ExportDocument.StreamWriter(out, "server", AT)) {
            w.section("cards", SectionKind.MAP);
            w.mapEntry("a", new dev.cairn.engine.crdt.LwwEntry("1", s(1, "a")));
            // no finish(): a failed export
        }
        String text = out.toString(StandardCharsets.UTF_8);
        assertTrue(text.endsWith("\"value\":1}"), text);
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        MalformedDocumentException e = assertThrows(MalformedDocumentException.class,
                () -> ExportDocument.read(new ByteArrayInputStream(bytes), 1 << 20, -1, KINDS::get, TransferProgress.NONE));
        assertTrue(e.getMessage().contains("truncated or corrupt"), e.getMessage());
    }

    @Test
    void piecesOutOfPlaceAreRefused() throws IOException {
        try (ExportDocument.StreamWriter w = new ExportDocument.StreamWriter(new ByteArrayOutputStream(), "server", AT)) {
            assertThrows(IllegalStateException.class, () -> w.mapEntry("a", new dev.cairn.engine.crdt.LwwEntry("1", s(1, "a"))));
            w.section("chat", SectionKind.LOG);
            assertThrows(IllegalStateException.class, () -> w.logEntry(s(1, "a"), "1"));
            assertThrows(IllegalStateException.class, () -> w.mapEntry("a", new dev.cairn.engine.crdt.LwwEntry("1", s(1, "a"))));
        }
    }

    @Test
    void anEmptyStreamNameIsRefusedNotReadAsAWholeSectionClear() {
        // found by ImportFuzzTest (seed 194301383670710809): "" is the name a whole-map-section clear uses
        String doc = "{\"format\":\"cairn-export\",\"version\":1,\"sections\":{\"chat\":{\"kind\":\"log\",\"streams\":"
                + "{\"\":{\"clearedUpTo\":\"0190a1b2c3d40001@a\",\"entries\":[]}}}}}";
        byte[] bytes = doc.getBytes(StandardCharsets.UTF_8);
        MalformedDocumentException e = assertThrows(MalformedDocumentException.class,
                () -> ExportDocument.read(new ByteArrayInputStream(bytes), 1 << 20, -1, KINDS::get, TransferProgress.NONE));
        assertTrue(e.getMessage().contains("stream name"), e.getMessage());
    }

    @Test
    void spacesFollowTheSectionsAndReadersIgnoreThem() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ExportDocument.StreamWriter w = new ExportDocument.StreamWriter(out, "server", AT)) {
            w.section("cards", SectionKind.MAP);
            w.mapEntry("mine", new dev.cairn.engine.crdt.LwwEntry("1", s(1, "a")));
            w.spaces();
            w.space("sp-1", "Trip", "editor");
            w.section("cards", SectionKind.MAP);
            w.mapEntry("shared", new dev.cairn.engine.crdt.LwwEntry("2", s(2, "b")));
            w.section("chat", SectionKind.LOG);
            w.space("sp-2", "Team", "owner");
            w.finish();
        }
        String doc = out.toString(StandardCharsets.UTF_8);
        var tree = dev.cairn.engine.codec.Json.MAPPER.readTree(doc);
        assertEquals("[\"mine\"]", fieldNames(tree.path("sections").path("cards").path("entries")));
        assertEquals(2, tree.path("spaces").size(), doc);
        assertEquals("Trip", tree.path("spaces").get(0).path("name").asText());
        assertEquals("[\"shared\"]", fieldNames(tree.path("spaces").get(0).path("sections").path("cards").path("entries")));
        assertEquals("log", tree.path("spaces").get(0).path("sections").path("chat").path("kind").asText());
        assertEquals("{}", tree.path("spaces").get(1).path("sections").toString());
        List<Change> read = ExportDocument.read(doc, KINDS::get);
        assertEquals(1, read.size(), "an import reads the user's sections only: " + read);
        assertEquals("mine", ((Change.Put) read.get(0)).key());
        ExportDocument.StreamWriter again = new ExportDocument.StreamWriter(new ByteArrayOutputStream(), "server", AT);
        assertThrows(IllegalStateException.class, () -> again.space("sp-1", "x", "owner"), "a space needs spaces() first");
    }

    private static String fieldNames(com.fasterxml.jackson.databind.JsonNode node) {
        List<String> names = new java.util.ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return "[" + String.join(",", names.stream().map(n -> "\"" + n + "\"").toList()) + "]";
    }
}
