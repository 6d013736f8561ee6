package dev.cairn.server.store;

/** The store could not serve a request (database down, connection lost); the caller may retry. */
public final class StoreUnavailableException extends RuntimeException {

    public StoreUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
