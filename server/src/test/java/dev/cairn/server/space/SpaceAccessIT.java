package dev.cairn.server.space;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.server.HttpRoutes;
import dev.cairn.server.TestServer;
import dev.cairn.server.store.ServerStore;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The HTTP isolation matrix of shared spaces (PROTOCOL.md 8.5): every route under
 * {@code /api/spaces} called by each kind of caller of a space S — its owner, an editor, a viewer,
 * a removed member, a user who never was a member, and a user who is a member (the owner) of
 * another space T — with the status each must get. Every case runs on a fresh S; a refused call
 * must leave S's data and members as they were. {@link #everySpaceRouteHasARow} fails when the
 * router has a route under /api/spaces without a row here.
 */
class SpaceAccessIT {

    private static final String OWNER = "olga", EDITOR = "ed", VIEWER = "vic", REMOVED = "rem", NEVER = "nev", OTHER = "oth";
    private static final List<String> CALLERS = List.of(OWNER, EDITOR, VIEWER, REMOVED, NEVER, OTHER);

    /** One route: how to call it on space {@code id} (with a fresh invitation code of S), and the status per caller. */
    private record Row(String method, String path, String body, Map<String, Integer> expected) {
    }

    private static Map<String, Integer> statuses(int owner, int editor, int viewer, int removed, int never, int other) {
        Map<String, Integer> m = new LinkedHashMap<>();
        m.put(OWNER, owner);
        m.put(EDITOR, editor);
        m.put(VIEWER, viewer);
        m.put(REMOVED, removed);
        m.put(NEVER, never);
        m.put(OTHER, other);
        return m;
    }

    /** Keyed by the route as mounted. {@code {id}} and {@code {code}} are filled per case. */
    private static final Map<String, Row> ROWS = new LinkedHashMap<>();

    static {
        ROWS.put("POST /api/spaces", new Row("POST", "/api/spaces", "{\"name\":\"Mine\"}", statuses(200, 200, 200, 200, 200, 200)));
        ROWS.put("GET /api/spaces", new Row("GET", "/api/spaces", null, statuses(200, 200, 200, 200, 200, 200)));
        ROWS.put("POST /api/spaces/join", new Row("POST", "/api/spaces/join", "{\"code\":\"{code}\"}", statuses(200, 200, 200, 200, 200, 200)));
        ROWS.put("GET /api/spaces/:id", new Row("GET", "/api/spaces/{id}", null, statuses(200, 200, 200, 403, 403, 403)));
        ROWS.put("DELETE /api/spaces/:id", new Row("DELETE", "/api/spaces/{id}", null, statuses(200, 403, 403, 403, 403, 403)));
        ROWS.put("POST /api/spaces/:id/invitations", new Row("POST", "/api/spaces/{id}/invitations", "{\"role\":\"viewer\"}",
                statuses(200, 403, 403, 403, 403, 403)));
        ROWS.put("POST /api/spaces/:id/members", new Row("POST", "/api/spaces/{id}/members", "{\"user\":\"zed\",\"role\":\"viewer\"}",
                statuses(200, 403, 403, 403, 403, 403)));
        // the editor removing themselves is leaving: allowed
        ROWS.put("DELETE /api/spaces/:id/members/:user", new Row("DELETE", "/api/spaces/{id}/members/" + EDITOR, null,
                statuses(200, 200, 403, 403, 403, 403)));
        ROWS.put("POST /api/spaces/:id/owner", new Row("POST", "/api/spaces/{id}/owner", "{\"user\":\"" + EDITOR + "\"}",
                statuses(200, 403, 403, 403, 403, 403)));
        ROWS.put("GET /api/spaces/:id/export", new Row("GET", "/api/spaces/{id}/export", null, statuses(200, 200, 200, 403, 403, 403)));
        ROWS.put("DELETE /api/spaces/:id/sections/:section", new Row("DELETE", "/api/spaces/{id}/sections/cards", null,
                statuses(200, 200, 403, 403, 403, 403)));
        ROWS.put("GET /api/spaces/:id/history/:section/", new Row("GET", "/api/spaces/{id}/history/cards/c1", null,
                statuses(200, 200, 200, 403, 403, 403)));
        // malformed for members (400), but a non-member learns nothing, not even that
        ROWS.put("GET /api/spaces/:id/history/", new Row("GET", "/api/spaces/{id}/history/cards", null,
                statuses(400, 400, 400, 403, 403, 403)));
        ROWS.put("GET /api/spaces/:id/usage", new Row("GET", "/api/spaces/{id}/usage", null, statuses(200, 200, 200, 403, 403, 403)));
    }

    private static TestServer server;
    private static final Map<String, String> TOKENS = new LinkedHashMap<>();
    private static String otherSpace;

