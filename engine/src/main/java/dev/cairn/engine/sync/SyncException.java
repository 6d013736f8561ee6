package dev.cairn.engine.sync;

/** Sync did not do what was asked: a {@link SyncClient#syncNow()} that could not finish, or a failed connection. */
public class SyncException extends RuntimeException {

    public SyncException(String message) {
        super(message);
    }

    public SyncException(String message, Throwable cause) {
        super(message, cause);
    }
}
