package dev.cairn.engine.crdt;

/** The CRDT a section is made of. */
public enum SectionKind {
    /** {@link LwwMap}: key to value, last writer wins, deletes are tombstones. */
    MAP,
    /** {@link GrowOnlyLog}: append-only streams with a "cleared up to" watermark. */
    LOG;

    /** The kind's name on the wire and in files: {@code "map"} or {@code "log"}. */
    public String wireName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** The kind with that wire name; IllegalArgumentException for any other name. */
    public static SectionKind fromWire(String name) {
        for (SectionKind kind : values()) {
            if (kind.wireName().equals(name)) {
                return kind;
            }
        }
        throw new IllegalArgumentException("unknown section kind '" + name + "': expected 'map' or 'log'");
    }
}
