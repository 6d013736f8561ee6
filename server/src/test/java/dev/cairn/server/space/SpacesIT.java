package dev.cairn.server.space;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.server.ServerConfig;
import dev.cairn.server.TestServer;
import dev.cairn.server.store.ServerStore;
import dev.cairn.server.store.TestDatabase;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Shared spaces over HTTP on a real server, on PostgreSQL and on the embedded store (PROTOCOL.md
 * 8.5): the membership calls, what they write (the space's {@code members}, each user's
 * {@code spaces}, server stamps, invitations as hashes), single-use codes under a race, owner
 * quota, transfer and delete.
 */
class SpacesIT {

    enum Store { EMBEDDED, POSTGRES }

    private static final long QUOTA = 4_000;

    @TempDir
    Path dir;
    private Vertx admin;
    private TestDatabase db;
    private TestServer server;

    private void start(Store kind) {
        TestServer.Builder builder;
        if (kind == Store.POSTGRES) {
            admin = Vertx.vertx();
            db = TestDatabase.create(admin);
            builder = TestServer.postgres(db.url());
        } else {
            builder = TestServer.embedded(dir.resolve("server"));
        }
        server = builder.configure(c -> c.withUserData(new ServerConfig.UserData(QUOTA, 3_600_000))).start();
    }

    @AfterEach
    void stop() throws Exception {
        if (server != null) {
            server.close();
        }
        if (db != null) {
            db.close();
        }
        if (admin != null) {
            TestServer.await(admin.close());
        }
    }

    private static JsonNode ok(TestServer.Response r) {
        assertEquals(200, r.status(), r.toString());
        return r.json();
    }

    private static void refused(int status, String code, TestServer.Response r) {
        assertEquals(status, r.status(), r.toString());
        assertEquals(code, r.json().path("error").asText(), r.toString());
        assertTrue(r.json().path("message").isTextual(), r.toString());
    }

    /** The live entry (value and stamp) of a map key, or null. */
    private ServerStore.MapEntry entry(String storeKey, String section, String key) {
        for (ServerStore.MapEntry e : TestServer.await(server.store().readMap(storeKey, section, key, null, 100)).entries()) {
            if (e.key().equals(key)) {
                return e.value() == null ? null : e;
            }
        }
        return null;
    }

    /** The bytes of a user's own record of a space (their {@code spaces} entry counts like any entry). */
    private long own(String user, String id) {
        return id.length() + entry(user, "spaces", id).value().length();
    }

    private String create(String token, String name) {
        JsonNode s = ok(server.post("/api/spaces", token, "{\"name\":\"" + name + "\"}"));
        assertEquals(name, s.path("name").asText());
        assertEquals("owner", s.path("role").asText());
        assertTrue(SpaceKeys.SPACE_ID.matcher(s.path("id").asText()).matches(), s.toString());
        return s.path("id").asText();
    }

    private String invite(String token, String id, String role) {
        JsonNode inv = ok(server.post("/api/spaces/" + id + "/invitations", token, "{\"role\":\"" + role + "\",\"expiresInSeconds\":3600}"));
        assertEquals(role, inv.path("role").asText());
        assertTrue(inv.path("expiresAtMillis").asLong() > System.currentTimeMillis() + 3_500_000, inv.toString());
        return inv.path("code").asText();
    }

