package dev.cairn.engine.sync;

/**
 * A connection to the sync endpoint could not be opened: the server is unreachable, or it
 * refused the WebSocket upgrade ({@link #httpStatus()}, e.g. 401 for a missing, expired or
 * invalid token).
 */
public final class SyncConnectException extends SyncException {

    private final int httpStatus;

    public SyncConnectException(String message, int httpStatus, Throwable cause) {
        super(message, cause);
        this.httpStatus = httpStatus;
    }

    /** The HTTP status the server refused the upgrade with, or 0 if it never answered. */
    public int httpStatus() {
        return httpStatus;
    }
}
