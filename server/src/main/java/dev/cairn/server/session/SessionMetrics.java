package dev.cairn.server.session;

/** What sessions report to /metrics. */
public interface SessionMetrics {

    void sessionOpened();

    void sessionClosed();

    void frameIn();

    void frameOut();

    void changesIn(int count);

    void rejectedBatch();

    void errorSent(String code);

    /** A catch-up page of {@code changes} read from the store for a session. */
    void catchUpPage(int changes);

    /** A commit reached the sessions of one event loop, {@code nanos} after the commit completed. */
    void fanOut(long nanos);
}
