package dev.cairn.server.fanout;

import io.vertx.core.Future;
import java.util.function.BiConsumer;

/**
 * Tells other server nodes that a user's head moved, and this node when others' did. Only heads
 * travel; a node that hears of one reads what its sessions have not seen from the shared store.
 */
public interface Fanout {

    /** Starts listening; {@code remoteHead} is called on the event loop for other nodes' commits. */
    Future<Void> start(BiConsumer<String, Long> remoteHead, Runnable resync);

    /** This node committed: the user's head is now {@code head}. Cheap; may be coalesced. */
    void publish(String user, long head);

    /**
     * False while this node cannot hear other nodes' commits (its LISTEN connection is down and
     * being re-opened): its sessions would miss them until it is back (/health/ready).
     */
    default boolean listening() {
        return true;
    }

    Future<Void> close();
}
