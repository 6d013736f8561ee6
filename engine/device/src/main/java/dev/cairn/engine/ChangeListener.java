package dev.cairn.engine;

/**
 * Told of every change that alters the visible state, local or remote, after it is in memory
 * (before it is necessarily durable). Called on the writing thread after the engine's write lock
 * is released: the app's thread for its own writes and imports, the sync client's
 * {@code cairn-sync} thread for remote changes; keep it short. An exception thrown here is
 * reported to the error listeners ({@link Cairn#onError}) and does not undo the change.
 */
@FunctionalInterface
public interface ChangeListener {

    /** Called once per change that altered the state; {@code event} is never null. */
    void onChange(ChangeEvent event);
}
