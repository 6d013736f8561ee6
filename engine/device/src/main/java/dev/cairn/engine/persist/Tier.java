package dev.cairn.engine.persist;

/** The places a replica keeps state, as reported by {@code stats()}. */
public enum Tier {
    /** The in-process CRDT state every read comes from. */
    MEMORY,
    /** Kept while the engine is open, then dropped. */
    SESSION,
    /** The MapDB file (or an in-memory stand-in when the engine has no data directory). */
    DURABLE
}
