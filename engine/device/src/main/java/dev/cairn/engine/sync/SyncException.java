package dev.cairn.engine.sync;

/** Sync did not do what was asked: a {@link SyncClient#syncNow()} that could not finish, or a failed connection. */
public class SyncException extends RuntimeException {

    private final String code;

    /** A failure without a code or cause; {@code message} is for people. */
    public SyncException(String message) {
        this(null, message, null);
    }

    /** A failure without a code, caused by {@code cause}; {@code message} is for people. */
    public SyncException(String message, Throwable cause) {
        this(null, message, cause);
    }

    /** {@code code}: the reason, as in {@link SyncStatus#lastErrorCode()}; may be null. */
    public SyncException(String code, String message, Throwable cause) {
        super(message, cause);
        this.code = code;
    }

    /** The machine-readable reason (spec/vectors/sync/README.md "Error codes"), or null. */
    public String code() {
        return code;
    }
}
