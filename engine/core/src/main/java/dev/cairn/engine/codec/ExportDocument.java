package dev.cairn.engine.codec;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.Names;
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

    /** The envelope's {@code format} field; a document with another one is refused as foreign. */
    public static final String FORMAT = "cairn-export";
    /** The envelope's {@code version} field this code writes and reads; another version is refused. */
    public static final int VERSION = 1;

    /**
     * For documents written as UTF-8 bytes: a character beyond the BMP is written as its four UTF-8
     * bytes, as the text writers write it. Jackson's byte writer would otherwise write it as two
     * escaped surrogates (backslash-u), and a streamed export would not be byte-identical to the
     * canonical encoding of the same state.
     */
    private static final com.fasterxml.jackson.core.JsonFactory UTF8 = new com.fasterxml.jackson.core.JsonFactoryBuilder(Json.FACTORY)
            .enable(com.fasterxml.jackson.core.json.JsonWriteFeature.COMBINE_UNICODE_SURROGATES_IN_UTF8)
            .build();

    private ExportDocument() {
    }

    /**
     * The document of the named sections of {@code state} as one string (for a small state; see the
     * streaming {@code write} for a large one). {@code exportedAt} is written as ISO-8601 UTC.
     */
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
        try (JsonGenerator gen = UTF8.createGenerator(out)) {
            gen.disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
            write(gen, replicaId, exportedAt, state, sections, progress);
        }
    }

    private static void write(JsonGenerator gen, String replicaId, Instant exportedAt, ReplicaState state, Collection<String> sections,
            TransferProgress progress) throws IOException {
        writeHead(gen, replicaId, exportedAt);
        CanonicalJson.writeSections(gen, state, sections, progress);
        gen.writeEndObject();
    }

    private static void writeHead(JsonGenerator gen, String replicaId, Instant exportedAt) throws IOException {
        gen.writeStartObject();
        gen.writeStringField("format", FORMAT);
        gen.writeNumberField("version", VERSION);
        gen.writeStringField("replica", replicaId);
        gen.writeStringField("exportedAt", exportedAt.toString());
        gen.writeFieldName("sections");
    }

    /**
     * Writes a document piece by piece, for a writer that never holds the state as one
     * {@link ReplicaState} (the server streams its export from the store). The caller gives the
     * pieces in the document's order: sections sorted by name, each with {@link #section}; a map's
     * entries sorted by key; a log's streams sorted by name, each opened with {@link #stream} (its
     * watermark, if any) and its entries oldest first. Given the pieces of a state in that order, the
     * bytes are exactly those of {@link #write(OutputStream, String, Instant, ReplicaState, Collection, TransferProgress)}
     * for it: both use the same section writers of {@link CanonicalJson}.
     */
    public static final class StreamWriter implements java.io.Closeable {
        private final JsonGenerator gen;
        private SectionKind section;
        private boolean inStream;
        private boolean finished;
        /** 0: in "sections"; 1: "spaces" opened; 2: inside a space's "sections". */
        private int spaces;

        /** Writes the envelope at once (format, version, replica, time). {@code out} is flushed, never closed. */
        public StreamWriter(OutputStream out, String replicaId, Instant exportedAt) throws IOException {
            gen = UTF8.createGenerator(out);
            gen.disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
            // A failed export must stay visibly unfinished: Jackson would otherwise close the open
            // objects on close() and make a truncated file look complete.
            gen.disable(JsonGenerator.Feature.AUTO_CLOSE_JSON_CONTENT);
            writeHead(gen, replicaId, exportedAt);
            gen.writeStartObject();
        }

        /** Closes the open section (if any) and opens {@code name}, empty until entries follow. */
        public void section(String name, SectionKind kind) throws IOException {
            section(name, kind, null);
        }

        /** As {@link #section(String, SectionKind)}; {@code mapClearedUpTo} is a map section's clear watermark or null. */
        public void section(String name, SectionKind kind, Stamp mapClearedUpTo) throws IOException {
            closeSection();
            gen.writeFieldName(name);
            if (kind == SectionKind.MAP) {
                CanonicalJson.startMap(gen, mapClearedUpTo);
            } else {
                CanonicalJson.startLog(gen);
            }
            section = kind;
        }

        /** Writes one entry (value or tombstone) of the open map section; IllegalStateException if none is open. */
        public void mapEntry(String key, dev.cairn.engine.crdt.LwwEntry entry) throws IOException {
            if (section != SectionKind.MAP) {
                throw new IllegalStateException("no map section is open");
            }
            CanonicalJson.writeMapEntry(gen, key, entry);
        }

        /** Opens a stream of the open log section; {@code clearedUpTo} is its watermark or null. */
        public void stream(String name, Stamp clearedUpTo) throws IOException {
            if (section != SectionKind.LOG) {
                throw new IllegalStateException("no log section is open");
            }
            closeStream();
            CanonicalJson.startStream(gen, name, clearedUpTo);
            inStream = true;
        }

        /** Writes one entry (compact JSON text) of the open stream; IllegalStateException if none is open. */
        public void logEntry(Stamp stamp, String value) throws IOException {
            if (!inStream) {
                throw new IllegalStateException("no stream is open");
            }
            CanonicalJson.writeLogEntry(gen, stamp, value);
        }

        /**
         * Ends {@code "sections"} and opens the document's {@code "spaces"} array (a server's
         * export of a user, PROTOCOL.md 8.5): each space is then opened with {@link #space} and its
         * sections written as above. Readers ignore the member.
         */
        public void spaces() throws IOException {
            if (spaces != 0) {
                throw new IllegalStateException("spaces were already opened");
            }
            closeSection();
            gen.writeEndObject();
            gen.writeArrayFieldStart("spaces");
            spaces = 1;
        }

        /** Opens one space of {@code "spaces"}: {@code {"id":...,"name":...,"role":...,"sections":{}}}. */
        public void space(String id, String name, String role) throws IOException {
            if (spaces == 0) {
                throw new IllegalStateException("spaces() was not called");
            }
            closeSection();
            if (spaces == 2) {
                gen.writeEndObject();
                gen.writeEndObject();
            }
            gen.writeStartObject();
            gen.writeStringField("id", id);
            gen.writeStringField("name", name);
            gen.writeStringField("role", role);
            gen.writeObjectFieldStart("sections");
            spaces = 2;
        }

        /** Ends the document and flushes it. */
        public void finish() throws IOException {
            closeSection();
            if (spaces == 2) {
                gen.writeEndObject();
                gen.writeEndObject();
            }
            if (spaces != 0) {
                gen.writeEndArray();
            } else {
                gen.writeEndObject();
            }
            gen.writeEndObject();
            gen.flush();
            finished = true;
        }

        /** Whether {@link #finish} completed: false means the written bytes are a truncated document. */
        public boolean finished() {
            return finished;
        }

        private void closeStream() throws IOException {
            if (inStream) {
                CanonicalJson.endStream(gen);
                inStream = false;
            }
        }

        private void closeSection() throws IOException {
            closeStream();
            if (section != null) {
                CanonicalJson.endSection(gen);
                section = null;
            }
        }

        /** Releases the generator; an unfinished document stays unfinished (a reader refuses it as truncated). */
        @Override
        public void close() throws IOException {
            gen.close();
        }
    }

    /** The changes an export document holds; throws {@link MalformedDocumentException} for anything else. */
    public static List<Change> read(String document, Function<String, SectionKind> known) {
        if (document == null || document.isBlank()) {
            throw new MalformedDocumentException("import file is empty");
        }
        try (JsonParser parser = Json.checked(Json.MAPPER.createParser(document))) {
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
        try (JsonParser parser = Json.checked(Json.MAPPER.createParser(counted))) {
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

    /** A value of the file as canonical text; a number the number rule refuses makes the file invalid. */
    private static String writeValueNode(JsonNode value) {
        try {
            return Json.writeTree(value);
        } catch (IllegalArgumentException e) {
            throw new MalformedDocumentException("import file holds a value the server cannot keep exactly: " + e.getMessage());
        }
    }

    private static MalformedDocumentException notJson(IOException e) {
        if (e instanceof Json.InvalidNumberException) {
            return new MalformedDocumentException("import file holds a value the server cannot keep exactly: " + Json.describe(e), e);
        }
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
            out.add(new Change.Put(section, key, deleted ? null : writeValueNode(value), stamp));
            tick.run();
        }
    }

    private static void readLog(JsonParser p, String section, List<Change> out, Runnable tick) throws IOException {
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            // checked here: the empty name would turn a log watermark into a whole-map-section clear
            String stream = Names.checkKey(p.currentName(), "stream name");
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
                        out.add(new Change.Append(section, stream, writeValueNode(value), stamp(entry, where)));
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
