package dev.cairn.engine.store;

/** The local store cannot be opened, read or written; the message says which file and why. */
public final class StoreException extends RuntimeException {

    /** @param message which file and what went wrong, for people */
    public StoreException(String message) {
        super(message);
    }

    /**
     * @param message which file and what went wrong, for people
     * @param cause the exception behind it, usually an IOException
     */
    public StoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
