package dev.cairn.server.presence;

import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.FrameCodec;

/**
 * One replica's presence in a space as the server sends it (PROTOCOL.md 8.6), encoded once for
 * every session it goes to. {@code origin} is the session that set it: it never gets it back.
 */
public record PresenceUpdate(Frame.Presence frame, String text, Object origin) {

    /** The update of {@code frame}, encoded now. */
    public static PresenceUpdate of(Frame.Presence frame, Object origin) {
        return new PresenceUpdate(frame, FrameCodec.encode(frame), origin);
    }

    /** The space it is about. */
    public String space() {
        return frame.space();
    }
}