    @ParameterizedTest
    @EnumSource(Store.class)
    void createInviteJoinAndWhatIsWritten(Store kind) {
        start(kind);
        String olga = server.token("olga"), bob = server.token("bob"), carol = server.token("carol"), dan = server.token("dan");
        String id = create(olga, "Trip");
        String key = SpaceKeys.storeKey(id);
        assertEquals("{\"role\":\"owner\"}", entry(key, "members", "olga").value());
        assertEquals("{\"name\":\"Trip\",\"role\":\"owner\"}", entry("olga", "spaces", id).value());
        assertEquals("server", entry("olga", "spaces", id).stamp().replica(), "written by the server");

        String code = invite(olga, id, "editor");
        assertTrue(code.startsWith(id + "."), code);
        String secret = code.substring(id.length() + 1);
        List<ServerStore.MapEntry> invitations = TestServer.await(server.store().readMap(key, "invitations", "", null, 10)).entries();
        assertEquals(1, invitations.size());
        assertEquals(Memberships.hash(secret), invitations.get(0).key(), "the store holds a hash of the secret, not the code");
        assertFalse(invitations.get(0).value().contains(secret));

        JsonNode joined = ok(server.post("/api/spaces/join", bob, "{\"code\":\"" + code + "\"}"));
        assertEquals(id, joined.path("id").asText());
        assertEquals("Trip", joined.path("name").asText());
        assertEquals("editor", joined.path("role").asText());
        assertEquals("{\"role\":\"editor\"}", entry(key, "members", "bob").value());
        assertEquals("{\"name\":\"Trip\",\"role\":\"editor\"}", entry("bob", "spaces", id).value());
        assertNull(entry(key, "invitations", Memberships.hash(secret)), "used up in the commit that added bob");
        refused(404, "invalid-invitation", server.post("/api/spaces/join", carol, "{\"code\":\"" + code + "\"}"));

        // a member joining again keeps their role, and the code is not used up
        String viewerCode = invite(olga, id, "viewer");
        assertEquals("editor", ok(server.post("/api/spaces/join", bob, "{\"code\":\"" + viewerCode + "\"}")).path("role").asText());
        assertEquals("viewer", ok(server.post("/api/spaces/join", carol, "{\"code\":\"" + viewerCode + "\"}")).path("role").asText());
        for (String bad : List.of("", "nodot", id + ".", "." + secret, id + ".wrong", "sp-unknown." + secret, "bad id." + secret)) {
            refused(404, "invalid-invitation", server.post("/api/spaces/join", dan, "{\"code\":\"" + bad + "\"}"));
        }
        refused(400, "bad-request", server.post("/api/spaces/join", dan, "{\"code\":5}"));

        JsonNode list = ok(server.get("/api/spaces", bob));
        assertEquals("[{\"id\":\"" + id + "\",\"name\":\"Trip\",\"role\":\"editor\"}]", list.path("spaces").toString());
        JsonNode details = ok(server.get("/api/spaces/" + id, carol));
        assertEquals("viewer", details.path("role").asText());
        assertEquals("[{\"user\":\"bob\",\"role\":\"editor\"},{\"user\":\"carol\",\"role\":\"viewer\"},{\"user\":\"olga\",\"role\":\"owner\"}]",
                details.path("members").toString());
        assertEquals("{\"spaces\":[]}", ok(server.get("/api/spaces", dan)).toString());

        // bad input changes nothing
        long head = server.head(key);
        refused(400, "bad-request", server.post("/api/spaces", olga, "{\"name\":\"\"}"));
        refused(400, "bad-request", server.post("/api/spaces", olga, "{\"name\":\"" + "x".repeat(201) + "\"}"));
        refused(400, "bad-request", server.post("/api/spaces", olga, "{\"name\":\"a\",\"extra\":1}"));
        refused(400, "bad-request", server.post("/api/spaces/" + id + "/invitations", olga, "{\"role\":\"owner\"}"));
        refused(400, "bad-request", server.post("/api/spaces/" + id + "/invitations", olga, "{\"role\":\"viewer\",\"expiresInSeconds\":59}"));
        refused(400, "bad-request", server.post("/api/spaces/" + id + "/invitations", olga, "{\"role\":\"viewer\",\"expiresInSeconds\":\"60\"}"));
        refused(400, "bad-request", server.post("/api/spaces/" + id + "/members", olga, "{\"user\":\"olga\",\"role\":\"viewer\"}"));
        refused(400, "bad-request", server.post("/api/spaces/" + id + "/members", olga, "{\"user\":\"not a user!\",\"role\":\"viewer\"}"));
        refused(403, "not-a-member", server.get("/api/spaces/not%20valid", olga));
        assertEquals(head, server.head(key));
    }

    @ParameterizedTest
    @EnumSource(Store.class)
    void aCodeIsUsedOnceWhenTwoJoinAtOnce(Store kind) throws Exception {
        start(kind);
        String olga = server.token("olga");
        String id = create(olga, "Race");
        for (int round = 0; round < 5; round++) {
            String code = invite(olga, id, "viewer");
            List<CompletableFuture<TestServer.Response>> joins = new ArrayList<>();
            for (String u : List.of("x" + round, "y" + round, "z" + round)) {
                String t = server.token(u);
                joins.add(CompletableFuture.supplyAsync(() -> server.post("/api/spaces/join", t, "{\"code\":\"" + code + "\"}")));
            }
            int joined = 0;
            for (CompletableFuture<TestServer.Response> j : joins) {
                TestServer.Response r = j.get();
                if (r.status() == 200) {
                    joined++;
                } else {
                    refused(404, "invalid-invitation", r);
                }
            }
            assertEquals(1, joined, "round " + round + ": exactly one join per code");
        }
        assertEquals(6, ok(server.get("/api/spaces/" + id, olga)).path("members").size());
    }

