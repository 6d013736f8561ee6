package dev.cairn.engine.protocol;

/** A frame that breaks PROTOCOL.md; {@link #code()} is the error code to answer with. */
public final class ProtocolException extends RuntimeException {

    private final ErrorCode code;

    public ProtocolException(ErrorCode code, String message) {
        super(message);
        this.code = code;
    }

    public ErrorCode code() {
        return code;
    }
}
