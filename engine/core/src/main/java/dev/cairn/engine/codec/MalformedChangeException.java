package dev.cairn.engine.codec;

/** A change (or a document of changes) that does not follow the declared JSON form. */
public final class MalformedChangeException extends IllegalArgumentException {

    public MalformedChangeException(String message) {
        super(message);
    }
}
