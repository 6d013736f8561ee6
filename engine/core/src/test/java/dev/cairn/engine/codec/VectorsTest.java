package dev.cairn.engine.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.clock.ClockSkewException;
import dev.cairn.engine.clock.HybridClock;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.engine.crdt.SectionKind;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Runs the shared golden vectors in {@code spec/vectors/} (the JavaScript client runs the same
 * files). State vectors: every case, every delivery order, compared with the expected canonical
 * encoding both as a JSON tree and byte for byte. Clock vectors: every step of every case.
 */
class VectorsTest {

    private static final Set<String> REQUIRED = Set.of("lww-map.json", "grow-only-log.json", "hlc.json", "numbers.json", "v2-pages.json");

    /** Walks up from the working directory (the module, under Maven) to the repository's spec/vectors. */
    static Path vectorsDir() {
        Path start = Path.of("").toAbsolutePath();
        for (Path dir = start; dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("spec").resolve("vectors");
            if (Files.isDirectory(candidate)) {
                return candidate;
            }
        }
        return fail("no spec/vectors directory found in " + start + " or any parent: the shared test vectors are missing");
    }

    private static List<Path> vectorFiles() throws IOException {
        try (Stream<Path> files = Files.list(vectorsDir())) {
            return files.filter(p -> p.getFileName().toString().endsWith(".json")).sorted().toList();
        }
    }

    @Test
    void theRequiredVectorFilesExist() throws IOException {
        Set<String> names = new HashSet<>();
        vectorFiles().forEach(p -> names.add(p.getFileName().toString()));
        assertTrue(names.containsAll(REQUIRED), "expected " + REQUIRED + " in " + vectorsDir() + ", found " + names);
        assertTrue(Files.isRegularFile(vectorsDir().resolve("README.md")), "spec/vectors/README.md");
    }

    @TestFactory
    Stream<DynamicNode> vectors() throws IOException {
        List<DynamicNode> nodes = new ArrayList<>();
        for (Path file : vectorFiles()) {
            JsonNode root = Json.MAPPER.readTree(file.toFile());
            String name = file.getFileName().toString();
            require(root.isObject() && root.path("description").isTextual(), name + ": needs a top-level object with a \"description\"");
            JsonNode cases = root.path("cases");
            require(cases.isArray() && !cases.isEmpty(), name + ": needs a non-empty \"cases\" array");
            requireUniqueNames(name, cases);
            if ("numbers".equals(root.path("kind").asText())) {
                nodes.add(DynamicContainer.dynamicContainer(name, file.toUri(), numberCases(cases)));
            } else if ("v2-pages".equals(root.path("kind").asText())) {
                nodes.add(DynamicContainer.dynamicContainer(name, file.toUri(), V2PageVectors.cases(root)));
            } else if (root.has("sections")) {
                nodes.add(DynamicContainer.dynamicContainer(name, file.toUri(), stateCases(name, root)));
            } else if (cases.get(0).has("steps")) {
                nodes.add(DynamicContainer.dynamicContainer(name, file.toUri(), clockCases(cases)));
            } else {
                nodes.add(DynamicTest.dynamicTest(name, () -> fail(name + ": neither state vectors (\"sections\") nor clock vectors (\"steps\")")));
            }
        }
        return nodes.stream();
    }

    // --- number vectors (PROTOCOL.md 1.2) ---

