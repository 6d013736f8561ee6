package dev.cairn.engine.sim;

import java.util.ArrayDeque;

/**
 * One WebSocket between a device and the server: two FIFO queues of encoded frames. On a live
 * connection frames are never lost, duplicated or reordered (TCP). Faults end a connection in
 * one of three ways (see {@link Cut}); every drop or reorder the simulator injects is one of these.
 */
final class Connection {

    /** How a connection dies. */
    enum Cut {
        /** Reset: everything in flight both ways is lost (a message drop, a cable pulled, a server restart). */
        RESET,
        /**
         * The client gave up (timeout) but its last frames still reach the server, which processes them
         * after the client's next connection started: pushes of two connections reordered at the server;
         * their acks go nowhere, so the batches are sent again (duplicates).
         */
        LATE_PUSHES,
        /**
         * The server side is gone but frames it already wrote still reach the client after it reconnected:
         * stale pages and acks of a dead session, which the client must ignore.
         */
        STALE_FRAMES
    }

    final int id;
    final SimDevice device;
    final ArrayDeque<String> toServer = new ArrayDeque<>();
    final ArrayDeque<String> toClient = new ArrayDeque<>();
    /** The client still uses this connection. */
    boolean clientAlive = true;
    /** The server still reads from this connection. */
    boolean serverAlive = true;
    /** The server still writes to this connection (false once the client cannot receive any more). */
    boolean toClientOpen = true;
    ServerModel.ServerSession serverSession;
    SimDevice.ClientSession clientSession;

    Connection(int id, SimDevice device) {
        this.id = id;
        this.device = device;
    }

    void toServer(String text) {
        if (clientAlive) {
            toServer.addLast(text);
        }
    }

    void toClient(String text) {
        if (toClientOpen) {
            toClient.addLast(text);
        }
    }

    boolean hasWork() {
        return (serverAlive && !toServer.isEmpty()) || !toClient.isEmpty();
    }

    boolean finished() {
        return !clientAlive && !serverAlive && toClient.isEmpty();
    }
}
