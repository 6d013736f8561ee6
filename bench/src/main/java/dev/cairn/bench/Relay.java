package dev.cairn.bench;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.ServerWebSocket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The W1 ceiling's server, started by the bench in its own JVM like the Cairn server: a bare
 * Vert.x WebSocket server (one event loop, as each Cairn session is on one) that relays every text
 * message it receives to every other open socket. Nothing is parsed, stored or checked. Prints
 * {@code Relay on http://localhost:PORT/} once it listens.
 */
public final class Relay {

    private Relay() {
    }

    public static void main(String[] args) {
        Vertx vertx = Vertx.vertx();
        Set<ServerWebSocket> sockets = ConcurrentHashMap.newKeySet();
        vertx.createHttpServer(new HttpServerOptions().setMaxWebSocketMessageSize(64 << 20).setMaxWebSocketFrameSize(1 << 20))
                .webSocketHandler(ws -> {
                    sockets.add(ws);
                    ws.closeHandler(v -> sockets.remove(ws));
                    ws.textMessageHandler(text -> {
                        for (ServerWebSocket other : sockets) {
                            if (other != ws) {
                                other.writeTextMessage(text);
                            }
                        }
                    });
                })
                .listen(0, "127.0.0.1")
                .onSuccess(server -> System.out.println("Relay on http://localhost:" + server.actualPort() + "/"))
                .onFailure(e -> {
                    e.printStackTrace();
                    System.exit(1);
                });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> vertx.close().await(), "relay-shutdown"));
    }
}
