package dev.cairn.engine.sim;

import java.util.ArrayDeque;

/**
 * One WebSocket of the spaces simulation: two FIFO queues of encoded frames, TCP-like (nothing
 * lost, duplicated or reordered while it lives). A fault resets it: what is in flight both ways
 * is lost, so a lost ack means the batch is pushed again on the next connection.
 */
final class SpaceLink {

    final int id;
    final SpaceDevice device;
    final ArrayDeque<String> toServer = new ArrayDeque<>();
    final ArrayDeque<String> toClient = new ArrayDeque<>();
    boolean alive = true;
    SpaceServer.Session serverSession;
    /** The cuts (removal seqs) of the space-left frames the server sent on this link, per space in order, for the kept-copy check. */
    final java.util.Map<String, ArrayDeque<Long>> leftAt = new java.util.HashMap<>();

    SpaceLink(int id, SpaceDevice device) {
        this.id = id;
        this.device = device;
    }

    void toServer(String text) {
        if (alive) {
            toServer.addLast(text);
        }
    }

    void toClient(String text) {
        if (alive) {
            toClient.addLast(text);
        }
    }

    void reset() {
        alive = false;
        toServer.clear();
        toClient.clear();
    }
}
