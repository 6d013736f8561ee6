package dev.cairn.engine.crdt;

/** A change or a file names a section this replica does not know, or uses it as the wrong kind. */
public final class UnknownSectionException extends IllegalArgumentException {

    /** @param message which section and what is wrong with it, for people */
    public UnknownSectionException(String message) {
        super(message);
    }
}
