package dev.cairn.engine.protocol;

/** Every frame type of PROTOCOL.md section 3, with its wire name. */
public enum FrameType {
    HELLO("hello"),
    WELCOME("welcome"),
    CHANGES("changes"),
    CAUGHT_UP("caught-up"),
    PUSH("push"),
    ACK("ack"),
    PING("ping"),
    PONG("pong"),
    ERROR("error");

    private final String wire;

    FrameType(String wire) {
        this.wire = wire;
    }

    public String wire() {
        return wire;
    }

    /** Strict lookup: an unknown type is a {@code malformed-frame} {@link ProtocolException}. */
    public static FrameType fromWire(String wire) {
        for (FrameType t : values()) {
            if (t.wire.equals(wire)) {
                return t;
            }
        }
        throw new ProtocolException(ErrorCode.MALFORMED_FRAME, "unknown frame type '" + wire + "'");
    }
}
