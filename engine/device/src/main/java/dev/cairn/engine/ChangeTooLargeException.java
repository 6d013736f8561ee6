package dev.cairn.engine;

/**
 * A write (or an imported entry) whose push frame alone would exceed the engine's
 * {@code maxFrameBytes}: no server could ever accept it, so it is refused before it changes
 * anything rather than block the outbox.
 */
public final class ChangeTooLargeException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    /** The code of spec/vectors/sync/README.md. */
    public static final String CODE = "change-too-large";

    private final long frameBytes;
    private final long maxFrameBytes;

    /**
     * @param message       which change, how large, and that nothing was written, for people
     * @param frameBytes    the UTF-8 bytes of the push frame that would carry the change alone
     * @param maxFrameBytes the limit it exceeds, in bytes
     */
    public ChangeTooLargeException(String message, long frameBytes, long maxFrameBytes) {
        super(message);
        this.frameBytes = frameBytes;
        this.maxFrameBytes = maxFrameBytes;
    }

    /** Always {@link #CODE}; an import refused for this reports it too ({@link ImportException#code()}). */
    public String code() {
        return CODE;
    }

    /** The UTF-8 bytes of the push frame that would carry the change alone. */
    public long frameBytes() {
        return frameBytes;
    }

    /**
     * The limit the frame exceeds, in bytes: the builder's {@code maxFrameBytes}, or the connected
     * server's {@code welcome.maxFrameBytes} once one was received.
     */
    public long maxFrameBytes() {
        return maxFrameBytes;
    }
}
