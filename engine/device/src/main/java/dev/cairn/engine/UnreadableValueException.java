package dev.cairn.engine;

/**
 * Reported to {@link Cairn#onError} when a {@link PersistentState} cannot read its stored value: it
 * does not map to the handle's type, or its {@link Migration} threw (then that is the cause). The
 * handle returns its default value meanwhile; the stored entries stay untouched until the app
 * writes. Reported once per distinct stored state.
 */
public final class UnreadableValueException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final String key;

    /**
     * @param key     the handle's section and key, {@code section/key}
     * @param message why the value does not read, for people
     * @param cause   the mapper's or the migration's exception
     */
    public UnreadableValueException(String key, String message, Throwable cause) {
        super(message, cause);
        this.key = key;
    }

    /** The handle's section and key, {@code section/key}. */
    public String key() {
        return key;
    }
}
