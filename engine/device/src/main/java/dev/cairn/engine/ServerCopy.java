package dev.cairn.engine;

/**
 * What turning a section's sync off on one device ({@link Cairn#disableSync}) does to the copy
 * of that section the server already holds: the user's choice.
 */
public enum ServerCopy {
    /** The server keeps its copy (and the user's other devices keep syncing it); this device stops syncing the section. */
    KEEP,
    /**
     * The server's copy is cleared, with the same whole-section clear any device can send, so the
     * user's other devices apply it too and lose their copies of it; this device keeps its own copy
     * and stops syncing the section.
     */
    DELETE
}
