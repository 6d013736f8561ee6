package dev.cairn.server.browser;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.server.TestServer;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two browser profiles (separate drivers and user-data-dirs) signed in as one user see each
 * other's changes live; a third profile signed in as another user sees none of them.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class TwoWindowsIT {

    private static final String USER = "two-windows-ada";
    private static final String OTHER = "two-windows-bob";

    @TempDir
    static Path dirA;
    @TempDir
    static Path dirB;
    @TempDir
    static Path dirOther;

    private static TestServer server;
    private static Browser a;
    private static Browser b;
    private static Browser other;

    @BeforeAll
    static void start() {
        Browser.requireInstalled();
        server = TestServer.embedded().start();
        a = new Browser("two-windows-a", dirA).signIn(server.httpBase(), USER);
        b = new Browser("two-windows-b", dirB).signIn(server.httpBase(), USER);
        other = new Browser("two-windows-other", dirOther).signIn(server.httpBase(), OTHER);
        assertFalse(a.text("dash-replica").equals(b.text("dash-replica")), "two profiles are two devices");
    }

    @AfterAll
    static void stop() {
        for (Browser w : new Browser[] {a, b, other}) {
            if (w != null) {
                w.close();
            }
        }
        if (server != null) {
            server.close();
        }
    }

    @AfterEach
    void evidence(TestInfo info) {
        String test = info.getTestMethod().orElseThrow().getName();
        for (Browser w : List.of(a, b, other)) {
            w.screenshot(test);
            w.assertNoConsoleErrors();
            w.clearConsole();
        }
    }

    @Test
    @Order(1)
    void cardToggleShowsInTheOtherWindow() {
        b.waitCard("privacy", false, Browser.WAIT);
        a.click("card-privacy-toggle");
        a.waitCard("privacy", true, Browser.WAIT);
        long ms = b.timeUntil(() -> b.isCard("privacy", true), Browser.LIVE, "card privacy expanded in window B");
        System.out.println("card toggle A -> B: " + ms + " ms");

        b.click("card-intro-toggle");                       // and back the other way
        b.waitCard("intro", false, Browser.WAIT);
        ms = a.timeUntil(() -> a.isCard("intro", false), Browser.LIVE, "card intro collapsed in window A");
        System.out.println("card toggle B -> A: " + ms + " ms");
    }

    @Test
    @Order(2)
    void chatMessageShowsInTheOtherWindow() {
        a.sendChat("hello from window A");
        long ms = b.timeUntil(() -> b.chatBubbles().contains("hello from window A"), Browser.LIVE,
                "window A's message in window B's history");
        System.out.println("chat A -> B: " + ms + " ms");
        b.sendChat("and hello from window B");
        a.waitChatContains("and hello from window B", Browser.LIVE);
        // both windows show the same conversation, in the same order (2 messages + 2 assistant replies)
        a.until(() -> a.chatBubbles().size() == 4 && a.chatBubbles().equals(b.chatBubbles()),
                "identical histories, A " + a.chatBubbles() + " B " + b.chatBubbles());
    }

    @Test
    @Order(3)
    void themeAndComponentShowInTheOtherWindow() {
        a.select("pref-theme", "dark");
        b.until(() -> "dark".equals(b.htmlTheme()), Browser.LIVE, "window B turns dark");
        a.click("component-tips-hide");
        b.until(() -> !b.byId("component-tips").isDisplayed(), Browser.LIVE, "tips hidden in window B");
    }

    @Test
    @Order(4)
    void anotherUserSeesNone() {
        a.waitLiveAndSynced();
        b.waitLiveAndSynced();
        other.waitLiveAndSynced();
        other.holds(() -> other.chatBubbles().isEmpty() && other.isCard("privacy", false) && other.isCard("intro", true)
                && !"dark".equals(other.htmlTheme()) && other.byId("component-tips").isDisplayed(),
                java.time.Duration.ofMillis(500), "the other user's page keeps its defaults");
        other.waitText("chat-history", t -> t.contains("No messages yet"), "empty chat for the other user");

        JsonNode mine = server.get("/api/export", server.token(OTHER)).json().path("sections");
        String text = mine.toString();
        assertFalse(text.contains("hello from window"), "the other user's export has no chat of " + USER + ": " + text);
        assertFalse(text.contains("card-privacy"), "the other user's export has no cards of " + USER + ": " + text);
        assertTrue(server.canonical(USER).contains("hello from window A"), "the first user's state is on the server");
        assertFalse(server.canonical(OTHER).contains("hello from window"));
        assertEquals(0, other.pending());
    }
}
