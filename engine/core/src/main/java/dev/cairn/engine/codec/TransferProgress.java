package dev.cairn.engine.codec;

/**
 * Progress of a streamed export (entries written) or import (bytes read): {@code done} of
 * {@code total}, {@code total} -1 when unknown. Called on the thread doing the work, often: keep it cheap.
 */
@FunctionalInterface
public interface TransferProgress {

    /** Ignores every update. */
    TransferProgress NONE = (done, total) -> { };

    /**
     * Reports progress so far.
     *
     * @param done entries written or bytes read so far
     * @param total the total of the same unit, or -1 when unknown
     */
    void update(long done, long total);
}
