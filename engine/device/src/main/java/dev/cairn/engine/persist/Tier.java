package dev.cairn.engine.persist;

/** The places a replica keeps state, as reported by {@code stats()}. */
public enum Tier {
    /** The in-process CRDT state every read comes from. */
    MEMORY,
    /** Kept while the engine is open, then dropped. */
    SESSION,
    /**
     * The store in the data directory: checksummed journal segments compacted into MapDB
     * snapshots (or an in-memory stand-in when the engine was opened {@code inMemory()}).
     */
    DURABLE
}