    private static Stream<DynamicNode> numberCases(JsonNode cases) {
        List<DynamicNode> out = new ArrayList<>();
        for (JsonNode c : cases) {
            String name = c.path("name").asText();
            String text = c.path("text").asText();
            String setChange = "{\"op\":\"set\",\"section\":\"cards\",\"key\":\"k\",\"value\":" + text + ",\"stamp\":\"0190a1b2c3d40000@a\"}";
            String appendChange = "{\"op\":\"append\",\"section\":\"chat\",\"stream\":\"s\",\"value\":[" + text + "],\"stamp\":\"0190a1b2c3d40000@a\"}";
            if (c.has("canonical")) {
                String canonical = c.get("canonical").asText();
                out.add(DynamicTest.dynamicTest(name + ": " + text + " -> " + canonical, () -> {
                    assertEquals(canonical, Json.canonicalNumber(text), "the number rule");
                    assertEquals(canonical, Json.canonicalNumber(canonical), "the canonical text is its own canonical text");
                    assertEquals("{\"n\":[" + canonical + "]}", Json.normalize("{\"n\":[" + text + "]}"), "inside a value");
                    assertEquals(canonical, ((Change.Put) ChangeJson.decode(setChange)).value(), "a pushed set");
                    assertEquals("[" + canonical + "]", ((Change.Append) ChangeJson.decode(appendChange)).value(), "a pushed append");
                    assertEquals(canonical, Json.writeTree(Json.readCheckedTree(text)), "read as a tree (HTTP bodies, import)");
                    assertEquals(canonical, Json.canonicalValue(text), "written through the engine's write path");
                }));
            } else {
                require(c.path("refused").isTextual(), name + ": needs \"canonical\" or \"refused\"");
                out.add(DynamicTest.dynamicTest(name + ": " + text + " refused (" + c.get("refused").asText() + ")", () -> {
                    assertThrows(IllegalArgumentException.class, () -> Json.canonicalNumber(text), "the number rule");
                    assertThrows(IllegalArgumentException.class, () -> Json.normalize("{\"n\":[" + text + "]}"), "inside a value");
                    assertThrows(MalformedChangeException.class, () -> ChangeJson.decode(setChange), "a pushed set");
                    assertThrows(MalformedChangeException.class, () -> ChangeJson.decode(appendChange), "a pushed append");
                    assertThrows(IOException.class, () -> Json.readCheckedTree(text), "read as a tree (HTTP bodies, import)");
                    assertThrows(IllegalArgumentException.class, () -> Json.canonicalValue(text), "the engine's write path");
                }));
            }
        }
        return out.stream();
    }

    // --- state vectors ---

    private static Stream<DynamicNode> stateCases(String file, JsonNode root) {
        Map<String, SectionKind> kinds = new HashMap<>();
        root.get("sections").fields().forEachRemaining(e -> kinds.put(e.getKey(), SectionKind.fromWire(e.getValue().asText())));
        List<DynamicNode> out = new ArrayList<>();
        for (JsonNode c : root.get("cases")) {
            String name = c.path("name").asText();
            List<DynamicNode> tests = new ArrayList<>();
            tests.add(DynamicTest.dynamicTest("changes are in canonical change form", () -> decodeChanges(file + " / " + name, c)));
            for (JsonNode order : c.path("orders")) {
                tests.add(DynamicTest.dynamicTest("order " + order,
                        () -> runOrder(file + " / " + name, kinds, c, order)));
            }
            if (tests.size() == 1) {
                tests.add(DynamicTest.dynamicTest("has orders", () -> fail(file + " / " + name + ": no \"orders\"")));
            }
            out.add(DynamicContainer.dynamicContainer(name, tests.stream()));
        }
        return out.stream();
    }

    private static List<Change> decodeChanges(String where, JsonNode c) throws IOException {
        JsonNode nodes = c.path("changes");
        require(nodes.isArray() && !nodes.isEmpty(), where + ": needs a non-empty \"changes\" array");
        List<Change> changes = new ArrayList<>();
        for (JsonNode node : nodes) {
            Change change = ChangeJson.decode(Json.MAPPER.writeValueAsString(node));
            // the vector's form and the encoder's form are the same JSON (field order aside)
            assertEquals(node, Json.MAPPER.readTree(ChangeJson.encode(change)), where + ": change " + node);
            changes.add(change);
        }
        return changes;
    }

