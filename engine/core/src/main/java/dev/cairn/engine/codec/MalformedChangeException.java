package dev.cairn.engine.codec;

/** A change (or a document of changes) that does not follow the declared JSON form. */
public final class MalformedChangeException extends IllegalArgumentException {

    /** @param message the problem, for people: e.g. "trailing content after the change" */
    public MalformedChangeException(String message) {
        super(message);
    }
}
