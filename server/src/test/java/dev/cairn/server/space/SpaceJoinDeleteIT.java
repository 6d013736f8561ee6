package dev.cairn.server.space;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

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
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A join (by invitation code) that commits while the owner's delete of the space is under way,
 * after the delete read the members: the delete must still end the joiner's membership, so no
 * stale entry stays in their {@code spaces} section. The interleaving is forced, not hoped for: a
 * store gate holds the delete's read of {@code members} until the join has committed. The same for
 * an add or role change by the owner's other device, and one that keeps coming (503). On both stores.
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

    /** Holds the results of the next {@code holds} whole-section reads of {@code members} (the delete's), each until released. */
    static final class Gate {
        final AtomicInteger holds = new AtomicInteger();
        private final BlockingQueue<Promise<Void>> held = new LinkedBlockingQueue<>();

        /** Waits until the delete read the members; completing the promise releases that read. */
        Promise<Void> next() throws InterruptedException {
            Promise<Void> open = held.poll(10, TimeUnit.SECONDS);
            assertNotNull(open, "the delete read the members");
            return open;
        }

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
                        if (method.getName().equals("readMap") && "members".equals(args[1]) && "".equals(args[2])
                                && holds.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                            Promise<Void> open = Promise.promise();
                            Context context = Vertx.currentContext();
                            Promise<ServerStore.MapPage> page = Promise.promise();
                            ((Future<ServerStore.MapPage>) out).onComplete(ar -> open.future().onComplete(v -> {
                                if (context == null) {
                                    page.handle(ar);
                                } else {
                                    context.runOnContext(x -> page.handle(ar));
                                }
                            }));
                            held.add(open);
                            return page.future();
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

            gate.holds.set(1);
            CompletableFuture<TestServer.Response> delete = CompletableFuture.supplyAsync(() -> server.delete("/api/spaces/" + id, owner));
            Promise<Void> open = gate.next();
            // the join commits after the delete read the members, before the delete commits
            assertEquals(id, ok(server.post("/api/spaces/join", joiner, "{\"code\":\"" + code + "\"}")).path("id").asText());
            open.complete();
            assertEquals(200, delete.get(30, TimeUnit.SECONDS).status());

            assertEquals(List.of(), ids(ok(server.get("/api/spaces", joiner))), "no stale entry in the joiner's spaces");
            assertEquals(List.of(), ids(ok(server.get("/api/spaces", owner))));
            assertEquals(403, server.get("/api/spaces/" + id, joiner).status());
            assertEquals(404, server.post("/api/spaces/join", joiner, "{\"code\":\"" + code + "\"}").status(), "the used code joins nothing");
        }
    }

    /**
     * The owner, from another device, adds a user, or changes a member's role, after the delete read
     * the members: the delete must still end that membership (it could not read the added member's
     * entries, so it guards on the space's membership revision and reads again).
     */
    @ParameterizedTest
    @ValueSource(strings = {"embedded:add", "postgres:add", "embedded:role", "postgres:role"})
    void anAddOrRoleChangeDuringTheDeleteLeavesNoStaleEntry(String param) throws Exception {
        String kind = param.substring(0, param.indexOf(':'));
        boolean add = param.endsWith(":add");
        Gate gate = new Gate();
        TestServer.Builder builder = kind.equals("embedded") ? TestServer.embedded() : TestServer.postgres(database.url());
        try (TestServer server = builder.decorateStore(gate::wrap).start()) {
            String owner = server.token("olga-" + kind + (add ? "-add" : "-role"));
            String bobId = "bob-" + kind + (add ? "-add" : "-role");
            String bob = server.token(bobId);
            String id = ok(server.post("/api/spaces", owner, "{\"name\":\"Trip\"}")).path("id").asText();
            if (!add) {
                ok(server.post("/api/spaces/" + id + "/members", owner, "{\"user\":\"" + bobId + "\",\"role\":\"editor\"}"));
            }

            gate.holds.set(1);
            CompletableFuture<TestServer.Response> delete = CompletableFuture.supplyAsync(() -> server.delete("/api/spaces/" + id, owner));
            Promise<Void> open = gate.next();
            // the owner's other device commits after the delete read the members, before the delete commits
            ok(server.post("/api/spaces/" + id + "/members", owner, "{\"user\":\"" + bobId + "\",\"role\":\"viewer\"}"));
            open.complete();
            assertEquals(200, delete.get(30, TimeUnit.SECONDS).status());

            assertEquals(List.of(), ids(ok(server.get("/api/spaces", bob))), "no stale entry in " + bobId + "'s spaces");
            assertEquals(List.of(), ids(ok(server.get("/api/spaces", owner))));
            assertEquals(403, server.get("/api/spaces/" + id, bob).status());
        }
    }

    /** Membership changes that keep committing between the delete's reads and its commit: after five attempts, 503 unavailable, nothing deleted. */
    @ParameterizedTest
    @ValueSource(strings = {"embedded", "postgres"})
    void aDeleteThatKeepsLosingAnswersUnavailable(String kind) throws Exception {
        Gate gate = new Gate();
        TestServer.Builder builder = kind.equals("embedded") ? TestServer.embedded() : TestServer.postgres(database.url());
        try (TestServer server = builder.decorateStore(gate::wrap).start()) {
            String owner = server.token("olga-busy-" + kind);
            String bobId = "bob-busy-" + kind;
            String bob = server.token(bobId);
            String id = ok(server.post("/api/spaces", owner, "{\"name\":\"Trip\"}")).path("id").asText();
            ok(server.post("/api/spaces/" + id + "/members", owner, "{\"user\":\"" + bobId + "\",\"role\":\"editor\"}"));

            gate.holds.set(5);
            CompletableFuture<TestServer.Response> delete = CompletableFuture.supplyAsync(() -> server.delete("/api/spaces/" + id, owner));
            for (int i = 0; i < 5; i++) {
                Promise<Void> open = gate.next();
                String role = i % 2 == 0 ? "viewer" : "editor";
                ok(server.post("/api/spaces/" + id + "/members", owner, "{\"user\":\"" + bobId + "\",\"role\":\"" + role + "\"}"));
                open.complete();
            }
            TestServer.Response refused = delete.get(30, TimeUnit.SECONDS);
            assertEquals(503, refused.status(), refused.toString());
            assertEquals("unavailable", refused.json().path("error").asText());
            assertEquals(List.of(id), ids(ok(server.get("/api/spaces", bob))), "nothing deleted");
            assertEquals(200, server.get("/api/spaces/" + id, owner).status());

            assertEquals(200, server.delete("/api/spaces/" + id, owner).status(), "a retry deletes it");
            assertEquals(List.of(), ids(ok(server.get("/api/spaces", bob))));
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
