package dev.cairn.engine.protocol;

/** Every frame type of PROTOCOL.md section 3, with its wire name. */
public enum FrameType {
    /** Client to server, first: protocol version, replica id, cursor (3.1). */
    HELLO("hello"),
    /** Server to client, the answer to hello: the user, the head and the limits (3.1). */
    WELCOME("welcome"),
    /** Server to client: changes after the cursor, with their seqs (3.2). */
    CHANGES("changes"),
    /** Server to client: catch-up is complete; live changes follow (3.2). */
    CAUGHT_UP("caught-up"),
    /** Client to server: a batch of local changes (3.3). */
    PUSH("push"),
    /** Server to client: a pushed batch is durable (3.3). */
    ACK("ack"),
    /** Either side: a keepalive (3.4). */
    PING("ping"),
    /** Either side: the answer to a ping (3.4). */
    PONG("pong"),
    /** Either side: an error with its code (3.5). */
    ERROR("error"),
    /** Server to client: the user is no longer in a space (8.4). */
    SPACE_LEFT("space-left"),
    /** Either side: presence in a space (8.6). */
    PRESENCE("presence");

    private final String wire;

    FrameType(String wire) {
        this.wire = wire;
    }

    /** The frame's {@code "type"} member on the wire, e.g. {@code "caught-up"}. */
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
