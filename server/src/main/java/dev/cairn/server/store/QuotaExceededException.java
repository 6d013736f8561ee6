package dev.cairn.server.store;

/**
 * A commit would have taken a user above their quota (issue 7, "Storage limits"); nothing of the
 * commit was kept. Carries the numbers for the client's error message.
 */
public final class QuotaExceededException extends RuntimeException {

    private final String user;
    private final long usedBytes;
    private final long wouldUseBytes;
    private final long quotaBytes;

    public QuotaExceededException(String user, long usedBytes, long wouldUseBytes, long quotaBytes) {
        super("storage quota exceeded: these changes would take the user's data on the server from " + usedBytes
                + " to " + wouldUseBytes + " bytes; the quota is " + quotaBytes
                + " bytes. Nothing was saved; delete or clear data to free space (deletes are always accepted)");
        this.user = user;
        this.usedBytes = usedBytes;
        this.wouldUseBytes = wouldUseBytes;
        this.quotaBytes = quotaBytes;
    }

    /** The user whose changes were refused. */
    public String user() {
        return user;
    }

    /** What the user holds now (before the refused changes). */
    public long usedBytes() {
        return usedBytes;
    }

    /** What the user would have held with the refused changes. */
    public long wouldUseBytes() {
        return wouldUseBytes;
    }

    public long quotaBytes() {
        return quotaBytes;
    }
}
