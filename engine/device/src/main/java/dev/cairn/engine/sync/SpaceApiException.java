package dev.cairn.engine.sync;

import java.io.IOException;

/**
 * The server refused a spaces HTTP call ({@link SpacesClient}) with PROTOCOL.md's error shape:
 * e.g. 403 {@code forbidden} (the role does not allow it), 403 {@code not-a-member}, 404
 * {@code invalid-invitation}, 400 {@code bad-request}.
 */
public final class SpaceApiException extends IOException {

    private static final long serialVersionUID = 1L;

    private final int httpStatus;
    private final String code;

    /**
     * @param httpStatus the HTTP status of the answer
     * @param code       the answer's {@code error} code, or {@code http-<status>} if it had none
     * @param message    what failed, for people
     */
    public SpaceApiException(int httpStatus, String code, String message) {
        super(message);
        this.httpStatus = httpStatus;
        this.code = code;
    }

    /** The HTTP status of the answer. */
    public int httpStatus() {
        return httpStatus;
    }

    /** The answer's {@code error} code (PROTOCOL.md 8.5), e.g. {@code forbidden}. */
    public String code() {
        return code;
    }
}
