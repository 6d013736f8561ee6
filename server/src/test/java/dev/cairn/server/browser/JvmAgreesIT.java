package dev.cairn.server.browser;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.Cairn;
import dev.cairn.engine.ChatMessage;
import dev.cairn.engine.sync.SyncClient;
import dev.cairn.server.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two browser profiles of one user edit while one of them is offline; back online both show the
 * same state, and a JVM engine of the same user (a real {@link Cairn} + {@link SyncClient}) syncs
 * and reads the same through its typed API. The demo page registers no sections beyond the
 * standard ones (its notes live in the standard "state" section), so neither does the server.
 */
class JvmAgreesIT {

    private static final String USER = "jvm-agrees-ada";
    private static final String CONVERSATION = "assistant";   // app.js CONVERSATION
    private static final List<String> CARDS = List.of("intro", "sync", "privacy");

    @TempDir
    static Path dirA;
    @TempDir
    static Path dirB;

    private static TestServer server;
    private static Browser a;
    private static Browser b;

    @BeforeAll
    static void start() {
        Browser.requireInstalled();
        server = TestServer.embedded().start();
        a = new Browser("jvm-agrees-a", dirA).signIn(server.httpBase(), USER);
        b = new Browser("jvm-agrees-b", dirB).signIn(server.httpBase(), USER);
    }

    @AfterAll
    static void stop() {
        for (Browser w : new Browser[] {a, b}) {
            if (w != null) {
                w.close();
            }
        }
        if (server != null) {
            server.close();
        }
    }

    @Test
    void browsersAndJvmEngineAgree() {
        a.setOffline(true);
        // A, offline: a card, the theme and two chat messages
        a.click("card-sync-toggle");
        a.waitCard("sync", true, Browser.WAIT);
        a.select("pref-theme", "dark");
        a.until(() -> "dark".equals(a.htmlTheme()), "dark theme applies offline");
        a.sendChat("offline note one");
        a.sendChat("offline note two");
        a.until(() -> a.chatBubbles().size() == 4, "2 messages + 2 replies in A, got " + a.chatBubbles());
        // B, online, edits too: another card, collapses intro, a font preference and chat
        b.click("card-privacy-toggle");
        b.waitCard("privacy", true, Browser.WAIT);
        b.click("card-intro-toggle");
        b.waitCard("intro", false, Browser.WAIT);
        b.select("pref-font", "large");
        b.sendChat("online note from B");
        b.until(() -> b.chatBubbles().size() == 2, "1 message + 1 reply in B, got " + b.chatBubbles());
        b.waitLiveAndSynced();
        a.screenshot("offline-edits");

        a.setOffline(false);
        a.waitLiveAndSynced();
        b.waitLiveAndSynced();
        for (Browser w : List.of(a, b)) {
            w.until(() -> w.chatBubbles().size() == 6 && w.isCard("sync", true) && w.isCard("privacy", true)
                    && w.isCard("intro", false) && "dark".equals(w.htmlTheme()), Browser.LIVE,
                    "all edits in both windows, chat " + w.chatBubbles());
        }
        a.until(() -> a.chatBubbles().equals(b.chatBubbles()), "identical chat, A " + a.chatBubbles() + " B " + b.chatBubbles());
        a.screenshot("converged");
        b.screenshot("converged");

        // a JVM engine of the same user syncs the server's state and agrees with the DOM
        try (Cairn cairn = Cairn.builder().inMemory().replicaId("jvm-agrees-engine").open();
                SyncClient sync = SyncClient.builder(cairn, server.syncUri(), () -> server.token(USER))
                        .backoff(Duration.ofMillis(20), Duration.ofMillis(400)).build()) {
            sync.start();
            poll(() -> sync.status().isLive(), "the JVM engine to be live: " + sync.status());
            sync.syncNow().orTimeout(20, java.util.concurrent.TimeUnit.SECONDS).join();
            poll(() -> cairn.chat().history(CONVERSATION).size() == 6, "6 chat messages in the engine");

            for (String card : CARDS) {
                boolean engine = cairn.cards().card(card, card.equals("intro")).isExpanded();
                assertEquals(a.isCard(card, true), engine, "card " + card + ": DOM vs engine");
                assertEquals(b.isCard(card, true), engine, "card " + card + ": DOM B vs engine");
            }
            assertEquals("dark", cairn.preferences().theme());
            assertEquals(a.byId("pref-theme").getDomProperty("value"), cairn.preferences().theme());
            assertEquals(b.byId("pref-theme").getDomProperty("value"), cairn.preferences().theme());
            assertEquals("large", cairn.preferences().get("fontSize", String.class, "normal"));
            List<String> engineChat = cairn.chat().history(CONVERSATION).stream().map(ChatMessage::text)
                    .collect(Collectors.toList());
            assertEquals(a.chatBubbles(), engineChat, "chat texts in order: DOM A vs engine");
            assertEquals(b.chatBubbles(), engineChat, "chat texts in order: DOM B vs engine");
            assertTrue(engineChat.containsAll(List.of("offline note one", "offline note two", "online note from B")));
            // and the engine's whole state is the server's, byte for byte
            assertEquals(server.canonical(USER), cairn.canonicalState(), "engine vs server canonical state");
            System.out.println("JVM engine agrees: " + engineChat);
        }
        a.assertNoConsoleErrors();
        b.assertNoConsoleErrors();
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
