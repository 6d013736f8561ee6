package dev.cairn.server.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.Cairn;
import dev.cairn.engine.sync.HistoryClient;
import dev.cairn.engine.sync.SyncClient;
import dev.cairn.engine.sync.SyncException;
import dev.cairn.server.ServerConfig;
import dev.cairn.server.TestServer;
import dev.cairn.server.store.TestDatabase;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgBuilder;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Issue 7 on the real stack (a server on a random port, engines with SyncClients, both stores):
 * <ul>
 *   <li>a device whose push would take the user over quota gets {@code quota-exceeded}: its
 *       syncNow fails with the reason, lastError names use and quota, the change stays pending
 *       (and on the server nothing of it), retries keep being refused; HTTP writes and imports over
 *       quota are answered 413 and write nothing;</li>
 *   <li>another device deletes data, and the waiting change goes through by itself;</li>
 *   <li>the server kept the theme's earlier value: the other device lists it ({@link HistoryClient})
 *       and restores it as a new write that syncs to the first device;</li>
 *   <li>on PostgreSQL, {@code user_usage} and {@code map_history} are read directly.</li>
 * </ul>
 */
class StorageLimitsIT {

    enum Store { EMBEDDED, POSTGRES }

    private static final long QUOTA = 2_000;

    @ParameterizedTest
    @EnumSource(Store.class)
    void overQuotaChangesWaitUntilSpaceIsFreedAndHistoryRestores(Store kind, @TempDir Path dir) throws Exception {
        Vertx admin = Vertx.vertx();
        TestDatabase db = null;
        TestServer server = null;
        List<AutoCloseable> open = new ArrayList<>();
        try {
            TestServer.Builder builder;
            if (kind == Store.POSTGRES) {
                db = TestDatabase.create(admin);
                builder = TestServer.postgres(db.url());
            } else {
                builder = TestServer.embedded(dir.resolve("server"));
            }
            server = builder.configure(c -> c.withUserData(new ServerConfig.UserData(QUOTA, 3_600_000))).start();
            TestServer running = server;
            String user = "quota-" + kind.name().toLowerCase();
            String token = server.token(user);
            Cairn a = Cairn.builder().dataDir(dir.resolve("a")).replicaId("dev-a").open();
            open.add(a);
            Cairn b = Cairn.builder().dataDir(dir.resolve("b")).replicaId("dev-b").open();
            open.add(b);
            SyncClient syncA = client(a, server, token);
            open.add(0, syncA);
            SyncClient syncB = client(b, server, token);
            open.add(0, syncB);
            syncA.start();
            syncB.start();

            // a theme with an earlier value
            a.map("preferences").put("theme", "light");
            syncNow(syncA);
            a.map("preferences").put("theme", "dark");
            syncNow(syncA);

            // within quota
            a.map("memory").put("big", "x".repeat(1_500));
            syncNow(syncA);
            long used = usage(server, token).path("usedBytes").asLong();
            assertEquals(utf8("theme") + utf8("\"dark\"") + utf8("big") + 1_502, used);

            // over quota: refused, kept pending, told clearly
            a.map("memory").put("more", "y".repeat(800));
            ExecutionException refused = assertThrows(ExecutionException.class, () -> syncA.syncNow().get(15, TimeUnit.SECONDS));
            SyncException why = assertInstanceOf(SyncException.class, refused.getCause());
            assertTrue(why.getMessage().contains("quota"), why.getMessage());
            String lastError = syncA.status().lastError();
            assertTrue(lastError != null && lastError.contains("storage quota exceeded") && lastError.contains(String.valueOf(used))
                    && lastError.contains(String.valueOf(QUOTA)) && lastError.contains("stay pending"), lastError);
            assertTrue(a.pendingChanges() >= 1, "the refused change stays pending");
            assertNull(server.state(user).map("memory").value("more"), "nothing of it on the server");
            Thread.sleep(1_500); // several retries, each refused
            assertTrue(a.pendingChanges() >= 1);
            assertNull(server.state(user).map("memory").value("more"));
            assertEquals(used, usage(server, token).path("usedBytes").asLong());
            assertEquals(QUOTA, usage(server, token).path("quotaBytes").asLong());

            // over HTTP too: 413 quota-exceeded, nothing written
            long head = server.head(user);
            TestServer.Response post = server.post("/api/preferences", token, "{\"bio\":\"" + "z".repeat(900) + "\"}");
            assertEquals(413, post.status(), post.toString());
            assertEquals("quota-exceeded", post.json().path("error").asText());
            assertEquals(used, post.json().path("usedBytes").asLong());
            assertEquals(QUOTA, post.json().path("quotaBytes").asLong());
            TestServer.Response imported = server.post("/api/import", token, a.exportData());
            assertEquals(413, imported.status(), imported.toString());
            assertEquals(head, server.head(user), "refused HTTP writes change nothing");

            // the other device frees space; the waiting change goes through by itself
            poll("dev-b to get big", () -> b.map("memory").contains("big"), () -> b.canonicalState());
            b.map("memory").remove("big");
            syncNow(syncB);
            poll("dev-a's refused change to be accepted", () -> a.pendingChanges() == 0
                    && running.state(user).map("memory").value("more") != null, () -> syncA.status().toString());
            poll("dev-b to get it", () -> b.map("memory").contains("more"), () -> b.canonicalState());
            long after = utf8("theme") + utf8("\"dark\"") + utf8("more") + 802;
            assertEquals(after, usage(server, token).path("usedBytes").asLong());

            // history: dev-b lists the theme's earlier value and restores it; dev-a gets it
            HistoryClient history = HistoryClient.create(b, server.syncUri(), () -> token);
            poll("dev-b to have dark", () -> "\"dark\"".equals(b.map("preferences").json("theme")), () -> b.canonicalState());
            List<HistoryClient.Version> versions = history.history("preferences", "theme");
            assertEquals(1, versions.size(), versions.toString());
            assertEquals("\"light\"", versions.get(0).value());
            assertEquals("dev-a", versions.get(0).stamp().replica());
            history.restore("preferences", "theme", versions.get(0));
            syncNow(syncB);
            poll("dev-a to get the restored theme", () -> "\"light\"".equals(a.map("preferences").json("theme")), () -> a.canonicalState());
            List<HistoryClient.Version> now = history.history("preferences", "theme");
            assertEquals(List.of("\"dark\"", "\"light\""), now.stream().map(HistoryClient.Version::value).toList(), "newest first");
            assertEquals("dev-b", b.map("preferences").entry("theme").stamp().replica(), "the restore is a new write");
            List<HistoryClient.Version> big = history.history("memory", "big");
            assertEquals(1, big.size());
            assertEquals(1_502, big.get(0).value().length());
            assertEquals(new HistoryClient.Usage(usage(server, token).path("usedBytes").asLong(), QUOTA), history.usage());

            // the HTTP endpoint: keys with '/', raw or percent-encoded; bad paths are clear errors
            b.cards().card("intro").toggle();
            syncNow(syncB);
            b.cards().card("intro").toggle();
            syncNow(syncB);
            String cardKey = b.map("cards").keys().stream().filter(k -> k.contains("/")).findFirst().orElseThrow();
            TestServer.Response raw = server.get("/api/history/cards/" + cardKey, token);
            assertEquals(200, raw.status(), raw.toString());
            assertEquals(1, raw.json().path("entries").size(), raw.toString());
            assertEquals(raw.json(), server.get("/api/history/cards/" + cardKey.replace("/", "%2F"), token).json());
            assertEquals(400, server.get("/api/history/chat/conv-1", token).status(), "history is kept for map sections");
            assertEquals(404, server.get("/api/history/nope/x", token).status());
            assertEquals(400, server.get("/api/history/cards/", token).status());
            // bytes that are not UTF-8 are refused, not read as U+FFFD (HistoryPathDecodingTest)
            assertEquals(400, server.get("/api/history/cards/%FF", token).status());
            assertEquals(401, server.get("/api/history/cards/x", null).status());

            if (kind == Store.POSTGRES) {
                Pool pool = PgBuilder.pool().connectingTo(db.connectOptions()).using(admin).build();
                try {
                    Row usage = TestServer.await(pool.preparedQuery("SELECT used_bytes, pending_bytes FROM user_usage WHERE user_id = $1")
                            .execute(Tuple.of(user))).iterator().next();
                    assertEquals(history.usage().usedBytes(), usage.getLong(0));
                    assertEquals(0L, usage.getLong(1));
                    List<String> values = new ArrayList<>();
                    TestServer.await(pool.preparedQuery("SELECT value FROM map_history WHERE user_id = $1 AND section = 'preferences' "
                            + "AND key = 'theme' ORDER BY seq").execute(Tuple.of(user))).forEach(r -> values.add(r.getString(0)));
                    assertEquals(List.of("\"light\"", "\"dark\""), values);
                } finally {
                    TestServer.await(pool.close());
                }
            }
        } finally {
            for (AutoCloseable c : open) {
                c.close();
            }
            if (server != null) {
                server.close();
            }
            if (db != null) {
                db.close();
            }
            TestServer.await(admin.close());
        }
    }

    private static SyncClient client(Cairn cairn, TestServer server, String token) {
        return SyncClient.builder(cairn, server.syncUri(), () -> token)
                .backoff(Duration.ofMillis(50), Duration.ofSeconds(1))
                .quotaRetry(Duration.ofMillis(300), Duration.ofSeconds(1))
                .build();
    }

    private static void syncNow(SyncClient sync) throws Exception {
        sync.syncNow().get(15, TimeUnit.SECONDS);
    }

    private static JsonNode usage(TestServer server, String token) {
        TestServer.Response r = server.get("/api/usage", token);
        assertEquals(200, r.status(), r.toString());
        return r.json();
    }

    private static long utf8(String s) {
        return s.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
    }

    private static void poll(String what, BooleanSupplier condition, Supplier<String> seen) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("timed out waiting for " + what + "; seen: " + seen.get());
            }
            Thread.sleep(20);
        }
    }
}
