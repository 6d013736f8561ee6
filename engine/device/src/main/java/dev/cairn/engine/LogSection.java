package dev.cairn.engine;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.LogEntry;
import java.util.List;
import java.util.Set;

/**
 * Untyped access to one log section: named streams of immutable JSON entries, ordered by stamp.
 * Entries from every device are kept (a grow-only log); a clear hides what was written before it.
 * Stream names are 1-512 characters without control characters ({@link IllegalArgumentException}
 * otherwise). Writes throw {@link IllegalStateException} once the engine is closed. Thread-safe.
 */
public final class LogSection {

    private final Cairn engine;
    private final String section;

    LogSection(Cairn engine, String section) {
        this.engine = engine;
        this.section = section;
    }

    /** The section's name, as registered with the engine. */
    public String name() {
        return section;
    }

    /**
     * Appends any value the engine's {@link Cairn.Builder#objectMapper object mapper} can write;
     * returns the stored entry. {@link ValidationException} for a value it cannot write or JSON
     * cannot carry exactly.
     */
    public LogEntry append(String stream, Object value) {
        return append(stream, engine.values().write(value));
    }

    /** Appends one of the engine's own records (a chat message, a consent event): always the default encoding. */
    LogEntry appendRecord(String stream, Object value) {
        return append(stream, ValueMapper.DEFAULT.write(value));
    }

    private LogEntry append(String stream, String json) {
        var change = engine.writes.append(section, stream, json);
        return new LogEntry(stream, change.stamp(), json);
    }

    /** Visible entries of a stream, oldest first. */
    public List<LogEntry> entries(String stream) {
        return engine.state().log(section).entries(stream);
    }

    /** Up to {@code limit} entries before {@code before} (null: the newest), oldest first. */
    public List<LogEntry> page(String stream, Stamp before, int limit) {
        return engine.state().log(section).page(stream, before, limit);
    }

    /** How many visible entries the stream holds (0 for an unknown stream). */
    public int size(String stream) {
        return engine.state().log(section).size(stream);
    }

    /** Streams with visible entries or a watermark. */
    public Set<String> streams() {
        return engine.state().log(section).streams();
    }

    /** Hides every entry of the stream written so far, on every replica. */
    public void clear(String stream) {
        engine.clear(section, stream);
    }

    /** Clears every stream; returns how many. */
    public int clear() {
        return engine.clear(section);
    }
}
