package dev.cairn.server.session;

/** One socket's rate limits (PROTOCOL.md 2): frames and pushed changes per one-second window. */
final class FrameRate {

    private final int maxFramesPerSecond;
    private final int maxChangesPerSecond;
    private long windowStart = Long.MIN_VALUE / 2; // before any reading
    private int framesInWindow;
    private int changesInWindow;

    FrameRate(int maxFramesPerSecond, int maxChangesPerSecond) {
        this.maxFramesPerSecond = maxFramesPerSecond;
        this.maxChangesPerSecond = maxChangesPerSecond;
    }

    /** Counts a frame in the current one-second window; false once the window holds more than the limit. */
    boolean withinRate() {
        long now = dev.cairn.server.MonotonicMillis.now(); // a wall clock set back must not freeze the window
        if (now - windowStart >= 1000) {
            windowStart = now;
            framesInWindow = 0;
            changesInWindow = 0;
        }
        return ++framesInWindow <= maxFramesPerSecond;
    }

    /** Counts a push's changes in the current one-second window (the one {@link #withinRate} keeps); a refused batch does not count. */
    boolean changesWithinRate(int changes) {
        if (changesInWindow + changes > maxChangesPerSecond) {
            return false;
        }
        changesInWindow += changes;
        return true;
    }
}
