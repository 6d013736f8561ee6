package dev.cairn.engine.section;

import java.util.Locale;

/**
 * Which local tiers keep a value, named as in the original spec's {@code persistTo} option.
 * Every value is always in memory; this says where else it goes. Syncing to the server is
 * chosen separately ({@link StoragePolicy#sync()}).
 */
public enum PersistTo {
    /** Memory only: gone when the engine closes (the spec's React-context storage). */
    CONTEXT("context"),
    /** The session tier: kept while the engine is open, never written to disk. */
    SESSION_STORAGE("sessionStorage"),
    /** The durable tier: the MapDB file, survives restarts and crashes after save. */
    LOCAL_STORAGE("localStorage"),
    /** Session and durable tiers. */
    ALL("all");

    private final String specName;

    PersistTo(String specName) {
        this.specName = specName;
    }

    public boolean session() {
        return this == SESSION_STORAGE || this == ALL;
    }

    public boolean durable() {
        return this == LOCAL_STORAGE || this == ALL;
    }

    /** The original spec's spelling: context, sessionStorage, localStorage, all. */
    public String specName() {
        return specName;
    }

    public static PersistTo fromSpecName(String name) {
        for (PersistTo p : values()) {
            if (p.specName.equals(name) || p.name().equals(name.toUpperCase(Locale.ROOT))) {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown persistTo '" + name + "': expected context, sessionStorage, localStorage or all");
    }
}
