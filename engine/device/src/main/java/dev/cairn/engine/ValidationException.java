package dev.cairn.engine;

/**
 * A value was refused before it was written, so the old value stays: a {@link StateOptions#validate}
 * validator refused it (or threw: then that is the cause), or JSON cannot carry it exactly (NaN, an
 * infinity, a number a double would change).
 */
public final class ValidationException extends IllegalArgumentException {

    /** @param message what was refused and why, for people */
    public ValidationException(String message) {
        super(message);
    }

    /**
     * @param message what was refused and why, for people
     * @param cause   the exception the validator threw
     */
    public ValidationException(String message, Throwable cause) {
        super(message, cause);
    }
}
