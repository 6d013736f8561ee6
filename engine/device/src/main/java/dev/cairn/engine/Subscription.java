package dev.cairn.engine;

/** Returned by every subscribe call; closing it stops the notifications. Idempotent. */
@FunctionalInterface
public interface Subscription extends AutoCloseable {

    @Override
    void close();
}
