package dev.cairn.engine.protocol;

/**
 * A v2 page larger than the receiver's {@code maxFrameBytes}, on the wire or inflated
 * (PROTOCOL.md 7.4): answered as any frame over the limit, by closing the socket with 1009.
 * Thrown before anything of that size is allocated.
 */
public final class PageTooLargeException extends RuntimeException {

    private final long bytes;

    /**
     * An exception whose message names what was too large, its size and the limit.
     *
     * @param bytes the size the page has or claims
     * @param limit the receiver's limit, in bytes
     * @param what what was measured, e.g. "the inflated page"
     */
    public PageTooLargeException(long bytes, long limit, String what) {
        super(what + " is " + bytes + " bytes; the limit is " + limit);
        this.bytes = bytes;
    }

    /** The size the page has or claims. */
    public long bytes() {
        return bytes;
    }
}
