package dev.cairn.engine;

/** An import file is corrupt, foreign or does not fit this engine's sections; nothing was changed. */
public final class ImportException extends IllegalArgumentException {

    /** @param message what is wrong with the file, for people */
    public ImportException(String message) {
        super(message);
    }

    /**
     * @param message what is wrong with the file, for people
     * @param cause   the parse or check failure behind it (a {@link ChangeTooLargeException} sets {@link #code()})
     */
    public ImportException(String message, Throwable cause) {
        super(message, cause);
    }

    /** {@code change-too-large} if an entry could never be pushed, else {@code invalid-import}. */
    public String code() {
        return getCause() instanceof ChangeTooLargeException c ? c.code() : "invalid-import";
    }
}
