package dev.cairn.engine.sync;

/**
 * A connection to the sync endpoint could not be opened: the server is unreachable, or it
 * refused the WebSocket upgrade ({@link #httpStatus()}, e.g. 401 for a missing, expired or
 * invalid token; {@link #body()} what it answered).
 */
public final class SyncConnectException extends SyncException {

    private final int httpStatus;
    private final String body;

    public SyncConnectException(String message, int httpStatus, Throwable cause) {
        this(message, httpStatus, null, cause);
    }

    public SyncConnectException(String message, int httpStatus, String body, Throwable cause) {
        super(null, message, cause);
        this.httpStatus = httpStatus;
        this.body = body;
    }

    /** The HTTP status the server refused the upgrade with, or 0 if it never answered. */
    public int httpStatus() {
        return httpStatus;
    }

    /** The body of the refusal (an error object, or an HTML page from something else), or null. */
    public String body() {
        return body;
    }
}
