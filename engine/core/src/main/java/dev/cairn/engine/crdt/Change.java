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

    /** The map key or log stream the change touches ({@code ""} for a whole-section clear). */
    String target();

    /** The kind of section the change applies to. */
    SectionKind kind();

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
        public SectionKind kind() {
            return SectionKind.MAP;
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

        @Override
        public SectionKind kind() {
            return SectionKind.LOG;
        }
    }

    /**
     * Hide and purge every entry stamped at or before {@code stamp}: of one log stream, or, with
     * {@code stream} {@link #WHOLE_SECTION}, of a whole map section (values and tombstones). The
     * watermark it sets is a max register; writes arriving later with a stamp at or below it are
     * dropped, so a replica that was offline with older data cannot bring it back.
     */
    record Clear(String section, String stream, Stamp stamp) implements Change {

        /**
         * The stream name of a whole-map-section clear. Real stream names are 1-512 characters,
         * so the empty name can never collide with one; on the wire the clear has no "stream".
         */
        public static final String WHOLE_SECTION = "";

        public Clear {
            Names.checkSection(section);
            if (!WHOLE_SECTION.equals(stream)) {
                Names.checkKey(stream, "stream");
            }
            Objects.requireNonNull(stamp, "stamp");
        }

        /** Clears a whole map section up to {@code stamp}. */
        public static Clear wholeSection(String section, Stamp stamp) {
            return new Clear(section, WHOLE_SECTION, stamp);
        }

        /** True for a map section's clear, false for a log stream's. */
        public boolean isWholeSection() {
            return stream.isEmpty();
        }

        @Override
        public String target() {
            return stream;
        }

        @Override
        public SectionKind kind() {
            return isWholeSection() ? SectionKind.MAP : SectionKind.LOG;
        }
    }
}
