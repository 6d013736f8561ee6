package dev.cairn.engine;

/**
 * Told of every change that alters the visible state, local or remote, after it is in memory
 * (before it is necessarily durable). Called on the writing thread; keep it short. An exception
 * thrown here is reported to the error listeners and does not undo the change.
 */
@FunctionalInterface
public interface ChangeListener {

    void onChange(ChangeEvent event);
}
