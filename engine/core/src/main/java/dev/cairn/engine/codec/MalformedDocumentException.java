package dev.cairn.engine.codec;

/** An export or sync document that is corrupt, foreign, or does not fit the known sections. */
public final class MalformedDocumentException extends IllegalArgumentException {

    /** @param message what is wrong and where in the document, for people */
    public MalformedDocumentException(String message) {
        super(message);
    }

    /**
     * @param message what is wrong and where in the document
     * @param cause the parser's or reader's exception behind it
     */
    public MalformedDocumentException(String message, Throwable cause) {
        super(message, cause);
    }
}
