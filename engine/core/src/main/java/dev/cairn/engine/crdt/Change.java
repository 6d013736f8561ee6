package dev.cairn.engine.crdt;

import dev.cairn.engine.clock.Stamp;
import java.util.Objects;

/**
 * One replicated operation on a section: what goes into the outbox, onto the wire, into export
 * files and into the shared test vectors. Applying a change is idempotent.
 */
public sealed interface Change permits Change.Put, Change.Append, Change.Clear {

    /** The name of the section the change applies to. */
    String section();

    /** The change's stamp: its identity, and what decides it against concurrent changes. */
    Stamp stamp();

    /** The map key or log stream the change touches ({@code ""} for a whole-section clear). */
    String target();

    /** The kind of section the change applies to. */
    SectionKind kind();

    /** Set a map key to a JSON value, or delete it ({@code value == null} writes a tombstone). */
    record Put(String section, String key, String value, Stamp stamp) implements Change {
        /**
         * Checks the parts: IllegalArgumentException for a section name, key or value that
         * {@link Names} refuses (the value may be null: a delete); NullPointerException for a null stamp.
         */
        public Put {
            Names.checkSection(section);
            Names.checkKey(key, "key");
            Names.checkValueDepth(value);
            Objects.requireNonNull(stamp, "stamp");
        }

        /** Whether this is a delete, which writes a tombstone. */
        public boolean isDelete() {
            return value == null;
        }

        /** The register this change writes: its value (null for a delete) and stamp. */
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
        /**
         * Checks the parts: IllegalArgumentException for a section name, stream name or value that
         * {@link Names} refuses; NullPointerException for a null value or stamp.
         */
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

        /**
         * Checks the parts: IllegalArgumentException for a section name that {@link Names} refuses or a
         * stream name that is neither {@link #WHOLE_SECTION} nor a valid key; NullPointerException for a null stamp.
         */
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
