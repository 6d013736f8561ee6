package dev.cairn.server.browser;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.cairn.server.TestServer;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.WindowType;

/**
 * One profile, two tabs of the same user: with the server stopped after both loaded, a change in
 * one tab shows in the other (the client's BroadcastChannel), and back the other way.
 */
class TwoTabsIT {

    private static final String USER = "two-tabs-ada";

    @TempDir
    static Path dir;

    private static TestServer server;
    private static Browser page;
    private static String tab1;
    private static String tab2;

    @BeforeAll
    static void start() {
        Browser.requireInstalled();
        server = TestServer.embedded().start();
        page = new Browser("two-tabs", dir).signIn(server.httpBase(), USER);
        tab1 = page.driver().getWindowHandle();
        page.driver().switchTo().newWindow(WindowType.TAB);
        tab2 = page.driver().getWindowHandle();
        page.signIn(server.httpBase(), USER);
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

    private static void to(String tab) {
        page.driver().switchTo().window(tab);
    }

    @Test
    void tabsShareChangesWithoutTheServer() {
        to(tab1);
        page.waitLiveAndSynced();
        page.waitCard("sync", false, Browser.WAIT);
        server.stop();
        page.waitText("dash-status", s -> !s.equals("live"), "tab 1 notices the server is gone");
        to(tab2);
        page.waitText("dash-status", s -> !s.equals("live"), "tab 2 notices the server is gone");

        // tab 2 -> tab 1
        page.click("card-sync-toggle");
        page.waitCard("sync", true, Browser.WAIT);
        page.select("pref-theme", "dark");
        page.until(() -> "dark".equals(page.htmlTheme()), "dark in tab 2");
        page.sendChat("from tab two");
        page.screenshot("tab2");
        to(tab1);
        long ms = page.timeUntil(() -> page.isCard("sync", true) && "dark".equals(page.htmlTheme())
                && page.chatBubbles().contains("from tab two"), Browser.LIVE, "tab 2's changes in tab 1");
        System.out.println("tab 2 -> tab 1 without the server: " + ms + " ms");

        // tab 1 -> tab 2
        page.click("card-privacy-toggle");
        page.waitCard("privacy", true, Browser.WAIT);
        page.sendChat("from tab one");
        page.until(() -> page.chatBubbles().size() == 4, "2 messages + 2 replies in tab 1, got " + page.chatBubbles());
        page.screenshot("tab1");
        var inTab1 = page.chatBubbles();
        to(tab2);
        ms = page.timeUntil(() -> page.isCard("privacy", true) && page.chatBubbles().equals(inTab1), Browser.LIVE,
                "tab 1's changes in tab 2, tab 1 " + inTab1 + " tab 2 " + page.chatBubbles());
        System.out.println("tab 1 -> tab 2 without the server: " + ms + " ms");
        assertFalse("live".equals(page.text("dash-status")), "still without a server");
        assertEquals(2, page.driver().getWindowHandles().size());
        page.assertNoConsoleErrors(Browser.SERVER_DOWN);
    }
}
