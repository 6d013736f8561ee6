package dev.cairn.engine.section;

import java.util.Locale;

/**
 * Which local tiers keep a value: the {@code persistTo} option, whose values are named after the
 * browser storage each stands for (React context, {@code sessionStorage}, {@code localStorage};
 * the browser client takes the same names). Every value is always in memory; this says where
 * else it goes. Syncing to the server is chosen separately ({@link StoragePolicy#sync()}).
 * ARCHITECTURE.md, "Tiers", describes the tiers.
 */
public enum PersistTo {
    /** Memory only: gone when the engine closes (a browser app's React-context state). */
    CONTEXT("context"),
    /** The session tier: kept while the engine is open, never written to disk. */
    SESSION_STORAGE("sessionStorage"),
    /**
     * The durable tier: the store in the data directory (a checksummed journal, compacted into
     * MapDB snapshots); a value survives restarts and crashes once its save completed.
     */
    LOCAL_STORAGE("localStorage"),
    /** Session and durable tiers. */
    ALL("all");

    private final String specName;

    PersistTo(String specName) {
        this.specName = specName;
    }

    /** Whether values go to the session tier (kept while the engine is open). */
    public boolean session() {
        return this == SESSION_STORAGE || this == ALL;
    }

    /** Whether values go to the durable tier (kept on disk across restarts). */
    public boolean durable() {
        return this == LOCAL_STORAGE || this == ALL;
    }

    /** The option's text spelling: context, sessionStorage, localStorage, all. */
    public String specName() {
        return specName;
    }

    /**
     * The value for a text spelling ({@link #specName()}) or, ignoring case, a constant's name;
     * IllegalArgumentException for anything else.
     */
    public static PersistTo fromSpecName(String name) {
        for (PersistTo p : values()) {
            if (p.specName.equals(name) || p.name().equals(name.toUpperCase(Locale.ROOT))) {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown persistTo '" + name + "': expected context, sessionStorage, localStorage or all");
    }
}
