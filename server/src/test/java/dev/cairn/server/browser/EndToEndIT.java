package dev.cairn.server.browser;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.Cairn;
import dev.cairn.engine.ChatMessage;
import dev.cairn.engine.crypto.E2eKey;
import dev.cairn.engine.section.StandardSections;
import dev.cairn.engine.sync.SyncClient;
import dev.cairn.server.TestServer;
import dev.cairn.server.store.TestDatabase;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgConnection;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * End-to-end encryption across platforms (issue 7), on PostgreSQL: the demo page with a passphrase
 * writes a chat message and a memory fact; a JVM engine whose SyncClient derives the key from the
 * same passphrase reads them in plain text and writes values the page reads; PostgreSQL holds only
 * "$e2e" envelopes for chat and memory, never the plain text; a browser profile with a wrong
 * passphrase shows a clear error, applies nothing and pushes nothing.
 */
class EndToEndIT {

    private static final String USER = "e2e-ada";
    private static final String PASSPHRASE = "correct horse battery staple";
    private static final String CONVERSATION = "assistant";   // app.js CONVERSATION
    private static final List<String> SEALED = List.of(StandardSections.CHAT, StandardSections.MEMORY); // app.js E2E_SECTIONS
    /** Plain texts that must never reach the server's tables. */
    private static final List<String> SECRETS = List.of("run 5k", "Lisbon", "hello from the JVM engine", "remember my goal");

    @TempDir
    static Path dirA;
    @TempDir
    static Path dirB;

    private static Vertx admin;
    private static TestDatabase db;
    private static TestServer server;
    private static Browser a;
    private static Browser b;

    @BeforeAll
    static void start() {
        Browser.requireInstalled();
        admin = Vertx.vertx();
        db = TestDatabase.create(admin);
        server = TestServer.postgres(db.url()).start();
    }

    @AfterAll
    static void stop() {
        try {
            for (Browser w : new Browser[] {a, b}) {
                if (w != null) {
                    w.close();
                }
            }
            if (server != null) {
                server.close();
            }
        } finally {
            try {
                if (db != null) {
                    db.close();
                }
            } finally {
                if (admin != null) {
                    TestServer.await(admin.close());
                }
            }
        }
    }

    /** Opens the page with encryption on for USER and enters the passphrase in the dashboard. */
    private static Browser openEncrypted(Browser w) {
        w.driver().get(server.httpBase() + "/?user=" + USER + "&e2e=1");
        w.waitText("current-user", USER::equals, "signed in as " + USER);
        w.until(() -> "waiting".equals(w.attr("e2e-status", "data-state")), "the page to wait for the passphrase");
        assertEquals("offline", w.text("dash-status"), "no sync before the key is derived");
        w.until(() -> "passphrase".equals(w.attr("status-banner", "data-state")), "the banner waits for the passphrase");
        assertTrue(w.byId("status-passphrase").isDisplayed(), "the banner leads to the passphrase field");
        return w;
    }

    private static void unlock(Browser w, String passphrase) {
        w.type("e2e-passphrase", passphrase);
        w.click("e2e-unlock");
    }

