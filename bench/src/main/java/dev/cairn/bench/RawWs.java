package dev.cairn.bench;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A bare JDK WebSocket (the engine's transport stack, without the engine) that hands whole text
 * messages to a callback, and the length of each binary one to another.
 */
final class RawWs implements AutoCloseable {

    private static final HttpClient HTTP = HttpClient.newHttpClient();

    final WebSocket ws;

    private RawWs(WebSocket ws) {
        this.ws = ws;
    }

    static RawWs connect(URI uri, String bearer, Consumer<String> onMessage) throws Exception {
        return connect(uri, bearer, onMessage, bytes -> { });
    }

    static RawWs connect(URI uri, String bearer, Consumer<String> onMessage, java.util.function.LongConsumer onBinaryBytes) throws Exception {
        WebSocket.Builder b = HTTP.newWebSocketBuilder();
        if (bearer != null) {
            b.header("Authorization", "Bearer " + bearer);
        }
        WebSocket ws = b.buildAsync(uri, new WebSocket.Listener() {
            private final StringBuilder part = new StringBuilder();

            @Override
            public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
                if (last && part.length() == 0) {
                    onMessage.accept(data.toString());
                } else {
                    part.append(data);
                    if (last) {
                        String whole = part.toString();
                        part.setLength(0);
                        onMessage.accept(whole);
                    }
                }
                webSocket.request(1);
                return null;
            }

            @Override
            public CompletionStage<?> onBinary(WebSocket webSocket, java.nio.ByteBuffer data, boolean last) {
                onBinaryBytes.accept(data.remaining());
                webSocket.request(1);
                return null;
            }
        }).get(30, TimeUnit.SECONDS);
        return new RawWs(ws);
    }

    CompletableFuture<WebSocket> send(String text) {
        return ws.sendText(text, true);
    }

    @Override
    public void close() {
        ws.abort();
    }
}
