package dev.cairn.server;

import dev.cairn.engine.clock.HybridClock;
import dev.cairn.engine.clock.WallClock;
import dev.cairn.server.auth.TokenAuth;
import dev.cairn.server.http.HttpApi;
import dev.cairn.server.monitoring.ServerMetrics;
import dev.cairn.server.section.SectionRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.Route;
import io.vertx.ext.web.Router;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The routes {@link HttpApi#mount} registers, read from a router it mounted on, so tables of
 * per-route cases can fail when a route is added without a case.
 */
public final class HttpRoutes {

    private HttpRoutes() {
    }

    /** One route: method and path as mounted (path parameters as {@code :name}). */
    public record Mounted(String method, String path) {
        /** "METHOD path", e.g. {@code DELETE /api/sections/:section}. */
        public String key() {
            return method + " " + path;
        }

        /** The path with every parameter filled in by {@code values} (name to value). */
        public String concrete(Map<String, String> values) {
            String out = path;
            for (Map.Entry<String, String> e : values.entrySet()) {
                out = out.replace(":" + e.getKey(), e.getValue());
            }
            if (out.contains(":")) {
                throw new AssertionError("no value for a path parameter of " + key());
            }
            return out;
        }
    }

    /** Every route with a method (handlers for all routes, like authentication, are left out). */
    public static List<Mounted> mounted(Vertx vertx) {
        Router router = Router.router(vertx);
        new HttpApi(vertx, null, null, new SectionRegistry(Map.of()), new HybridClock(WallClock.system(), "server", 60_000),
                new TokenAuth(vertx, TestServer.SECRET), true, new ServerMetrics(), 1024, 1000, 64L << 20, 0, 0, () -> true).mount(router);
        List<Mounted> out = new ArrayList<>();
        for (Route route : router.getRoutes()) {
            Set<HttpMethod> methods = route.methods();
            if (methods == null || methods.isEmpty()) {
                continue;
            }
            for (HttpMethod m : methods) {
                out.add(new Mounted(m.name(), route.getPath()));
            }
        }
        return out;
    }
}
