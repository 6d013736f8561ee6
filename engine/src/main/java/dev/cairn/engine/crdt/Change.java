package dev.cairn.engine.crdt;

import dev.cairn.engine.clock.Stamp;
import java.util.Objects;

/**
 * One replicated operation on a section: what goes into the outbox, onto the wire, into export
 * files and into the shared test vectors. Applying a change is idempotent.
 */
public sealed interface Change permits Change.Put, Change.Append, Change.Clear {

    String section();

    Stamp stamp();

    /** The map key or log stream the change touches. */
    String target();

    /** Set a map key to a JSON value, or delete it ({@code value == null} writes a tombstone). */
    record Put(String section, String key, String value, Stamp stamp) implements Change {
        public Put {
            Names.checkSection(section);
            Names.checkKey(key, "key");
            Names.checkValueDepth(value);
            Objects.requireNonNull(stamp, "stamp");
        }

        public boolean isDelete() {
            return value == null;
        }

        public LwwEntry entry() {
            return new LwwEntry(value, stamp);
        }

        @Override
        public String target() {
            return key;
        }
    }

    /** Append an immutable JSON value to a log stream. */
    record Append(String section, String stream, String value, Stamp stamp) implements Change {
        public Append {
            Names.checkSection(section);
            Names.checkKey(stream, "stream");
            Names.checkValueDepth(Objects.requireNonNull(value, "value"));
            Objects.requireNonNull(stamp, "stamp");
        }

        @Override
        public String target() {
            return stream;
        }
    }

    /** Hide and purge every entry of a log stream stamped at or before {@code stamp}. */
    record Clear(String section, String stream, Stamp stamp) implements Change {
        public Clear {
            Names.checkSection(section);
            Names.checkKey(stream, "stream");
            Objects.requireNonNull(stamp, "stamp");
        }

        @Override
        public String target() {
            return stream;
        }
    }
}
