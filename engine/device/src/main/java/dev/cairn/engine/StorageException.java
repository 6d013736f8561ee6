package dev.cairn.engine;

import dev.cairn.engine.store.StoreException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * The engine's local storage cannot be opened, read or written: the data directory is locked by
 * another engine or belongs to another replica, a file is damaged, the disk refused a write. The
 * message says which file and why; the cause is the storage layer's own exception. Thrown by
 * {@link Cairn.Builder#open()} and {@link Cairn#close()}, given to the futures of the save methods
 * when a save fails, and to {@link Cairn#onError} listeners when a background save fails.
 */
public final class StorageException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** @param message which file or directory and what went wrong, for people */
    public StorageException(String message) {
        super(message);
    }

    /**
     * @param message which file or directory and what went wrong, for people
     * @param cause   the exception behind it (the store's, or an {@link java.io.IOException})
     */
    public StorageException(String message, Throwable cause) {
        super(message, cause);
    }

    /** The store's exception as this one (same message, the store's as cause); any other as it is. */
    static RuntimeException of(RuntimeException e) {
        return e instanceof StoreException ? new StorageException(e.getMessage(), e) : e;
    }

    /** {@link #of(RuntimeException)} for what a future failed with, unwrapping a {@link CompletionException}. */
    static Throwable of(Throwable e) {
        Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
        return cause instanceof StoreException store ? of(store) : e;
    }

    /** {@code future}, failing with a {@link StorageException} where it fails with the store's exception. */
    static CompletableFuture<Void> translated(CompletableFuture<Void> future) {
        CompletableFuture<Void> out = new CompletableFuture<>();
        future.whenComplete((v, e) -> {
            if (e == null) {
                out.complete(v);
            } else {
                out.completeExceptionally(of(e));
            }
        });
        return out;
    }
}
