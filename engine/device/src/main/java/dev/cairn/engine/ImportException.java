package dev.cairn.engine;

/** An import file is corrupt, foreign or does not fit this engine's sections; nothing was changed. */
public final class ImportException extends IllegalArgumentException {

    public ImportException(String message) {
        super(message);
    }

    public ImportException(String message, Throwable cause) {
        super(message, cause);
    }

    /** {@code change-too-large} if an entry could never be pushed, else {@code invalid-import}. */
    public String code() {
        return getCause() instanceof ChangeTooLargeException c ? c.code() : "invalid-import";
    }
}