    @ParameterizedTest
    @EnumSource(Store.class)
    void rolesRemovalLeavingTransferAndDelete(Store kind) {
        start(kind);
        String olga = server.token("olga"), bob = server.token("bob"), carol = server.token("carol");
        String id = create(olga, "Team");
        String key = SpaceKeys.storeKey(id);
        assertEquals("{\"user\":\"bob\",\"role\":\"viewer\"}", ok(server.post("/api/spaces/" + id + "/members", olga,
                "{\"user\":\"bob\",\"role\":\"viewer\"}")).toString());
        assertEquals("{\"name\":\"Team\",\"role\":\"viewer\"}", entry("bob", "spaces", id).value());
        ok(server.post("/api/spaces/" + id + "/members", olga, "{\"user\":\"bob\",\"role\":\"editor\"}"));
        assertEquals("{\"name\":\"Team\",\"role\":\"editor\"}", entry("bob", "spaces", id).value());
        assertEquals("{\"role\":\"editor\"}", entry(key, "members", "bob").value());

        // removed: both records go in one commit
        assertEquals("{\"removed\":true}", ok(server.delete("/api/spaces/" + id + "/members/bob", olga)).toString());
        assertNull(entry(key, "members", "bob"));
        assertNull(entry("bob", "spaces", id));
        refused(403, "not-a-member", server.get("/api/spaces/" + id, bob));
        assertEquals("{\"removed\":false}", ok(server.delete("/api/spaces/" + id + "/members/bob", olga)).toString());
        // the owner cannot leave; a member can
        refused(400, "bad-request", server.delete("/api/spaces/" + id + "/members/olga", olga));
        ok(server.post("/api/spaces/" + id + "/members", olga, "{\"user\":\"carol\",\"role\":\"viewer\"}"));
        assertEquals("{\"removed\":true}", ok(server.delete("/api/spaces/" + id + "/members/carol", carol)).toString());
        assertNull(entry("carol", "spaces", id));

        // transfer
        ok(server.post("/api/spaces/" + id + "/members", olga, "{\"user\":\"bob\",\"role\":\"viewer\"}"));
        refused(400, "bad-request", server.post("/api/spaces/" + id + "/owner", olga, "{\"user\":\"carol\"}"));
        assertEquals("{\"owner\":\"bob\"}", ok(server.post("/api/spaces/" + id + "/owner", olga, "{\"user\":\"bob\"}")).toString());
        assertEquals("{\"role\":\"owner\"}", entry(key, "members", "bob").value());
        assertEquals("{\"role\":\"editor\"}", entry(key, "members", "olga").value());
        assertEquals("{\"name\":\"Team\",\"role\":\"owner\"}", entry("bob", "spaces", id).value());
        assertEquals("{\"name\":\"Team\",\"role\":\"editor\"}", entry("olga", "spaces", id).value());
        refused(403, "forbidden", server.post("/api/spaces/" + id + "/invitations", olga, "{\"role\":\"viewer\"}"));
        invite(bob, id, "viewer");

        // data in the space, then delete: every member's record goes, the data is purged
        long now = System.currentTimeMillis() << 16;
        TestServer.await(server.store().commit(List.of(new ServerStore.UserBatch(key, List.of(
                new Change.Put("cards", "c1", "\"hello\"", new Stamp(now, "olga-phone")),
                new Change.Append("chat", "general", "\"hi\"", new Stamp(now, "olga-phone"))))), ServerStore.Limits.NONE));
        JsonNode spaceExport = ok(server.get("/api/spaces/" + id + "/export", olga));
        assertEquals("hello", spaceExport.path("sections").path("cards").path("entries").path("c1").path("value").asText(), spaceExport.toString());
        assertTrue(spaceExport.path("sections").has("members") && !spaceExport.path("sections").has("spaces")
                && !spaceExport.toString().contains("invitations"), spaceExport.toString());
        // a user's export holds their spaces, marked by their role, each with its sections
        JsonNode userExport = ok(server.get("/api/export", olga));
        assertEquals(1, userExport.path("spaces").size(), userExport.toString());
        JsonNode mine = userExport.path("spaces").get(0);
        assertEquals(id, mine.path("id").asText());
        assertEquals("Team", mine.path("name").asText());
        assertEquals("editor", mine.path("role").asText());
        assertEquals(spaceExport.path("sections"), mine.path("sections"));
        assertEquals(0, ok(server.get("/api/export", carol)).path("spaces").size(), "carol left: no spaces");
        assertEquals(200, server.post("/api/import", carol, userExport.toString()).status(), "an import ignores \"spaces\"");
        assertNull(entry(SpaceKeys.storeKey(id), "members", "carol"));
        refused(403, "forbidden", server.delete("/api/spaces/" + id, olga));
        assertEquals("{\"deleted\":true}", ok(server.delete("/api/spaces/" + id, bob)).toString());
        assertNull(entry("bob", "spaces", id));
        assertNull(entry("olga", "spaces", id));
        assertEquals(0, TestServer.await(server.store().readMap(key, "members", "", null, 10)).entries().size());
        assertEquals(0L, (long) TestServer.await(server.store().usage(key)), "the space's data is purged");
        refused(403, "not-a-member", server.get("/api/spaces/" + id, bob));
        refused(403, "not-a-member", server.get("/api/spaces/" + id + "/export", olga));
        assertEquals("{\"spaces\":[]}", ok(server.get("/api/spaces", olga)).toString());
    }