    @BeforeAll
    static void start() {
        server = TestServer.embedded().env("CAIRN_HISTORY_MS", "3600000").start();
        for (String u : List.of(OWNER, EDITOR, VIEWER, REMOVED, NEVER, OTHER, "zed")) {
            TOKENS.put(u, server.token(u));
        }
        otherSpace = ok(server.post("/api/spaces", TOKENS.get(OTHER), "{\"name\":\"T\"}")).path("id").asText();
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
    }

    private static JsonNode ok(TestServer.Response r) {
        assertEquals(200, r.status(), r.toString());
        return r.json();
    }

    /** A fresh space S: owner, editor, viewer, a removed member, a card with history. */
    private static String freshSpace() {
        String id = ok(server.post("/api/spaces", TOKENS.get(OWNER), "{\"name\":\"S\"}")).path("id").asText();
        for (String[] m : new String[][] {{EDITOR, "editor"}, {VIEWER, "viewer"}, {REMOVED, "viewer"}}) {
            ok(server.post("/api/spaces/" + id + "/members", TOKENS.get(OWNER), "{\"user\":\"" + m[0] + "\",\"role\":\"" + m[1] + "\"}"));
        }
        ok(server.delete("/api/spaces/" + id + "/members/" + REMOVED, TOKENS.get(OWNER)));
        // the space's data, as a member's push would commit it
        String key = SpaceKeys.storeKey(id);
        long now = System.currentTimeMillis() << 16;
        TestServer.await(server.store().commit(List.of(new ServerStore.UserBatch(key, List.of(
                new Change.Put("cards", "c1", "\"first\"", new Stamp(now, "ed-phone"))))),
                new ServerStore.Limits(0, 3_600_000, System.currentTimeMillis())));
        TestServer.await(server.store().commit(List.of(new ServerStore.UserBatch(key, List.of(
                new Change.Put("cards", "c1", "\"second\"", new Stamp(now + 1, "ed-phone"))))),
                new ServerStore.Limits(0, 3_600_000, System.currentTimeMillis())));
        return id;
    }

    private static String members(String id) {
        List<String> out = new ArrayList<>();
        for (ServerStore.MapEntry e : TestServer.await(server.store().readMap(SpaceKeys.storeKey(id), "members", "", null, 100)).entries()) {
            out.add(e.key() + "=" + e.value());
        }
        return String.join(",", out);
    }

    @TestFactory
    Stream<DynamicTest> everyRouteForEveryCaller() {
        List<DynamicTest> tests = new ArrayList<>();
        ROWS.forEach((route, row) -> row.expected().forEach((caller, status) -> tests.add(DynamicTest.dynamicTest(route + " as " + caller, () -> {
            String id = freshSpace();
            String code = ok(server.post("/api/spaces/" + id + "/invitations", TOKENS.get(OWNER), "{\"role\":\"editor\"}")).path("code").asText();
            String key = SpaceKeys.storeKey(id);
            long head = server.head(key);
            String members = members(id);
            String path = row.path().replace("{id}", id);
            String body = row.body() == null ? null : row.body().replace("{code}", code);
            TestServer.Response r = server.request(row.method(), path, TOKENS.get(caller), body);
            assertEquals((int) status, r.status(), route + " as " + caller + ": " + r);
            JsonNode json = r.json();
            if (status == 403) {
                String expected = List.of(OWNER, EDITOR, VIEWER).contains(caller) ? "forbidden" : "not-a-member";
                assertEquals(expected, json.path("error").asText(), r.toString());
            }
            if (status >= 400) {
                assertTrue(json.path("message").isTextual(), r.toString());
                assertEquals(head, server.head(key), route + " as " + caller + ": a refused call changed the space");
                assertEquals(members, members(id), route + " as " + caller + ": a refused call changed the members");
                assertTrue(!r.body().contains("second") && !r.body().contains("first"), "a refusal shows no data: " + r);
            }
            if (status == 200 && List.of(REMOVED, NEVER, OTHER).contains(caller)) {
                // what a non-member may do shows nothing of S: their list, a new space of their own, joining
                assertTrue(!r.body().contains("\"second\""), r.toString());
            }
            // the other space T is untouched by whatever happened to S
            assertEquals(OTHER + "={\"role\":\"owner\"}", members(otherSpace));
        }))));
        return tests.stream();
    }

    @Test
    void everySpaceRouteHasARow() {
        TreeSet<String> mounted = new TreeSet<>();
        for (HttpRoutes.Mounted r : HttpRoutes.mounted(server.vertx())) {
            if (r.path().startsWith("/api/spaces")) {
                mounted.add(r.key());
            }
        }
        assertTrue(mounted.size() >= 14, "expected the routes of PROTOCOL.md 8.5, got " + mounted);
        assertEquals(mounted, new TreeSet<>(ROWS.keySet()), "every route under /api/spaces needs a row in ROWS (and no row names a route that is gone)");
    }
}
