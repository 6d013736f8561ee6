package dev.cairn.engine.protocol;

/** Error codes of PROTOCOL.md section 3.5. */
public enum ErrorCode {
    /** Not JSON, not an object, an unknown type, or a missing, mistyped or unknown member; the socket stays open. */
    MALFORMED_FRAME("malformed-frame", false),
    /** A pushed change is malformed, breaks the number rule, or names an unknown section or the wrong kind. */
    INVALID_CHANGE("invalid-change", false),
    /** A stamp too far ahead of the server's clock: not applied, but not wrong either; retry later. */
    CLOCK_SKEW("clock-skew", false),
    /** A push with more than the welcome's {@code maxBatch} changes. */
    BATCH_TOO_LARGE("batch-too-large", false),
    /** A push before hello, or a second hello. */
    NOT_READY("not-ready", false),
    /** The server speaks none of the offered protocol versions; it closes the socket. */
    PROTOCOL_VERSION("protocol-version", true),
    /** Too many frames or changes per second on this socket: the frame was not applied; re-send it later. */
    RATE_LIMITED("rate-limited", false),
    /**
     * The batch would take the user's data on the server over their quota: nothing of it was
     * applied; keep the changes and retry later (after space is freed). Deletes are never refused.
     */
    QUOTA_EXCEEDED("quota-exceeded", false),
    /** The server's store failed: the batch was not acknowledged; re-send it later. */
    UNAVAILABLE("unavailable", false),
    /** The client did not read fast enough; the server closes the socket. */
    SLOW_CONSUMER("slow-consumer", true),
    /**
     * The user's role does not allow it (a viewer's space push, a change of {@code members} in a
     * space or of {@code spaces} in the user's state: PROTOCOL.md 8.2); nothing applied; do not retry.
     */
    FORBIDDEN("forbidden", false),
    /** The user is not a member of the space (never was, removed, or the space deleted: PROTOCOL.md 8.2); do not retry. */
    NOT_A_MEMBER("not-a-member", false);

    private final String wire;
    private final boolean closes;

    ErrorCode(String wire, boolean closes) {
        this.wire = wire;
        this.closes = closes;
    }

    /** The code's {@code "code"} member on the wire, e.g. {@code "rate-limited"}. */
    public String wire() {
        return wire;
    }

    /** True if the server closes the socket after sending this error. */
    public boolean closesSocket() {
        return closes;
    }

    /** Strict lookup: an unknown code is a {@link ProtocolException}. */
    public static ErrorCode fromWire(String wire) {
        for (ErrorCode c : values()) {
            if (c.wire.equals(wire)) {
                return c;
            }
        }
        throw new ProtocolException(MALFORMED_FRAME, "unknown error code '" + wire + "'");
    }
}
