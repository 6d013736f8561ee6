package dev.cairn.engine.codec;

import com.fasterxml.jackson.core.JsonGenerator;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.GrowOnlyLog;
import dev.cairn.engine.crdt.LogEntry;
import dev.cairn.engine.crdt.LwwEntry;
import dev.cairn.engine.crdt.LwwMap;
import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.engine.crdt.SectionKind;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.Collection;
import java.util.Map;

/**
 * The canonical encoding of a {@link ReplicaState}: sections, keys and streams sorted, tombstones
 * and watermarks included, so two replicas have converged exactly when their encodings are
 * byte-identical. Export files use the same shape under {@code "sections"}.
 *
 * <pre>
 * {"cards":{"kind":"map","clearedUpTo":"...","entries":{"card-a/isExpanded":{"stamp":"...","value":true},
 *                                    "card-b/isVisible":{"stamp":"...","deleted":true}}},
 *  "chat":{"kind":"log","streams":{"conv-1":{"clearedUpTo":"...","entries":[{"stamp":"...","value":{...}}]}}}}
 * </pre>
 * {@code clearedUpTo} is present only for a map or stream that was cleared.
 */
public final class CanonicalJson {

    private CanonicalJson() {
    }

    /** Every section that holds anything. */
    public static String encode(ReplicaState state) {
        return encode(state, state.sections().keySet());
    }

    /** The named sections, in sorted order; a section with nothing in it encodes as empty. */
    public static String encode(ReplicaState state, Collection<String> sections) {
        StringWriter out = new StringWriter();
        try (JsonGenerator gen = Json.FACTORY.createGenerator(out)) {
            writeSections(gen, state, sections);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }

    /** Writes the named sections' object (as {@link #encode(ReplicaState, Collection)} spells it) to {@code gen}. */
    public static void writeSections(JsonGenerator gen, ReplicaState state, Collection<String> sections) throws IOException {
        writeSections(gen, state, sections, TransferProgress.NONE);
    }

    /** As above, reporting entries written (of the total) to {@code progress} as it goes. */
    static void writeSections(JsonGenerator gen, ReplicaState state, Collection<String> sections, TransferProgress progress)
            throws IOException {
        long counted = 0;
        for (String section : sections) {
            SectionKind kind = state.kind(section);
            if (kind == SectionKind.MAP) {
                counted += state.map(section).size();
            } else if (kind == SectionKind.LOG) {
                for (String stream : state.log(section).streams()) {
                    counted += state.log(section).size(stream);
                }
            }
        }
        long total = counted;
        long[] done = {0};
        Runnable tick = () -> progress.update(++done[0], total);
        gen.writeStartObject();
        for (String section : new java.util.TreeSet<>(sections)) {
            SectionKind kind = state.kind(section);
            if (kind == null) {
                continue;
            }
            gen.writeFieldName(section);
            if (kind == SectionKind.MAP) {
                writeMap(gen, state.map(section), tick);
            } else {
                writeLog(gen, state.log(section), tick);
            }
        }
        gen.writeEndObject();
    }

    private static void writeMap(JsonGenerator gen, LwwMap map, Runnable tick) throws IOException {
        startMap(gen, map.watermark());
        for (Map.Entry<String, LwwEntry> e : map.sorted().entrySet()) {
            writeMapEntry(gen, e.getKey(), e.getValue());
            tick.run();
        }
        endSection(gen);
    }

    // The pieces below are the only code that writes a section's shape; ExportDocument.StreamWriter
    // (the server's streamed export) uses them too, so both give the same bytes for the same state.

    /** Opens a map section; {@code mark} is its whole-section clear watermark or null. */
    static void startMap(JsonGenerator gen, Stamp mark) throws IOException {
        gen.writeStartObject();
        gen.writeStringField("kind", "map");
        if (mark != null) {
            gen.writeStringField("clearedUpTo", mark.toString());
        }
        gen.writeObjectFieldStart("entries");
    }

    static void writeMapEntry(JsonGenerator gen, String key, LwwEntry entry) throws IOException {
        gen.writeObjectFieldStart(key);
        gen.writeStringField("stamp", entry.stamp().toString());
        if (entry.isTombstone()) {
            gen.writeBooleanField("deleted", true);
        } else {
            gen.writeFieldName("value");
            gen.writeRawValue(entry.value());
        }
        gen.writeEndObject();
    }

    /** Closes a map's "entries" or a log's "streams", then the section. */
    static void endSection(JsonGenerator gen) throws IOException {
        gen.writeEndObject();
        gen.writeEndObject();
    }

    static void startLog(JsonGenerator gen) throws IOException {
        gen.writeStartObject();
        gen.writeStringField("kind", "log");
        gen.writeObjectFieldStart("streams");
    }

    static void startStream(JsonGenerator gen, String stream, Stamp mark) throws IOException {
        gen.writeObjectFieldStart(stream);
        if (mark != null) {
            gen.writeStringField("clearedUpTo", mark.toString());
        }
        gen.writeArrayFieldStart("entries");
    }

    static void writeLogEntry(JsonGenerator gen, Stamp stamp, String value) throws IOException {
        gen.writeStartObject();
        gen.writeStringField("stamp", stamp.toString());
        gen.writeFieldName("value");
        gen.writeRawValue(value);
        gen.writeEndObject();
    }

    static void endStream(JsonGenerator gen) throws IOException {
        gen.writeEndArray();
        gen.writeEndObject();
    }

    private static void writeLog(JsonGenerator gen, GrowOnlyLog log, Runnable tick) throws IOException {
        startLog(gen);
        for (String stream : log.streams()) {
            startStream(gen, stream, log.watermark(stream));
            for (LogEntry entry : log.entries(stream)) {
                writeLogEntry(gen, entry.stamp(), entry.value());
                tick.run();
            }
            endStream(gen);
        }
        endSection(gen);
    }
}
