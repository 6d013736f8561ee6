package dev.cairn.engine.clock;

/** A remote stamp lies further ahead of the local wall clock than the configured bound allows. */
public final class ClockSkewException extends RuntimeException {

    private final long remoteMillis;
    private final long localMillis;

    public ClockSkewException(long remoteMillis, long localMillis, long boundMillis) {
        super("stamp is " + (remoteMillis - localMillis) + " ms ahead of the local clock (bound "
                + boundMillis + " ms): refusing it so one device with a broken clock cannot win forever");
        this.remoteMillis = remoteMillis;
        this.localMillis = localMillis;
    }

    public long remoteMillis() {
        return remoteMillis;
    }

    public long localMillis() {
        return localMillis;
    }
}
