package dev.cairn.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * Who hears what the engine does: change listeners, told after the write lock is released, and
 * error listeners, told of failures no caller is waiting for (logged when nobody listens).
 */
final class Listeners {

    /** Under Cairn's name: its onError Javadoc names this logger. */
    private static final System.Logger LOG = System.getLogger(Cairn.class.getName());

    private final ReentrantLock writeLock;
    private final CopyOnWriteArrayList<ChangeListener> listeners = new CopyOnWriteArrayList<>();
    private final CopyOnWriteArrayList<Consumer<Throwable>> errorListeners = new CopyOnWriteArrayList<>();

    /** Events produced under the write lock, fired after it is released (same thread). */
    private final ThreadLocal<List<ChangeEvent>> queuedEvents = ThreadLocal.withInitial(ArrayList::new);

    /** Listeners of the engine whose write lock is {@code writeLock}. */
    Listeners(ReentrantLock writeLock) {
        this.writeLock = writeLock;
    }

    Subscription onChange(ChangeListener listener) {
        Objects.requireNonNull(listener, "listener");
        listeners.add(listener);
        return () -> listeners.remove(listener);
    }

    Subscription onError(Consumer<Throwable> listener) {
        Objects.requireNonNull(listener, "listener");
        errorListeners.add(listener);
        return () -> errorListeners.remove(listener);
    }

    /** This thread's events queued under the write lock, to add to. */
    List<ChangeEvent> queued() {
        return queuedEvents.get();
    }

    List<ChangeEvent> drainEvents() {
        if (writeLock.getHoldCount() > 1) {
            return List.of(); // nested: the outermost call fires
        }
        List<ChangeEvent> queued = queuedEvents.get();
        if (queued.isEmpty()) {
            return List.of();
        }
        List<ChangeEvent> events = new ArrayList<>(queued);
        queued.clear();
        return events;
    }

    void fire(List<ChangeEvent> events) {
        for (ChangeEvent event : events) {
            for (ChangeListener listener : listeners) {
                try {
                    listener.onChange(event);
                } catch (RuntimeException e) {
                    listenerFailed(e);
                }
            }
        }
    }

    /** A background failure (a save, a before-close step): to the onError listeners, or logged if there are none. */
    void reportError(Throwable error) {
        Throwable reported = StorageException.of(error);
        if (errorListeners.isEmpty()) {
            LOG.log(System.Logger.Level.WARNING, "cairn: " + reported.getMessage());
        }
        tellErrorListeners(reported);
    }

    /**
     * A change listener threw: a bug in the app, so it is logged with its stack trace whether or
     * not onError listeners hear it too; the other listeners still run.
     */
    private void listenerFailed(RuntimeException error) {
        LOG.log(System.Logger.Level.WARNING, "cairn: a change listener failed: " + error, error);
        tellErrorListeners(error);
    }

    private void tellErrorListeners(Throwable error) {
        for (Consumer<Throwable> l : errorListeners) {
            try {
                l.accept(error);
            } catch (RuntimeException e) {
                // logged, and it must not hide the next one
                LOG.log(System.Logger.Level.WARNING, "cairn: an error listener failed: " + e, e);
            }
        }
    }
}
