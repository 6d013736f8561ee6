package dev.cairn.engine;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.codec.CanonicalJson;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.section.SectionSpec;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The export document: the canonical state of the chosen sections, stamps included, in an
 * envelope that names the format and its version.
 *
 * <pre>
 * {"format":"cairn-export","version":1,"replica":"phone-1","exportedAt":"2026-11-25T10:00:00Z",
 *  "sections":{ ...as {@link CanonicalJson}... }}
 * </pre>
 *
 * Reading is all-or-nothing: the whole document is checked and turned into changes before any is
 * applied, and every problem is an {@link ImportException} saying where it is.
 */
final class ExportFormat {

    private ExportFormat() {
    }

    static String write(Cairn engine, ReplicaState state, Collection<String> sections) {
        StringWriter out = new StringWriter();
        try (JsonGenerator gen = Json.FACTORY.createGenerator(out)) {
            gen.writeStartObject();
            gen.writeStringField("format", Cairn.EXPORT_FORMAT);
            gen.writeNumberField("version", Cairn.EXPORT_VERSION);
            gen.writeStringField("replica", engine.replicaId());
            gen.writeStringField("exportedAt", Instant.ofEpochMilli(engine.wall().millis()).toString());
            gen.writeFieldName("sections");
            CanonicalJson.writeSections(gen, state, sections);
            gen.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }

    static List<Change> read(String document, Map<String, SectionSpec> known) {
        if (document == null || document.isBlank()) {
            throw new ImportException("import file is empty");
        }
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(document);
        } catch (IOException e) {
            throw new ImportException("import file is not valid JSON (truncated or corrupt?): " + Json.describe(e), e);
        }
        if (root == null || !root.isObject()) {
            throw new ImportException("import file is not a Cairn export: expected a JSON object");
        }
        String format = root.path("format").asText(null);
        if (!Cairn.EXPORT_FORMAT.equals(format)) {
            throw new ImportException("import file is not a Cairn export (format is " + (format == null ? "missing" : "'" + format + "'") + ")");
        }
        JsonNode version = root.get("version");
        if (version == null || !version.isInt()) {
            throw new ImportException("import file has no valid 'version'");
        }
        if (version.intValue() != Cairn.EXPORT_VERSION) {
            throw new ImportException("export version " + version.intValue() + " is not supported; this engine reads version " + Cairn.EXPORT_VERSION);
        }
        JsonNode sections = root.get("sections");
        if (sections == null || !sections.isObject()) {
            throw new ImportException("import file has no 'sections' object");
        }
        List<Change> changes = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = sections.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            SectionSpec spec = known.get(name);
            if (spec == null) {
                throw new ImportException("import file has unknown section '" + name + "'; register it before importing");
            }
            JsonNode body = e.getValue();
            String kind = body.path("kind").asText("");
            if (!spec.kind().wireName().equals(kind)) {
                throw new ImportException("section '" + name + "' is a " + spec.kind().wireName() + " section but the file says '" + kind + "'");
            }
            try {
                if (spec.kind() == SectionKind.MAP) {
                    readMap(name, body, changes);
                } else {
                    readLog(name, body, changes);
                }
            } catch (ImportException ex) {
                throw ex;
            } catch (IllegalArgumentException | NullPointerException ex) {
                throw new ImportException("section '" + name + "' is invalid: " + ex.getMessage(), ex);
            }
        }
        return changes;
    }

    private static void readMap(String section, JsonNode body, List<Change> out) {
        JsonNode entries = object(body, "entries", section);
        for (Iterator<Map.Entry<String, JsonNode>> it = entries.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode entry = e.getValue();
            Stamp stamp = stamp(entry, section + "/" + e.getKey());
            boolean deleted = entry.path("deleted").asBoolean(false);
            JsonNode value = entry.get("value");
            if (deleted == (value != null)) {
                throw new ImportException("entry '" + section + "/" + e.getKey() + "' needs exactly one of 'value' or \"deleted\":true");
            }
            out.add(new Change.Put(section, e.getKey(), deleted ? null : Json.write(value), stamp));
        }
    }

    private static void readLog(String section, JsonNode body, List<Change> out) {
        JsonNode streams = object(body, "streams", section);
        for (Iterator<Map.Entry<String, JsonNode>> it = streams.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String where = section + "/" + e.getKey();
            JsonNode stream = e.getValue();
            if (stream.has("clearedUpTo")) {
                out.add(new Change.Clear(section, e.getKey(), parseStamp(stream.get("clearedUpTo"), where)));
            }
            JsonNode entries = stream.get("entries");
            if (entries == null || !entries.isArray()) {
                throw new ImportException("stream '" + where + "' has no 'entries' array");
            }
            for (JsonNode entry : entries) {
                JsonNode value = entry.get("value");
                if (value == null) {
                    throw new ImportException("an entry of stream '" + where + "' has no 'value'");
                }
                out.add(new Change.Append(section, e.getKey(), Json.write(value), stamp(entry, where)));
            }
        }
    }

    private static JsonNode object(JsonNode body, String field, String section) {
        JsonNode node = body.get(field);
        if (node == null || !node.isObject()) {
            throw new ImportException("section '" + section + "' has no '" + field + "' object");
        }
        return node;
    }

    private static Stamp stamp(JsonNode entry, String where) {
        if (entry == null || !entry.isObject()) {
            throw new ImportException("entry of '" + where + "' is not an object");
        }
        return parseStamp(entry.get("stamp"), where);
    }

    private static Stamp parseStamp(JsonNode node, String where) {
        if (node == null || !node.isTextual()) {
            throw new ImportException("entry of '" + where + "' has no 'stamp'");
        }
        try {
            return Stamp.parse(node.asText());
        } catch (IllegalArgumentException e) {
            throw new ImportException("entry of '" + where + "': " + e.getMessage(), e);
        }
    }
}
