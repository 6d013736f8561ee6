package dev.cairn.server.browser;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.server.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Saved changes survive a reload; with the server stopped, a reload still opens the page (the
 * service worker serves the shell, the remembered user starts from this device's storage), shows
 * every saved change and takes edits, which reach the server once it is back. The page runs on
 * http://localhost so the service worker is allowed (a secure context).
 */
class ReloadIT {

    private static final String USER = "reload-ada";

    @TempDir
    static Path dir;

    private static TestServer server;
    private static Browser page;
    private static String base;

    @BeforeAll
    static void start() {
        Browser.requireInstalled();
        server = TestServer.embedded().start();
        base = "http://localhost:" + server.port();
        page = new Browser("reload", dir).signIn(base, USER);
    }

    @AfterAll
    static void stop() {
        try {
            if (page != null) {
                page.close();
            }
        } finally {
            if (server != null) {
                server.close();
            }
        }
    }

    private static void assertSavedState() {
        page.waitCard("sync", true, Browser.WAIT);
        page.waitCard("intro", false, Browser.WAIT);
        page.until(() -> "dark".equals(page.htmlTheme()), "dark theme");
        page.until(() -> !page.byId("component-tips").isDisplayed(), "tips hidden");
        page.until(() -> page.chatBubbles().size() == 2 && page.chatBubbles().get(0).equals("kept across reloads"),
                "the chat (message + reply), got " + page.chatBubbles());
    }

    @Test
    void changesSurviveReloadAndServerDowntime() {
        // the service worker has cached the shell
        Object cached = page.driver().executeAsyncScript(
                "const done = arguments[arguments.length - 1];"
                + "navigator.serviceWorker.ready.then(() => caches.keys())"
                + ".then((names) => Promise.all(names.map((n) => caches.open(n).then((c) => c.keys()))))"
                + ".then((lists) => done(lists.reduce((n, l) => n + l.length, 0)), (e) => done(String(e)))");
        assertTrue(cached instanceof Number && ((Number) cached).intValue() >= 11, "shell cached: " + cached);

        page.click("card-sync-toggle");
        page.waitCard("sync", true, Browser.WAIT);
        page.click("card-intro-toggle");
        page.waitCard("intro", false, Browser.WAIT);
        page.select("pref-theme", "dark");
        page.click("component-tips-hide");
        page.sendChat("kept across reloads");
        page.until(() -> page.chatBubbles().size() == 2, "the assistant's reply");
        page.waitLiveAndSynced();

        // 1. an ordinary reload
        page.driver().navigate().refresh();
        page.waitText("current-user", USER::equals, "signed in after reload");
        page.waitLiveAndSynced();
        assertSavedState();
        page.screenshot("reloaded");
        page.assertNoConsoleErrors();
        page.clearConsole();

        // 2. the server stops; a reload still opens the page as the remembered user
        long headBefore = server.head(USER);
        server.stop();
        page.driver().navigate().refresh();
        page.waitText("current-user", USER::equals, "signed in (from this device) with the server down");
        assertSavedState();
        page.waitText("dash-status", s -> !s.equals("live"), "not live with the server down");
        page.screenshot("server-down");

        // edits while the server is down stay on the device
        page.click("card-privacy-toggle");
        page.waitCard("privacy", true, Browser.WAIT);
        page.sendChat("written while the server was down");
        page.until(() -> page.chatBubbles().size() == 4, "message + reply while down, got " + page.chatBubbles());
        page.until(() -> page.pending() > 0, "pending changes while the server is down");
        page.holds(() -> !"live".equals(page.text("dash-status")) && page.pending() > 0, Duration.ofMillis(500),
                "stays not live with changes pending");
        page.screenshot("server-down-edits");

        // 3. the server is back: the edits reach it
        server.restart();
        assertEquals(headBefore, server.head(USER), "nothing reached the server while it was down");
        page.click("sync-now");   // a user's "sync now": reconnects at once instead of after the backoff
        page.until(() -> "live".equals(page.text("dash-status")) && page.pending() == 0, Duration.ofSeconds(40),
                "live with nothing pending after the restart");
        page.waitText("dash-message", "Everything is on the server."::equals, "manual sync done");
        String canonical = server.canonical(USER);
        assertTrue(canonical.contains("written while the server was down"), canonical);
        assertTrue(server.get("/api/export", server.token(USER)).json().path("sections").path("cards").path("entries")
                .path("card-privacy/isExpanded").path("value").asBoolean(false), "card privacy expanded on the server");
        assertFalse(page.chatBubbles().isEmpty());
        assertEquals(List.of("kept across reloads"), page.chatBubbles().subList(0, 1));
        page.screenshot("server-back");
        page.assertNoConsoleErrors(Browser.SERVER_DOWN);
    }
}
