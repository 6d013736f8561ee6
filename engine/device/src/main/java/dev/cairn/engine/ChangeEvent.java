package dev.cairn.engine;

import dev.cairn.engine.crdt.Change;

/** A change that altered the visible state, and where it came from. */
public record ChangeEvent(Change change, Origin origin) {

    public enum Origin {
        /** Written through this engine's API. */
        LOCAL,
        /** Received from another replica (the sync client). */
        REMOTE,
        /** Merged from an export file. */
        IMPORT
    }

    public String section() {
        return change.section();
    }

    /** The map key or log stream. */
    public String target() {
        return change.target();
    }

    public boolean isRemote() {
        return origin == Origin.REMOTE;
    }
}
