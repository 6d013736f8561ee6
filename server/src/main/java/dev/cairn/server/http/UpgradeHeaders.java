package dev.cairn.server.http;

import io.vertx.core.MultiMap;
import io.vertx.core.http.ServerWebSocket;
import java.lang.reflect.Method;
import org.slf4j.LoggerFactory;

/**
 * Drops the upgrade request's headers that Vert.x keeps on every server WebSocket for
 * {@link ServerWebSocket#headers()} (13 headers of a browser's upgrade, about 1.2 KB per socket for
 * its whole life, W5 heap histogram in BENCHMARKS.md). Cairn reads them only before the upgrade
 * (token, origin), so after it they are dead weight. Vert.x has no public way to let go of them:
 * this calls its package-private setter; where that is not reachable (a module path that does not
 * open Vert.x), nothing is dropped and nothing else changes.
 */
public final class UpgradeHeaders {

    private static final Method SETTER = setter();

    private UpgradeHeaders() {
    }

    private static Method setter() {
        try {
            Method m = Class.forName("io.vertx.core.http.impl.WebSocketImplBase").getDeclaredMethod("headers", MultiMap.class);
            m.setAccessible(true);
            return m;
        } catch (ReflectiveOperationException | RuntimeException e) {
            LoggerFactory.getLogger(UpgradeHeaders.class).debug("upgrade headers are kept per socket: {}", e.toString());
            return null;
        }
    }

    /** Lets {@code ws} forget its upgrade request's headers ({@code ws.headers()} is null afterwards). */
    public static void drop(ServerWebSocket ws) {
        if (SETTER == null || !SETTER.getDeclaringClass().isInstance(ws)) {
            return;
        }
        try {
            SETTER.invoke(ws, (Object) null);
        } catch (ReflectiveOperationException | RuntimeException e) {
            // keep them: memory, not correctness
        }
    }
}
