package dev.cairn.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.LwwEntry;
import dev.cairn.engine.sync.internal.SyncPorts;
import dev.cairn.engine.value.DefaultMerge;
import dev.cairn.engine.value.FieldWrite;
import dev.cairn.engine.value.StoredValue;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Every {@code *.json} file in {@code spec/vectors/values/} (the browser client runs the same
 * files): read cases through the layout's reader and through a real {@code PersistentState<JsonNode>}
 * holding the stored entries with their stamps; write cases through the write planner, changes
 * compared in order by their canonical text. Read values are compared as JSON (member order aside).
 *
 * <p>Options: {@code version}, {@code default}, {@code merge} ({@code "whole"}), and
 * {@code migrate: "throw"} (a migration that throws). Otherwise a handle's migration returns the
 * old value unchanged and records the version it was called with ({@code read.migrateFrom}).
 */
class FieldVectorsTest {

    static Path folder() {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path d = dir.resolve("spec/vectors/values");
            if (Files.isDirectory(d)) {
                return d;
            }
        }
        throw new IllegalStateException("spec/vectors/values not found above " + Path.of("").toAbsolutePath());
    }

    @TestFactory
    List<DynamicNode> everyVectorFile() throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.list(folder())) {
            files = s.filter(p -> p.toString().endsWith(".json")).sorted().toList();
        }
        assertFalse(files.isEmpty(), "no vector files in " + folder());
        List<DynamicNode> out = new ArrayList<>();
        for (Path file : files) {
            JsonNode root = Json.MAPPER.readTree(Files.readString(file));
            List<DynamicTest> cases = new ArrayList<>();
            for (JsonNode c : root.get("cases")) {
                cases.add(DynamicTest.dynamicTest(c.get("name").asText(), () -> run(c)));
            }
            assertFalse(cases.isEmpty(), file + " has no cases");
            out.add(DynamicContainer.dynamicContainer(file.getFileName().toString(), cases));
        }
        return out;
    }

    private static void run(JsonNode c) throws IOException {
        String key = c.get("key").asText();
        JsonNode options = c.path("options");
        int version = options.path("version").asInt(0);
        TreeMap<String, LwwEntry> fields = new TreeMap<>();
        LwwEntry root = null;
        List<Change> changes = new ArrayList<>();
        for (JsonNode e : c.get("stored")) {
            String k = e.get("key").asText();
            LwwEntry entry = new LwwEntry(Json.writeTree(e.get("value")), Stamp.parse(e.get("stamp").asText()));
            changes.add(new Change.Put("state", k, entry.value(), entry.stamp()));
            if (k.equals(key)) {
                root = entry;
            } else {
                assertTrue(k.startsWith(key + "#"), "stored entry " + k + " belongs to " + key);
                fields.put(k, entry);
            }
        }
        StoredValue stored = StoredValue.read(key, root, fields);
        if (c.has("read")) {
            checkRead(c.get("read"), stored, options, version);
            checkReadThroughHandle(key, c.get("read"), changes, options, version);
        } else {
            checkWrite(c, key, stored, options, version);
        }
    }

    private static void checkRead(JsonNode read, StoredValue stored, JsonNode options, int version) {
        if (read.path("absent").asBoolean(false)) {
            assertTrue(stored.absent(), "absent, read " + stored.value());
            return;
        }
        if (read.has("error")) {
            return; // only a handle can fail to read: checked there
        }
        assertFalse(stored.absent(), "a value is stored");
        if (read.has("version")) {
            assertEquals(read.get("version").asInt(), stored.version(), "stored version");
        }
        if (read.has("migrateFrom")) {
            assertTrue(stored.version() < version, "a migration is due");
            assertEquals(read.get("migrateFrom").asInt(), stored.version(), "migrate is called with the stored version");
        }
        JsonNode value = stored.value();
        if (options.has("default") && !stored.whole()) {
            value = DefaultMerge.merge(options.get("default"), value);
        }
        assertEquals(read.get("value"), value);
    }

    /** The same read through a real handle: its value, the version migrate saw, the error it reported. */
    private static void checkReadThroughHandle(String key, JsonNode read, List<Change> stored, JsonNode options, int version) {
        try (Cairn cairn = TestSupport.inMemory("reader")) {
            SyncPorts.of(cairn).applyRemote(stored);
            List<Throwable> errors = new CopyOnWriteArrayList<>();
            cairn.onError(errors::add);
            List<Integer> migratedFrom = new ArrayList<>();
            boolean throwing = "throw".equals(options.path("migrate").asText());
            JsonNode dflt = options.has("default") ? options.get("default") : null;
            StateOptions<JsonNode> o = StateOptions.<JsonNode>defaults().version(version)
                    .merge("whole".equals(options.path("merge").asText()) ? Merge.WHOLE : Merge.FIELDS)
                    .migrate((old, from) -> {
                        migratedFrom.add(from);
                        if (throwing) {
                            throw new IllegalStateException("the vector's migration throws");
                        }
                        return old;
                    });
            PersistentState<JsonNode> handle = cairn.state(key, JsonNode.class, dflt, o);
            String before = cairn.canonicalState();
            JsonNode value = handle.value();
            if (read.path("absent").asBoolean(false)) {
                assertSame(dflt, value, "an absent value reads as the default");
            } else if (read.has("error")) {
                assertEquals("unreadable-value", read.get("error").asText());
                assertSame(dflt, value, "an unreadable value reads as the default");
                assertEquals(before, cairn.canonicalState(), "the stored entries stay untouched");
                assertTrue(errors.stream().anyMatch(e -> e instanceof UnreadableValueException), "reported: " + errors);
            } else {
                JsonNode expected = read.get("value"); // with options.default: after defaults
                assertEquals(expected, value);
                if (read.has("migrateFrom")) {
                    assertEquals(List.of(read.get("migrateFrom").asInt()), migratedFrom);
                    assertEquals(expected, handle.value(), "the written-back value reads the same");
                    assertEquals(List.of(read.get("migrateFrom").asInt()), migratedFrom, "migrated once");
                }
                if (read.has("version") && read.get("version").asInt() > version) {
                    assertInstanceOf(StoredByNewerVersionException.class, errors.get(0));
                } else {
                    assertTrue(errors.isEmpty(), "nothing reported: " + errors);
                }
            }
        }
    }

    private static void checkWrite(JsonNode c, String key, StoredValue stored, JsonNode options, int version) {
        boolean fields = !"whole".equals(options.path("merge").asText());
        JsonNode known = c.get("known");
        List<FieldWrite.Op> ops = FieldWrite.plan(key, stored, c.get("write"), known == null || known.isNull() ? null : known,
                false, fields, version);
        List<String> expected = new ArrayList<>();
        for (JsonNode ch : c.get("changes")) {
            String op = ch.get("op").asText();
            assertTrue(op.equals("set") || op.equals("delete"), "op " + op);
            expected.add(op + " " + ch.get("key").asText() + (op.equals("set") ? " " + Json.writeTree(ch.get("value")) : ""));
        }
        List<String> actual = new ArrayList<>();
        for (FieldWrite.Op op : ops) {
            actual.add(op.json() == null ? "delete " + op.key() : "set " + op.key() + " " + op.json());
        }
        assertEquals(String.join("\n", expected), String.join("\n", actual));
    }
}
