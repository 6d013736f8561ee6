package dev.cairn.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.crdt.SectionKind;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The export document and importing it: merge semantics, section choice, and every way a file can be bad. */
class ExportImportTest {

    private ManualWallClock wall;
    private Cairn a;
    private Cairn b;

    @BeforeEach
    void open() {
        wall = new ManualWallClock();
        a = TestSupport.inMemory("a", wall);
        b = TestSupport.inMemory("b", wall);
    }

    @AfterEach
    void close() {
        a.close();
        b.close();
    }

    private void fill(Cairn c) {
        c.cards().card("intro").expand();
        c.components().component("nav").hide();
        c.memory().remember("name", "Ada");
        c.memory().remember("old", 1);
        c.memory().forget("old");
        c.preferences().setTheme("dark");
        c.progress().updateOnboarding("welcome", true);
        c.state("count", Integer.class, 0).set(3);
        c.chat().append("c1", "user", "hello");
        c.chat().append("c1", "assistant", "hi");
        c.chat().append("c2", "user", "to be cleared");
        c.chat().clear("c2");
        c.consent().sign("service", "v1");
    }

    private static ObjectNode parse(String json) {
        try {
            return (ObjectNode) Json.MAPPER.readTree(json);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    // ------------------------------------------------------------------ round trips

    @Test
    void aChangeNoPushFrameCanCarryIsRefusedAtWriteTimeAndOnImport() {
        try (Cairn small = Cairn.builder().inMemory().replicaId("small").maxFrameBytes(2000).open()) {
            ChangeTooLargeException refused = assertThrows(ChangeTooLargeException.class,
                    () -> small.chat().append("c1", "user", "x".repeat(3000)));
            assertEquals("change-too-large", refused.code());
            assertEquals(0, small.pendingChanges(), "nothing was written");
            assertTrue(small.log("chat").entries("c1").isEmpty());

            a.chat().append("c1", "user", "x".repeat(3000)); // fits a's 1 MiB frames
            a.memory().remember("small", 1);
            ImportException imported = assertThrows(ImportException.class, () -> small.importData(a.exportData()));
            assertEquals("change-too-large", imported.code());
            assertTrue(small.log("chat").entries("c1").isEmpty(), "all or nothing");
            assertFalse(small.map("memory").contains("small"));
            small.chat().append("c1", "user", "a small one still syncs");
            assertEquals(1, small.log("chat").entries("c1").size());
        }
    }

    @Test
    void theExportDocumentNamesItsFormatVersionReplicaAndTime() {
        fill(a);
        JsonNode doc = parse(a.exportData());
        assertEquals(Cairn.EXPORT_FORMAT, doc.get("format").asText());
        assertEquals(Cairn.EXPORT_VERSION, doc.get("version").asInt());
        assertEquals("a", doc.get("replica").asText());
        assertEquals(java.time.Instant.ofEpochMilli(wall.millis()).toString(), doc.get("exportedAt").asText());
        assertEquals(new TreeSet<>(a.sections().keySet()), fieldNames(doc.get("sections")));
    }

    @Test
    void importingAnExportIntoAFreshEngineReproducesTheStateExactly() {
        fill(a);
        ImportResult result = b.importData(a.exportData());
        assertEquals(a.canonicalState(), b.canonicalState());
        assertEquals(result.changesRead(), result.changesApplied());
        assertTrue(result.changesRead() > 10, result.toString());
        assertTrue(b.cards().card("intro").isExpanded());
        assertEquals(List.of("hello", "hi"), b.chat().history("c1").stream().map(ChatMessage::text).toList());
        assertEquals(0, b.chat().size("c2"));
        assertTrue(b.consent().hasValidWaiver("service", "v1"));
        assertTrue(b.map("memory").entry("old").isTombstone(), "tombstones travel in exports");
    }

    @Test
    void theServerWrittenSectionsOfAServersExportAreReadPastNotWritten() {
        // A server's export lists every section it knows, the membership sections too (PROTOCOL.md 8).
        String doc = "{\"format\":\"cairn-export\",\"version\":1,\"exportedAt\":\"2026-12-06T00:00:00Z\",\"sections\":{"
                + "\"members\":{\"kind\":\"map\",\"entries\":{\"bob\":{\"value\":{\"role\":\"owner\"},\"stamp\":\"0190a1b2c3d40001@server\"}}},"
                + "\"spaces\":{\"kind\":\"map\",\"entries\":{\"sp1\":{\"value\":{\"name\":\"Trip\",\"role\":\"owner\"},\"stamp\":\"0190a1b2c3d40002@server\"}}},"
                + "\"state\":{\"kind\":\"map\",\"entries\":{\"a\":{\"value\":1,\"stamp\":\"0190a1b2c3d40003@x\"}}}}}";
        ImportResult result = b.importData(doc);
        assertEquals(1, result.changesApplied(), result.toString());
        assertTrue(b.spaces().isEmpty(), "membership comes from the server only");
    }

    @Test
    void importingTheSameFileTwiceAppliesNothingTheSecondTime() {
        fill(a);
        String doc = a.exportData();
        b.importData(doc);
        String once = b.canonicalState();
        ImportResult again = b.importData(doc);
        assertEquals(0, again.changesApplied());
        assertEquals(once, b.canonicalState());
    }

    @Test
    void importMergesAndANewerLocalValueSurvivesAnOlderImportedOne() {
        a.preferences().setTheme("dark");
        a.memory().remember("only-in-a", true);
        String older = a.exportData();
        wall.advance(Duration.ofSeconds(5));
        b.preferences().setTheme("light");
        b.memory().remember("only-in-b", true);

        b.importData(older);
        assertEquals("light", b.preferences().theme(), "b's newer theme must win over the imported older one");
        assertEquals(true, b.memory().recall("only-in-a", Boolean.class));
        assertEquals(true, b.memory().recall("only-in-b", Boolean.class));

        a.importData(b.exportData());
        assertEquals("light", a.preferences().theme(), "and the newer one wins the other way round too");
        assertEquals(a.canonicalState(), b.canonicalState());
    }

    @Test
    void importedChangesFireImportEventsAndSyncLikeLocalWrites() {
        a.memory().remember("fact", 1);
        List<ChangeEvent> events = new ArrayList<>();
        b.onChange(events::add);
        b.importData(a.exportData());
        assertEquals(1, events.size());
        assertEquals(ChangeEvent.Origin.IMPORT, events.get(0).origin());
        b.save().join();
        assertEquals(1, TestSupport.outboxCount(b, "memory", "fact"), "an import reaches the server like a local write");
    }

    @Test
    void anExportOfChosenSectionsContainsOnlyThoseAndImportsOnlyThose() {
        fill(a);
        String doc = a.exportData(List.of("memory", "chat"));
        assertEquals(Set.of("chat", "memory"), fieldNames(parse(doc).get("sections")));
        b.importData(doc);
        assertEquals("Ada", b.memory().recall("name", String.class));
        assertEquals(2, b.chat().size("c1"));
        assertFalse(b.cards().card("intro").isExpanded());
        assertEquals("system", b.preferences().theme());
    }

    @Test
    void anAppSectionExportsAndNeedsToBeRegisteredToImport() {
        try (Cairn withNotes = Cairn.builder().inMemory().replicaId("n").wallClock(wall).section("notes", SectionKind.MAP).open();
             Cairn alsoNotes = Cairn.builder().inMemory().replicaId("m").wallClock(wall).section("notes", SectionKind.MAP).open()) {
            withNotes.map("notes").put("n1", "text");
            String doc = withNotes.exportData(List.of("notes"));
            String before = b.canonicalState();
            ImportException e = assertThrows(ImportException.class, () -> b.importData(doc));
            assertTrue(e.getMessage().contains("notes"), e.getMessage());
            assertEquals(before, b.canonicalState());
            alsoNotes.importData(doc);
            assertEquals("text", alsoNotes.map("notes").get("n1", String.class));
        }
    }

    // ------------------------------------------------------------------ refused files

    private String validDocument() {
        fill(a);
        return a.exportData();
    }

    /** Imports {@code document} into b (which has state of its own) and checks it is refused and b unchanged. */
    private ImportException assertRefused(String document) {
        b.memory().remember("b-own", "kept");
        b.chat().append("b-conv", "user", "kept");
        String before = b.canonicalState();
        int outboxBefore = b.stats().outboxSize();
        ImportException e = assertThrows(ImportException.class, () -> b.importData(document));
        assertEquals(before, b.canonicalState(), "a refused import must change nothing");
        assertEquals(outboxBefore, b.stats().outboxSize());
        return e;
    }

    private String mutated(Consumer<ObjectNode> change) {
        ObjectNode doc = parse(validDocument());
        change.accept(doc);
        return doc.toString();
    }

    private static ObjectNode section(ObjectNode doc, String name) {
        return (ObjectNode) doc.get("sections").get(name);
    }

    @Test
    void anEmptyFileIsRefused() {
        assertTrue(assertRefused("").getMessage().contains("empty"));
        assertRefused("   \n");
        assertThrows(ImportException.class, () -> b.importData(null));
    }

    @Test
    void aFileThatIsNotJsonIsRefused() {
        assertTrue(assertRefused("this is not json").getMessage().contains("JSON"));
    }

    @Test
    void aTruncatedExportIsRefused() {
        String doc = validDocument();
        assertRefused(doc.substring(0, doc.length() / 2));
        assertRefused(doc.substring(0, doc.length() - 1));
    }

    @Test
    void aJsonArrayIsRefused() {
        assertRefused("[" + validDocument() + "]");
        assertRefused("42");
        assertRefused("null");
    }

    @Test
    void aWrongFormatNameIsRefused() {
        ImportException e = assertRefused(mutated(doc -> doc.put("format", "someone-elses-export")));
        assertTrue(e.getMessage().contains("someone-elses-export"), e.getMessage());
        assertRefused(mutated(doc -> doc.remove("format")));
    }

    @Test
    void anotherVersionIsRefused() {
        ImportException e = assertRefused(mutated(doc -> doc.put("version", 2)));
        assertTrue(e.getMessage().contains("2"), e.getMessage());
        assertRefused(mutated(doc -> doc.put("version", "1")));
        assertRefused(mutated(doc -> doc.remove("version")));
    }

    @Test
    void aFileWithoutSectionsIsRefused() {
        assertRefused(mutated(doc -> doc.remove("sections")));
        assertRefused(mutated(doc -> doc.putArray("sections")));
    }

    @Test
    void anUnknownSectionIsRefused() {
        ImportException e = assertRefused(mutated(doc -> ((ObjectNode) doc.get("sections"))
                .putObject("mystery").put("kind", "map").putObject("entries")));
        assertTrue(e.getMessage().contains("mystery"), e.getMessage());
    }

    @Test
    void aSectionOfTheWrongKindIsRefused() {
        ImportException e = assertRefused(mutated(doc -> section(doc, "cards").put("kind", "log")));
        assertTrue(e.getMessage().contains("cards"), e.getMessage());
        assertRefused(mutated(doc -> section(doc, "chat").put("kind", "map")));
        assertRefused(mutated(doc -> section(doc, "memory").remove("kind")));
    }

    @Test
    void aBadStampIsRefused() {
        assertRefused(mutated(doc -> firstMapEntry(doc, "memory").put("stamp", "not-a-stamp")));
        assertRefused(mutated(doc -> firstMapEntry(doc, "memory").put("stamp", "0190A1B2C3D40000@a")));
        assertRefused(mutated(doc -> firstMapEntry(doc, "memory").put("stamp", "0190a1b2c3d40000@bad replica")));
        assertRefused(mutated(doc -> firstMapEntry(doc, "memory").put("stamp", 12345)));
        assertRefused(mutated(doc -> firstMapEntry(doc, "memory").remove("stamp")));
        assertRefused(mutated(doc -> firstLogEntry(doc, "chat", "c1").put("stamp", "xyz")));
        assertRefused(mutated(doc -> stream(doc, "chat", "c2").put("clearedUpTo", "garbage")));
    }

    @Test
    void aMapEntryWithBothValueAndDeletedIsRefused() {
        ImportException e = assertRefused(mutated(doc -> firstMapEntry(doc, "memory").put("deleted", true).put("value", 1)));
        assertTrue(e.getMessage().contains("exactly one"), e.getMessage());
        assertRefused(mutated(doc -> firstMapEntry(doc, "memory").remove(List.of("value", "deleted"))));
    }

    @Test
    void aLogStreamWithoutAnEntriesArrayIsRefused() {
        ImportException e = assertRefused(mutated(doc -> stream(doc, "chat", "c1").remove("entries")));
        assertTrue(e.getMessage().contains("entries"), e.getMessage());
        assertRefused(mutated(doc -> stream(doc, "chat", "c1").put("entries", "not an array")));
        assertRefused(mutated(doc -> firstLogEntry(doc, "chat", "c1").remove("value")));
    }

    @Test
    void aStampTooFarInTheFutureIsRefused() {
        String future = new Stamp(Stamp.pack(wall.millis() + Duration.ofDays(1).toMillis(), 0), "a").toString();
        ImportException e = assertRefused(mutated(doc -> firstMapEntry(doc, "memory").put("stamp", future)));
        assertTrue(e.getMessage().contains("ahead"), e.getMessage());
        assertRefused(mutated(doc -> firstLogEntry(doc, "chat", "c1").put("stamp", future)));
    }

    @Test
    void anInvalidKeyIsRefused() {
        assertRefused(mutated(doc -> {
            ObjectNode entries = (ObjectNode) section(doc, "memory").get("entries");
            entries.set("bad\u0001key", entries.elements().next().deepCopy());
        }));
    }

    @Test
    void aBadEntryLateInTheFileRefusesTheWholeFile() {
        // memory sorts before preferences: the good memory changes must not be applied either
        assertRefused(mutated(doc -> firstMapEntry(doc, "preferences").put("stamp", "broken")));
        assertEquals(null, b.memory().recall("name", String.class));
    }

    private static ObjectNode firstMapEntry(ObjectNode doc, String sectionName) {
        JsonNode entries = section(doc, sectionName).get("entries");
        Iterator<JsonNode> it = entries.elements();
        return (ObjectNode) it.next();
    }

    private static ObjectNode stream(ObjectNode doc, String sectionName, String streamName) {
        return (ObjectNode) section(doc, sectionName).get("streams").get(streamName);
    }

    private static ObjectNode firstLogEntry(ObjectNode doc, String sectionName, String streamName) {
        return (ObjectNode) ((ArrayNode) stream(doc, sectionName, streamName).get("entries")).get(0);
    }

    private static Set<String> fieldNames(JsonNode node) {
        Set<String> names = new TreeSet<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }
}
