package dev.cairn.engine.clock;

/** A remote stamp lies further ahead of the local wall clock than the configured bound allows. */
public final class ClockSkewException extends RuntimeException {

    private final long remoteMillis;
    private final long localMillis;

    /**
     * An exception whose message says how far ahead the stamp was and why it is refused.
     *
     * @param remoteMillis the refused stamp's wall time (ms since the epoch)
     * @param localMillis the local wall time when it was refused
     * @param boundMillis the bound it exceeded, for the message
     */
    public ClockSkewException(long remoteMillis, long localMillis, long boundMillis) {
        super("stamp is " + (remoteMillis - localMillis) + " ms ahead of the local clock (bound "
                + boundMillis + " ms): refusing it so one device with a broken clock cannot win forever");
        this.remoteMillis = remoteMillis;
        this.localMillis = localMillis;
    }

    /** The refused stamp's wall time, in milliseconds since the epoch. */
    public long remoteMillis() {
        return remoteMillis;
    }

    /** The local wall time, in milliseconds since the epoch, when the stamp was refused. */
    public long localMillis() {
        return localMillis;
    }
}
