package dev.cairn.server.fanout;

import io.vertx.core.Future;
import java.util.function.BiConsumer;

/** A single node (the embedded store): there is no one else to tell. */
public final class LocalFanout implements Fanout {

    @Override
    public Future<Void> start(BiConsumer<String, Long> remoteHead, Runnable resync) {
        return Future.succeededFuture();
    }

    @Override
    public void publish(String user, long head) {
    }

    @Override
    public Future<Void> close() {
        return Future.succeededFuture();
    }
}
