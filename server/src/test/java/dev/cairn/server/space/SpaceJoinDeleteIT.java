package dev.cairn.server.space;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.server.TestServer;
import dev.cairn.server.store.ServerStore;
import dev.cairn.server.store.TestDatabase;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A join (by invitation code) that commits while the owner's delete of the space is under way,
 * after the delete read the members: the delete must still end the joiner's membership, so no
 * stale entry stays in their {@code spaces} section. The interleaving is forced, not hoped for: a
 * store gate holds the delete's read of {@code members} until the join has committed. On both stores.
 */
class SpaceJoinDeleteIT {

    private static Vertx admin;
    private static TestDatabase database;

    @BeforeAll
    static void createDatabase() {
        admin = Vertx.vertx();
        database = TestDatabase.create(admin);
    }

    @AfterAll
    static void dropDatabase() {
        try {
            database.close();
        } finally {
            TestServer.await(admin.close());
        }
    }

    /** Holds the results of whole-section reads of {@code members} (the delete's) while armed. */
    static final class Gate {
        volatile boolean armed;
        final CountDownLatch hit = new CountDownLatch(1);
        final Promise<Void> open = Promise.promise();

        @SuppressWarnings("unchecked")
        ServerStore wrap(ServerStore store) {
            return (ServerStore) java.lang.reflect.Proxy.newProxyInstance(ServerStore.class.getClassLoader(), new Class<?>[] {ServerStore.class},
                    (proxy, method, args) -> {
                        Object out;
                        try {
                            out = method.invoke(store, args);
                        } catch (java.lang.reflect.InvocationTargetException e) {
                            throw e.getCause();
                        }
                        if (armed && method.getName().equals("readMap") && "members".equals(args[1]) && "".equals(args[2])) {
                            armed = false;
                            hit.countDown();
                            Context context = Vertx.currentContext();
                            Promise<ServerStore.MapPage> held = Promise.promise();
                            ((Future<ServerStore.MapPage>) out).onComplete(ar -> open.future().onComplete(v -> {
                                if (context == null) {
                                    held.handle(ar);
                                } else {
                                    context.runOnContext(x -> held.handle(ar));
                                }
                            }));
                            return held.future();
                        }
                        return out;
                    });
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"embedded", "postgres"})
    void aJoinDuringTheDeleteLeavesNoStaleEntry(String kind) throws Exception {
        Gate gate = new Gate();
        TestServer.Builder builder = kind.equals("embedded") ? TestServer.embedded() : TestServer.postgres(database.url());
        try (TestServer server = builder.decorateStore(gate::wrap).start()) {
            String owner = server.token("olga-" + kind);
            String joiner = server.token("joe-" + kind);
            String id = ok(server.post("/api/spaces", owner, "{\"name\":\"Trip\"}")).path("id").asText();
            String code = ok(server.post("/api/spaces/" + id + "/invitations", owner, "{\"role\":\"editor\"}")).path("code").asText();

            gate.armed = true;
            CompletableFuture<TestServer.Response> delete = CompletableFuture.supplyAsync(() -> server.delete("/api/spaces/" + id, owner));
            assertTrue(gate.hit.await(10, TimeUnit.SECONDS), "the delete read the members");
            // the join commits after the delete read the members, before the delete commits
            assertEquals(id, ok(server.post("/api/spaces/join", joiner, "{\"code\":\"" + code + "\"}")).path("id").asText());
            gate.open.complete();
            assertEquals(200, delete.get(30, TimeUnit.SECONDS).status());

            assertEquals(List.of(), ids(ok(server.get("/api/spaces", joiner))), "no stale entry in the joiner's spaces");
            assertEquals(List.of(), ids(ok(server.get("/api/spaces", owner))));
            assertEquals(403, server.get("/api/spaces/" + id, joiner).status());
            assertEquals(404, server.post("/api/spaces/join", joiner, "{\"code\":\"" + code + "\"}").status(), "the used code joins nothing");
        }
    }

    private static List<String> ids(JsonNode spaces) {
        return spaces.path("spaces").findValuesAsText("id");
    }

    private static JsonNode ok(TestServer.Response r) {
        assertEquals(200, r.status(), r.toString());
        return r.json();
    }
}
