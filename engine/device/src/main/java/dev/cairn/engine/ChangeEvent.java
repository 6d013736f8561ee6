package dev.cairn.engine;

import dev.cairn.engine.crdt.Change;

/**
 * A change that altered the visible state, and where it came from: what a {@link ChangeListener}
 * receives. A change that lost to a newer one (and so altered nothing) produces no event.
 *
 * @param change the change as applied (a map put or delete, a log append, or a clear)
 * @param origin where it came from
 */
public record ChangeEvent(Change change, Origin origin) {

    /** Where a change came from. */
    public enum Origin {
        /** Written through this engine's API. */
        LOCAL,
        /** Received from another replica (the sync client). */
        REMOTE,
        /** Merged from an export file. */
        IMPORT
    }

    /** The section the change belongs to. */
    public String section() {
        return change.section();
    }

    /** The map key or log stream. */
    public String target() {
        return change.target();
    }

    /** Whether the change came from another replica through sync ({@link Origin#REMOTE}). */
    public boolean isRemote() {
        return origin == Origin.REMOTE;
    }
}
