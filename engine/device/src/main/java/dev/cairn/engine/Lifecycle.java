package dev.cairn.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * What an engine does around its {@link Cairn#close()}: the sync clients attached to it are told
 * first (they stop before the engine's files close, instead of reconnecting to a closed engine),
 * and the opt-in shutdown hook ({@link Cairn.Builder#saveOnShutdown}) is registered and removed.
 */
final class Lifecycle {

    private final Consumer<Throwable> onError;
    private final List<Runnable> beforeClose = new ArrayList<>(); // guarded by this
    private boolean closing; // guarded by this
    private Thread shutdownHook; // guarded by this

    Lifecycle(Consumer<Throwable> onError) {
        this.onError = onError;
    }

    /**
     * Runs {@code listener} when the engine starts closing, before it stops saving; an
     * {@link IllegalStateException} if it is closing already.
     */
    synchronized Subscription beforeClose(Runnable listener) {
        if (closing) {
            throw new IllegalStateException("engine is closed");
        }
        beforeClose.add(listener);
        return () -> {
            synchronized (Lifecycle.this) {
                beforeClose.remove(listener);
            }
        };
    }

    /** Registers a JVM shutdown hook running {@code onExit} (on a thread named {@code cairn-shutdown-save}). */
    synchronized void addShutdownHook(Runnable onExit) {
        Thread hook = new Thread(onExit, "cairn-shutdown-save");
        Runtime.getRuntime().addShutdownHook(hook);
        shutdownHook = hook;
    }

    /**
     * Marks the engine closing, removes the shutdown hook (unless it is the one running) and runs
     * the before-close listeners, outside the lock. False if the engine was closing already.
     */
    boolean startClosing() {
        List<Runnable> listeners;
        Thread hook;
        synchronized (this) {
            if (closing) {
                return false;
            }
            closing = true;
            listeners = new ArrayList<>(beforeClose);
            beforeClose.clear();
            hook = shutdownHook;
            shutdownHook = null;
        }
        if (hook != null && hook != Thread.currentThread()) {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // the JVM is shutting down: the hook runs or has run, and closing twice is a no-op
            }
        }
        for (Runnable listener : listeners) {
            try {
                listener.run();
            } catch (RuntimeException e) {
                onError.accept(e);
            }
        }
        return true;
    }
}
