package dev.cairn.engine.sync;

/**
 * A connection to the sync endpoint could not be opened: the server is unreachable, or it
 * refused the WebSocket upgrade ({@link #httpStatus()}, e.g. 401 for a missing, expired or
 * invalid token; {@link #body()} what it answered).
 */
public final class SyncConnectException extends SyncException {

    private final int httpStatus;
    private final String body;

    /**
     * A failure without a response body.
     *
     * @param message    what failed, for people
     * @param httpStatus the status the upgrade was refused with, or 0 if the server never answered
     * @param cause      the transport's exception, or null
     */
    public SyncConnectException(String message, int httpStatus, Throwable cause) {
        this(message, httpStatus, null, cause);
    }

    /**
     * @param message    what failed, for people
     * @param httpStatus the status the upgrade was refused with, or 0 if the server never answered
     * @param body       what the server answered with the refusal, or null
     * @param cause      the transport's exception, or null
     */
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
