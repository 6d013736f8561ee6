package dev.cairn.engine.protocol;

/** WebSocket close codes of PROTOCOL.md section 2 that are Cairn's own (4000-4999, the application range). */
public final class CloseCodes {

    /**
     * The token the socket was opened with expired: the client connects again with a fresh token.
     * Not an error of the client's data; nothing in flight was lost (unacked batches are re-sent).
     */
    public static final int TOKEN_EXPIRED = 4401;

    private CloseCodes() {
    }
}
