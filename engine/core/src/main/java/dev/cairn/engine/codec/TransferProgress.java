package dev.cairn.engine.codec;

/**
 * Progress of a streamed export (entries written) or import (bytes read): {@code done} of
 * {@code total}, {@code total} -1 when unknown. Called on the thread doing the work, often: keep it cheap.
 */
@FunctionalInterface
public interface TransferProgress {

    TransferProgress NONE = (done, total) -> { };

    void update(long done, long total);
}
