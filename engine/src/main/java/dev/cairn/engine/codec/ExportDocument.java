package dev.cairn.engine.codec;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.engine.crdt.SectionKind;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
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
            write(gen, replicaId, exportedAt, state, sections, TransferProgress.NONE);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }

    /**
     * Streams the document to {@code out} (UTF-8; {@code out} is flushed, not closed), calling
     * {@code progress} with entries written so far and the total, so a large export never exists
     * as one string and a UI can show how far it is.
     */
    public static void write(OutputStream out, String replicaId, Instant exportedAt, ReplicaState state, Collection<String> sections,
            TransferProgress progress) throws IOException {
        try (JsonGenerator gen = Json.FACTORY.createGenerator(out)) {
            gen.disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
            write(gen, replicaId, exportedAt, state, sections, progress);
        }
    }

    private static void write(JsonGenerator gen, String replicaId, Instant exportedAt, ReplicaState state, Collection<String> sections,
            TransferProgress progress) throws IOException {
        gen.writeStartObject();
        gen.writeStringField("format", FORMAT);
        gen.writeNumberField("version", VERSION);
        gen.writeStringField("replica", replicaId);
        gen.writeStringField("exportedAt", exportedAt.toString());
        gen.writeFieldName("sections");
        CanonicalJson.writeSections(gen, state, sections, progress);
        gen.writeEndObject();
    }

    /** The changes an export document holds; throws {@link MalformedDocumentException} for anything else. */
    public static List<Change> read(String document, Function<String, SectionKind> known) {
        if (document == null || document.isBlank()) {
            throw new MalformedDocumentException("import file is empty");
        }
        try (JsonParser parser = Json.MAPPER.createParser(document)) {
            return read(parser, known, () -> { });
        } catch (IOException e) {
            throw notJson(e);
        }
    }

    /**
     * Reads a document from a stream, entry by entry, so a large file is never held as text or as
     * one tree. More than {@code maxBytes} is refused (the file is too large, or not a document);
     * {@code progress} gets bytes read so far and {@code totalBytes} (-1 if unknown). Nothing is
     * applied by reading: the caller gets every change or a {@link MalformedDocumentException}.
     */
    public static List<Change> read(InputStream in, long maxBytes, long totalBytes, Function<String, SectionKind> known, TransferProgress progress) {
        Objects.requireNonNull(in, "in");
        Objects.requireNonNull(progress, "progress");
        if (maxBytes < 1) {
            throw new IllegalArgumentException("maxBytes must be >= 1, got " + maxBytes);
        }
        CountingInput counted = new CountingInput(in, maxBytes);
        try (JsonParser parser = Json.MAPPER.createParser(counted)) {
            parser.disable(JsonParser.Feature.AUTO_CLOSE_SOURCE);
            List<Change> changes = read(parser, known, () -> progress.update(counted.count, totalBytes));
            progress.update(counted.count, totalBytes);
            return changes;
        } catch (TooLarge e) {
            throw new MalformedDocumentException("import file is larger than the limit of " + maxBytes + " bytes");
        } catch (IOException e) {
            if (counted.count == 0 && !(e instanceof com.fasterxml.jackson.core.JsonProcessingException)) {
                throw new MalformedDocumentException("import file could not be read: " + e.getMessage(), e);
            }
            throw notJson(e);
        }
    }

    private static MalformedDocumentException notJson(IOException e) {
        return new MalformedDocumentException("import file is not valid JSON (truncated or corrupt?): " + Json.describe(e), e);
    }

    private static List<Change> read(JsonParser p, Function<String, SectionKind> known, Runnable tick) throws IOException {
        JsonToken first = p.nextToken();
        if (first == null) {
            throw new MalformedDocumentException("import file is empty");
        }
        if (first != JsonToken.START_OBJECT) {
            p.skipChildren();
            throw new MalformedDocumentException("import file is not a Cairn export: expected a JSON object");
        }
        String format = null;
        JsonNode version = null;
        List<Change> changes = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            p.nextToken();
            if (field.equals("sections")) {
                // Writers put format and version first; check them before reading any section.
                checkEnvelope(format, version);
                changes = readSections(p, known, tick);
            } else {
                JsonNode value = p.readValueAsTree();
                if (field.equals("format")) {
                    format = value.isTextual() ? value.asText() : value.toString();
                } else if (field.equals("version")) {
                    version = value;
                }
            }
        }
        if (p.nextToken() != null) {
            throw new MalformedDocumentException("import file has content after the document (two files joined?)");
        }
        checkEnvelope(format, version);
        if (changes == null) {
            throw new MalformedDocumentException("import file has no 'sections' object");
        }
        return changes;
    }

    private static void checkEnvelope(String format, JsonNode version) {
        if (!FORMAT.equals(format)) {
            throw new MalformedDocumentException("import file is not a Cairn export (format is " + (format == null ? "missing" : "'" + format + "'") + ")");
        }
        if (version == null || !version.isInt()) {
            throw new MalformedDocumentException("import file has no valid 'version'");
        }
        if (version.intValue() != VERSION) {
            throw new MalformedDocumentException("export version " + version.intValue() + " is not supported; this engine reads version " + VERSION);
        }
    }

    /** Streams the {@code "sections"} object at the parser's current token. */
    private static List<Change> readSections(JsonParser p, Function<String, SectionKind> known, Runnable tick) throws IOException {
        if (p.currentToken() != JsonToken.START_OBJECT) {
            throw new MalformedDocumentException("import file has no 'sections' object");
        }
        List<Change> changes = new ArrayList<>();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            SectionKind kind = known.apply(name);
            if (kind == null) {
                throw new MalformedDocumentException("import file has unknown section '" + name + "'; register it before importing");
            }
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new MalformedDocumentException("section '" + name + "' is a " + kind.wireName() + " section but the file says ''");
            }
            String fileKind = "";
            boolean body = false;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken t = p.nextToken();
                if (field.equals("kind")) {
                    fileKind = t == JsonToken.VALUE_STRING ? p.getText() : "";
                    p.skipChildren();
                } else if (field.equals("clearedUpTo") && kind == SectionKind.MAP) {
                    changes.add(Change.Clear.wholeSection(name, parseStamp(p.readValueAsTree(), name)));
                } else if (field.equals(kind == SectionKind.MAP ? "entries" : "streams")) {
                    if (t != JsonToken.START_OBJECT) {
                        throw new MalformedDocumentException("section '" + name + "' has no '" + field + "' object");
                    }
                    body = true;
                    guard(name, () -> {
                        if (kind == SectionKind.MAP) {
                            readMap(p, name, changes, tick);
                        } else {
                            readLog(p, name, changes, tick);
                        }
                    });
                } else {
                    p.skipChildren();
                }
            }
            if (!kind.wireName().equals(fileKind)) {
                throw new MalformedDocumentException("section '" + name + "' is a " + kind.wireName() + " section but the file says '" + fileKind + "'");
            }
            if (!body) {
                throw new MalformedDocumentException("section '" + name + "' has no '" + (kind == SectionKind.MAP ? "entries" : "streams") + "' object");
            }
        }
        return changes;
    }

    /** The changes of a {@code "sections"} object already parsed as a tree (the server's sync body). */
    public static List<Change> readSections(JsonNode sections, Function<String, SectionKind> known) {
        if (sections == null || !sections.isObject()) {
            throw new MalformedDocumentException("import file has no 'sections' object");
        }
        try (JsonParser p = Json.MAPPER.treeAsTokens(sections)) {
            p.nextToken();
            return readSections(p, known, () -> { });
        } catch (IOException e) {
            throw new UncheckedIOException(e);   // a tree in memory does not fail to read
        }
    }

    private interface Section {
        void read() throws IOException;
    }

    private static void guard(String section, Section body) throws IOException {
        try {
            body.read();
        } catch (MalformedDocumentException ex) {
            throw ex;
        } catch (IllegalArgumentException | NullPointerException ex) {
            throw new MalformedDocumentException("section '" + section + "' is invalid: " + ex.getMessage(), ex);
        }
    }

    private static void readMap(JsonParser p, String section, List<Change> out, Runnable tick) throws IOException {
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String key = p.currentName();
            p.nextToken();
            JsonNode entry = p.readValueAsTree();
            Stamp stamp = stamp(entry, section + "/" + key);
            boolean deleted = entry.path("deleted").asBoolean(false);
            JsonNode value = entry.get("value");
            if (deleted == (value != null)) {
                throw new MalformedDocumentException("entry '" + section + "/" + key + "' needs exactly one of 'value' or \"deleted\":true");
            }
            out.add(new Change.Put(section, key, deleted ? null : Json.write(value), stamp));
            tick.run();
        }
    }

    private static void readLog(JsonParser p, String section, List<Change> out, Runnable tick) throws IOException {
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String stream = p.currentName();
            String where = section + "/" + stream;
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new MalformedDocumentException("stream '" + where + "' has no 'entries' array");
            }
            boolean entries = false;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken t = p.nextToken();
                if (field.equals("clearedUpTo")) {
                    out.add(new Change.Clear(section, stream, parseStamp(p.readValueAsTree(), where)));
                } else if (field.equals("entries")) {
                    if (t != JsonToken.START_ARRAY) {
                        throw new MalformedDocumentException("stream '" + where + "' has no 'entries' array");
                    }
                    entries = true;
                    while (p.nextToken() != JsonToken.END_ARRAY) {
                        JsonNode entry = p.readValueAsTree();
                        JsonNode value = entry.get("value");
                        if (value == null) {
                            throw new MalformedDocumentException("an entry of stream '" + where + "' has no 'value'");
                        }
                        out.add(new Change.Append(section, stream, Json.write(value), stamp(entry, where)));
                        tick.run();
                    }
                } else {
                    p.skipChildren();
                }
            }
            if (!entries) {
                throw new MalformedDocumentException("stream '" + where + "' has no 'entries' array");
            }
        }
    }

    /** Counts bytes read and refuses to read past a limit. */
    private static final class CountingInput extends FilterInputStream {
        private final long max;
        long count;

        CountingInput(InputStream in, long max) {
            super(in);
            this.max = max;
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
                add(1);
            }
            return b;
        }

        @Override
        public int read(byte[] buf, int off, int len) throws IOException {
            int n = super.read(buf, off, len);
            if (n > 0) {
                add(n);
            }
            return n;
        }

        private void add(long n) throws TooLarge {
            count += n;
            if (count > max) {
                throw new TooLarge();
            }
        }
    }

    private static final class TooLarge extends IOException {
        private static final long serialVersionUID = 1L;
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
