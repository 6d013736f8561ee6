package dev.cairn.engine.protocol;

/** A frame that breaks PROTOCOL.md; {@link #code()} is the error code to answer with. */
public final class ProtocolException extends RuntimeException {

    private final ErrorCode code;
    private final Long batch;

    /** An error that answers no particular push. */
    public ProtocolException(ErrorCode code, String message) {
        this(code, message, null);
    }

    /** @param batch the refused push's batch id when it could be read (a v2 page names it before its changes), else null */
    public ProtocolException(ErrorCode code, String message, Long batch) {
        super(message);
        this.code = code;
        this.batch = batch;
    }

    /** The batch the error answers, or null. */
    public Long batch() {
        return batch;
    }

    /** The error code to answer with; {@link ErrorCode#closesSocket()} says whether the socket closes after it. */
    public ErrorCode code() {
        return code;
    }
}
