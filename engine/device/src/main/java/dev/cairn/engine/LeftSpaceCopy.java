package dev.cairn.engine;

/**
 * What a device does with its copy of a space when the user leaves it, is removed from it, or it
 * is deleted (PROTOCOL.md 8.4). Either way the space's sync cursor is dropped, so a user added
 * again catches up from 0.
 */
public enum LeftSpaceCopy {
    /** Keep the local copy, read-only: the app can still show it ({@link Space#leftReason()} says why it ended). */
    KEEP,
    /** Close and delete the local copy. */
    DROP
}
