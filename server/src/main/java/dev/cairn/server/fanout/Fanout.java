package dev.cairn.server.fanout;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.util.function.BiConsumer;

/**
 * Tells other server nodes that a user's (or a space's) head moved, and this node when others' did.
 * Only heads travel, and presence, which is never stored; a node that hears of a head reads what
 * its sessions have not seen from the shared store.
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

    /**
     * Tells the other nodes of a presence change made here (PROTOCOL.md 8.6): one replica's state
     * in a space ({@code PresenceBoard} writes the item), or its refresh. Ephemeral: may be dropped
     * while the connection is down. Called on the home context. Default: nobody to tell.
     */
    default void publishPresence(JsonObject item) {
    }

    /** Other nodes' presence changes go to {@code remote} (their node id and the item), on the home context. */
    default void onPresence(BiConsumer<String, JsonObject> remote) {
    }

    Future<Void> close();
}
