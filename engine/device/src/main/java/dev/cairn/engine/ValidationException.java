package dev.cairn.engine;

/** A validator refused a value; the old value stays. */
public final class ValidationException extends IllegalArgumentException {

    public ValidationException(String message) {
        super(message);
    }

    public ValidationException(String message, Throwable cause) {
        super(message, cause);
    }
}