    @ParameterizedTest
    @EnumSource(Store.class)
    void aSpacesBytesCountForItsOwnerAndItsDataRoutesUseTheSpace(Store kind) {
        start(kind);
        String olga = server.token("olga"), bob = server.token("bob");
        String id = create(olga, "Q");
        String key = SpaceKeys.storeKey(id);
        ok(server.post("/api/spaces/" + id + "/members", olga, "{\"user\":\"bob\",\"role\":\"editor\"}"));
        long now = System.currentTimeMillis() << 16;
        String big = "\"" + "b".repeat(1000) + "\"";
        TestServer.await(server.store().commit(List.of(new ServerStore.UserBatch(key, List.of(
                new Change.Put("cards", "c1", big, new Stamp(now, "bob-phone"))))),
                new ServerStore.Limits(QUOTA, 3_600_000, System.currentTimeMillis())));
        long space = ok(server.get("/api/spaces/" + id + "/usage", bob)).path("usedBytes").asLong();
        assertTrue(space > 1000, "the space's bytes: " + space);
        assertEquals(space + own("olga", id), ok(server.get("/api/usage", olga)).path("usedBytes").asLong(), "counted for the owner");
        assertEquals(own("bob", id), ok(server.get("/api/usage", bob)).path("usedBytes").asLong(), "not for an editor");
        // the owner's own writes now meet the quota sooner
        String large = "\"" + "p".repeat(2990) + "\"";
        refused(413, "quota-exceeded", server.post("/api/preferences", olga, "{\"theme\":" + large + "}"));
        ok(server.post("/api/preferences", bob, "{\"theme\":" + large + "}"));
        // history and clearing act on the space
        TestServer.await(server.store().commit(List.of(new ServerStore.UserBatch(key, List.of(
                new Change.Put("cards", "c1", "\"v2\"", new Stamp(now + 1, "bob-phone"))))),
                new ServerStore.Limits(QUOTA, 3_600_000, System.currentTimeMillis())));
        JsonNode history = ok(server.get("/api/spaces/" + id + "/history/cards/c1", bob));
        assertEquals(1, history.path("entries").size(), history.toString());
        assertEquals("[]", ok(server.get("/api/history/cards/c1", bob)).path("entries").toString(), "not bob's own history");
        assertEquals(1, ok(server.delete("/api/spaces/" + id + "/sections/cards", bob)).path("cleared").asInt());
        refused(403, "forbidden", server.delete("/api/spaces/" + id + "/sections/members", olga));
        refused(404, "unknown-section", server.delete("/api/spaces/" + id + "/sections/spaces", olga));
        long after = ok(server.get("/api/spaces/" + id + "/usage", bob)).path("usedBytes").asLong();
        assertTrue(after < 100, "cleared: " + after);
        assertEquals(after + own("olga", id), ok(server.get("/api/usage", olga)).path("usedBytes").asLong());
        // a transfer moves the charge
        ok(server.post("/api/spaces/" + id + "/owner", olga, "{\"user\":\"bob\"}"));
        assertEquals(own("olga", id), ok(server.get("/api/usage", olga)).path("usedBytes").asLong());
        long bobs = ok(server.get("/api/usage", bob)).path("usedBytes").asLong();
        assertEquals(ok(server.get("/api/spaces/" + id + "/usage", bob)).path("usedBytes").asLong() + own("bob", id) + "theme".length() + 2992, bobs);
        // the membership records are the server's: a user's clear or import does not write them
        refused(403, "forbidden", server.delete("/api/sections/spaces", bob));
        TestServer.Response export = server.get("/api/export", bob);
        assertEquals(200, export.status());
        String eve = server.token("eve");
        ok(server.post("/api/import", eve, export.body()));
        assertNull(entry("eve", "spaces", id), "an import skips the spaces section");
    }
}
