package dev.cairn.engine.codec;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.engine.crdt.SectionKind;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

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
 * applied, and every problem is a {@link MalformedDocumentException} saying where it is.
 */
public final class ExportDocument {

    public static final String FORMAT = "cairn-export";
    public static final int VERSION = 1;

    private ExportDocument() {
    }

    public static String write(String replicaId, Instant exportedAt, ReplicaState state, Collection<String> sections) {
        StringWriter out = new StringWriter();
        try (JsonGenerator gen = Json.FACTORY.createGenerator(out)) {
            gen.writeStartObject();
            gen.writeStringField("format", FORMAT);
            gen.writeNumberField("version", VERSION);
            gen.writeStringField("replica", replicaId);
            gen.writeStringField("exportedAt", exportedAt.toString());
            gen.writeFieldName("sections");
            CanonicalJson.writeSections(gen, state, sections);
            gen.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }

    /** The changes an export document holds; throws {@link MalformedDocumentException} for anything else. */
    public static List<Change> read(String document, Function<String, SectionKind> known) {
        if (document == null || document.isBlank()) {
            throw new MalformedDocumentException("import file is empty");
        }
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(document);
        } catch (IOException e) {
            throw new MalformedDocumentException("import file is not valid JSON (truncated or corrupt?): " + Json.describe(e), e);
        }
        if (root == null || !root.isObject()) {
            throw new MalformedDocumentException("import file is not a Cairn export: expected a JSON object");
        }
        String format = root.path("format").asText(null);
        if (!FORMAT.equals(format)) {
            throw new MalformedDocumentException("import file is not a Cairn export (format is " + (format == null ? "missing" : "'" + format + "'") + ")");
        }
        JsonNode version = root.get("version");
        if (version == null || !version.isInt()) {
            throw new MalformedDocumentException("import file has no valid 'version'");
        }
        if (version.intValue() != VERSION) {
            throw new MalformedDocumentException("export version " + version.intValue() + " is not supported; this engine reads version " + VERSION);
        }
        return readSections(root.get("sections"), known);
    }

    /** The changes of a {@code "sections"} object (the canonical form), checked against the known sections. */
    public static List<Change> readSections(JsonNode sections, Function<String, SectionKind> known) {
        if (sections == null || !sections.isObject()) {
            throw new MalformedDocumentException("import file has no 'sections' object");
        }
        List<Change> changes = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = sections.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            SectionKind kind = known.apply(name);
            if (kind == null) {
                throw new MalformedDocumentException("import file has unknown section '" + name + "'; register it before importing");
            }
            JsonNode body = e.getValue();
            String fileKind = body.path("kind").asText("");
            if (!kind.wireName().equals(fileKind)) {
                throw new MalformedDocumentException("section '" + name + "' is a " + kind.wireName() + " section but the file says '" + fileKind + "'");
            }
            try {
                if (kind == SectionKind.MAP) {
                    readMap(name, body, changes);
                } else {
                    readLog(name, body, changes);
                }
            } catch (MalformedDocumentException ex) {
                throw ex;
            } catch (IllegalArgumentException | NullPointerException ex) {
                throw new MalformedDocumentException("section '" + name + "' is invalid: " + ex.getMessage(), ex);
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
                throw new MalformedDocumentException("entry '" + section + "/" + e.getKey() + "' needs exactly one of 'value' or \"deleted\":true");
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
                throw new MalformedDocumentException("stream '" + where + "' has no 'entries' array");
            }
            for (JsonNode entry : entries) {
                JsonNode value = entry.get("value");
                if (value == null) {
                    throw new MalformedDocumentException("an entry of stream '" + where + "' has no 'value'");
                }
                out.add(new Change.Append(section, e.getKey(), Json.write(value), stamp(entry, where)));
            }
        }
    }

    private static JsonNode object(JsonNode body, String field, String section) {
        JsonNode node = body.get(field);
        if (node == null || !node.isObject()) {
            throw new MalformedDocumentException("section '" + section + "' has no '" + field + "' object");
        }
        return node;
    }

    private static Stamp stamp(JsonNode entry, String where) {
        if (entry == null || !entry.isObject()) {
            throw new MalformedDocumentException("entry of '" + where + "' is not an object");
        }
        return parseStamp(entry.get("stamp"), where);
    }

    private static Stamp parseStamp(JsonNode node, String where) {
        if (node == null || !node.isTextual()) {
            throw new MalformedDocumentException("entry of '" + where + "' has no 'stamp'");
        }
        try {
            return Stamp.parse(node.asText());
        } catch (IllegalArgumentException e) {
            throw new MalformedDocumentException("entry of '" + where + "': " + e.getMessage(), e);
        }
    }
}
