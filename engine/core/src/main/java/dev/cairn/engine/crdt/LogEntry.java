package dev.cairn.engine.crdt;

import dev.cairn.engine.clock.Stamp;
import java.util.Objects;

/** One immutable entry of a {@link GrowOnlyLog} stream: its stamp is its identity and its order. */
public record LogEntry(String stream, Stamp stamp, String value) {

    /** NullPointerException if any part is null; {@code value} is compact JSON text. */
    public LogEntry {
        Objects.requireNonNull(stream, "stream");
        Objects.requireNonNull(stamp, "stamp");
        Objects.requireNonNull(value, "value");
    }
}
