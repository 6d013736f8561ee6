package dev.cairn.bench;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerOptions;

/**
 * The W5 floor's server, started by the bench in its own JVM like the Cairn server: a bare Vert.x
 * WebSocket server that accepts every socket and does nothing with it, with the HTTP options
 * Cairn's server uses (strict thread mode, idle timeout, TCP_NODELAY, frame limits), so the memory
 * an idle socket costs in Vert.x and Netty alone can be put beside Cairn's. Prints
 * {@code BareWs on http://localhost:PORT/} once it listens.
 */
public final class BareWs {

    private BareWs() {
    }

    public static void main(String[] args) {
        Vertx vertx = Vertx.vertx();
        vertx.createHttpServer(new HttpServerOptions()
                        .setMaxWebSocketFrameSize(1 << 20)
                        .setMaxWebSocketMessageSize(1 << 20)
                        .setIdleTimeout(120)
                        .setStrictThreadMode(true)
                        .setTcpNoDelay(true))
                .webSocketHandler(ws -> { })
                .listen(0, "127.0.0.1")
                .onSuccess(server -> System.out.println("BareWs on http://localhost:" + server.actualPort() + "/"))
                .onFailure(e -> {
                    e.printStackTrace();
                    System.exit(1);
                });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> vertx.close().await(), "bare-shutdown"));
    }
}
