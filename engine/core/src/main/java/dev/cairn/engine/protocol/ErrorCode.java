package dev.cairn.engine.protocol;

/** Error codes of PROTOCOL.md section 3.5. */
public enum ErrorCode {
    MALFORMED_FRAME("malformed-frame", false),
    INVALID_CHANGE("invalid-change", false),
    /** A stamp too far ahead of the server's clock: not applied, but not wrong either; retry later. */
    CLOCK_SKEW("clock-skew", false),
    BATCH_TOO_LARGE("batch-too-large", false),
    NOT_READY("not-ready", false),
    PROTOCOL_VERSION("protocol-version", true),
    RATE_LIMITED("rate-limited", false),
    /**
     * The batch would take the user's data on the server over their quota: nothing of it was
     * applied; keep the changes and retry later (after space is freed). Deletes are never refused.
     */
    QUOTA_EXCEEDED("quota-exceeded", false),
    UNAVAILABLE("unavailable", false),
    SLOW_CONSUMER("slow-consumer", true);

    private final String wire;
    private final boolean closes;

    ErrorCode(String wire, boolean closes) {
        this.wire = wire;
        this.closes = closes;
    }

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
