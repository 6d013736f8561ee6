package dev.cairn.engine.codec;

/** An export or sync document that is corrupt, foreign, or does not fit the known sections. */
public final class MalformedDocumentException extends IllegalArgumentException {

    public MalformedDocumentException(String message) {
        super(message);
    }

    public MalformedDocumentException(String message, Throwable cause) {
        super(message, cause);
    }
}