    private static void runOrder(String where, Map<String, SectionKind> kinds, JsonNode c, JsonNode order) throws IOException {
        List<Change> changes = decodeChanges(where, c);
        require(order.isArray() && !order.isEmpty(), where + ": an order must be a non-empty array of indices");
        Set<Integer> delivered = new HashSet<>();
        ReplicaState state = new ReplicaState(kinds::get);
        for (JsonNode index : order) {
            require(index.isInt() && index.asInt() >= 0 && index.asInt() < changes.size(),
                    where + ": order index " + index + " is not an index into changes");
            delivered.add(index.asInt());
            state.apply(changes.get(index.asInt()));
        }
        require(delivered.size() == changes.size(), where + ": order " + order + " does not deliver every change");
        JsonNode expected = c.get("expected");
        require(expected != null && expected.isObject(), where + ": needs an \"expected\" object");
        String actual = CanonicalJson.encode(state);
        assertEquals(expected, Json.MAPPER.readTree(actual), where + ": canonical state as a JSON tree");
        assertEquals(Json.MAPPER.writeValueAsString(expected), actual, where + ": canonical state byte for byte");
    }

    // --- clock vectors ---

    private static Stream<DynamicNode> clockCases(JsonNode cases) {
        List<DynamicNode> out = new ArrayList<>();
        for (JsonNode c : cases) {
            out.add(DynamicTest.dynamicTest(c.path("name").asText(), () -> runClock(c)));
        }
        return out.stream();
    }

    private static void runClock(JsonNode c) {
        String name = c.path("name").asText();
        require(c.path("replica").isTextual() && c.path("maxAheadMillis").canConvertToLong() && c.path("steps").isArray(),
                name + ": needs \"replica\", \"maxAheadMillis\" and \"steps\"");
        AtomicLong wall = new AtomicLong();
        HybridClock clock = new HybridClock(wall::get, c.get("replica").asText(), c.get("maxAheadMillis").asLong());
        int i = 0;
        for (JsonNode step : c.get("steps")) {
            String where = name + ", step " + i++ + " " + step;
            require(step.path("wall").canConvertToLong(), where + ": needs a \"wall\"");
            wall.set(step.get("wall").asLong());
            Set<String> fields = new HashSet<>();
            step.fieldNames().forEachRemaining(fields::add);
            if (step.has("tick")) {
                require(fields.equals(Set.of("wall", "tick")), where + ": unexpected fields");
                assertEquals(step.get("tick").asText(), clock.tick().toString(), where);
            } else if (step.has("observe")) {
                Stamp remote = Stamp.parse(step.get("observe").asText());
                if (step.has("error")) {
                    require(fields.equals(Set.of("wall", "observe", "error")) && step.get("error").asText().equals("skew"),
                            where + ": the only error is \"skew\"");
                    long before = clock.last();
                    assertThrows(ClockSkewException.class, () -> clock.observe(remote), where);
                    assertEquals(before, clock.last(), where + ": a refused stamp leaves the clock unchanged");
                } else {
                    require(fields.equals(Set.of("wall", "observe")), where + ": unexpected fields");
                    clock.observe(remote);
                }
            } else if (step.has("restore")) {
                require(fields.equals(Set.of("wall", "restore")), where + ": unexpected fields");
                String hex = step.get("restore").asText();
                require(hex.matches("[0-9a-f]{16}"), where + ": restore takes 16 lower-case hex digits");
                clock.restore(Long.parseUnsignedLong(hex, 16));
            } else {
                fail(where + ": a step needs \"tick\", \"observe\" or \"restore\"");
            }
        }
    }

    // --- helpers ---

    private static void requireUniqueNames(String file, JsonNode cases) {
        Set<String> names = new HashSet<>();
        for (Iterator<JsonNode> it = cases.elements(); it.hasNext(); ) {
            String name = it.next().path("name").asText("");
            require(!name.isEmpty(), file + ": every case needs a \"name\"");
            require(names.add(name), file + ": duplicate case name '" + name + "'");
        }
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            fail("malformed vector: " + message);
        }
    }
}