    @Test
    void browserAndJvmShareEncryptedSectionsAndTheServerSeesOnlyCiphertext() {
        E2eKey key = E2eKey.derive(PASSPHRASE.toCharArray(), USER); // the page uses the default iterations too

        // 1. the page, encrypting chat and memory, writes a message; the assistant remembers a fact
        a = openEncrypted(new Browser("e2e-a", dirA));
        unlock(a, PASSPHRASE);
        a.waitLiveAndSynced();
        a.until(() -> "on".equals(a.attr("e2e-status", "data-state")), "encryption on");
        assertTrue(a.text("e2e-status").contains("key " + key.id()), "same key id in the browser and the JVM: " + a.text("e2e-status"));
        a.click("card-sync-toggle"); // an unencrypted section in the same catch-up
        a.waitCard("sync", true, Browser.WAIT);
        a.sendChat("remember my goal is to run 5k");
        a.until(() -> a.chatBubbles().size() == 2, "message + reply, got " + a.chatBubbles());
        a.until(() -> a.text("memory-facts").contains("goal: to run 5k"), "the fact in memory");
        a.waitLiveAndSynced();
        a.screenshot("written");
        List<String> browserChat = a.chatBubbles();

        // 2. a JVM engine with the same passphrase reads them in plain text and writes back
        try (Cairn cairn = Cairn.builder().inMemory().replicaId("e2e-jvm").open();
                SyncClient sync = SyncClient.builder(cairn, server.syncUri(), () -> server.token(USER))
                        .endToEnd(key, SEALED).backoff(Duration.ofMillis(20), Duration.ofMillis(400)).build()) {
            sync.start();
            sync.syncNow().orTimeout(20, TimeUnit.SECONDS).join();
            poll(() -> cairn.chat().history(CONVERSATION).size() == 2, "2 chat messages in the engine");
            assertEquals(browserChat, texts(cairn), "chat texts: DOM vs JVM engine");
            assertEquals("to run 5k", cairn.memory().recall("goal", String.class));
            assertTrue(cairn.progress().onboarding().completedSteps().contains("first-chat"), "unencrypted sections still sync");
            assertTrue(cairn.cards().card("sync").isExpanded(), "unencrypted sections still sync");

            cairn.chat().append(CONVERSATION, "assistant", "hello from the JVM engine");
            cairn.memory().remember("city", "Lisbon");
            sync.syncNow().orTimeout(20, TimeUnit.SECONDS).join();
            a.waitChatContains("hello from the JVM engine", Browser.LIVE);
            a.until(() -> a.text("memory-facts").contains("city: Lisbon"), Browser.LIVE, "the JVM's fact in the page");
            a.waitLiveAndSynced();
            assertEquals(texts(cairn), a.chatBubbles(), "chat texts in order: JVM engine vs DOM");
            a.screenshot("jvm-values");
        }

        // 3. PostgreSQL holds envelopes for chat and memory, never their plain text
        List<String> sealedValues = values("SELECT value FROM log_entries WHERE user_id = $1 AND section = 'chat'"
                + " UNION ALL SELECT value FROM map_entries WHERE user_id = $1 AND section = 'memory' AND value IS NOT NULL");
        assertEquals(5, sealedValues.size(), "3 chat entries and 2 memory facts: " + sealedValues);
        for (String v : sealedValues) {
            assertTrue(v.startsWith("{\"$e2e\":1,\"ct\":\"") && v.contains("\"kid\":\"" + key.id() + "\""), "not an envelope of this key: " + v);
        }
        List<String> everything = values("SELECT value FROM log_entries WHERE user_id = $1"
                + " UNION ALL SELECT value FROM map_entries WHERE user_id = $1 AND value IS NOT NULL");
        for (String secret : SECRETS) {
            assertFalse(everything.stream().anyMatch(v -> v.contains(secret)), "PostgreSQL holds \"" + secret + "\" in plain text: " + everything);
        }
        assertTrue(everything.contains("true"), "unencrypted sections stay readable (onboarding steps): " + everything);
        a.assertNoConsoleErrors();

        // 4. another browser profile with a wrong passphrase: a clear error, nothing applied, nothing pushed
        long head = server.head(USER);
        b = openEncrypted(new Browser("e2e-wrong", dirB));
        b.sendChat("written under the wrong key");
        b.until(() -> b.chatBubbles().size() == 2, "B's own message + reply, got " + b.chatBubbles());
        unlock(b, "not the passphrase");
        b.waitText("dash-status", "locked"::equals, "sync locked");
        b.until(() -> "locked".equals(b.attr("e2e-status", "data-state")), "the page to say the passphrase is wrong");
        b.waitText("dash-message", t -> t.contains("wrong passphrase"), "a clear error message");
        assertTrue(b.text("e2e-status").startsWith("Wrong passphrase"), b.text("e2e-status"));
        b.until(() -> "locked".equals(b.attr("status-banner", "data-state")), "the banner says sync is locked");
        System.out.println("wrong passphrase: " + b.text("dash-message"));
        b.screenshot("locked");
        b.holds(() -> "locked".equals(b.text("dash-status"))
                && b.chatBubbles().size() == 2 && b.chatBubbles().get(0).equals("written under the wrong key")
                && !b.text("memory-facts").contains("goal") && !b.text("memory-facts").contains("Lisbon")
                && b.isCard("sync", false), // a plain section of the same page is not applied either
                Duration.ofSeconds(2), "nothing applied, sync stays locked (no reconnect loop)");
        assertEquals(head, server.head(USER), "the wrong-passphrase profile pushed nothing");
        assertFalse(values("SELECT value FROM log_entries WHERE user_id = $1").stream().anyMatch(v -> v.contains("wrong key")));
        b.assertNoConsoleErrors();
    }

    private static List<String> texts(Cairn cairn) {
        return cairn.chat().history(CONVERSATION).stream().map(ChatMessage::text).collect(Collectors.toList());
    }

    /** The first column of every row of {@code sql} (parameter $1 is the user) on the server's database. */
    private static List<String> values(String sql) {
        PgConnection conn = TestServer.await(PgConnection.connect(admin, db.connectOptions()));
        try {
            List<String> out = new ArrayList<>();
            for (Row row : TestServer.await(conn.preparedQuery(sql).execute(Tuple.of(USER)))) {
                out.add(row.getString(0));
            }
            return out;
        } finally {
            conn.close();
        }
    }

    private static void poll(BooleanSupplier ok, String what) {
        long end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!ok.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("not within 20 s: " + what);
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }
}
