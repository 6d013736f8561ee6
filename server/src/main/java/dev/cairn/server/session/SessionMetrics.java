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
}
