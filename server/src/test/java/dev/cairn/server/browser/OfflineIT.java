package dev.cairn.server.browser;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.server.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The page's offline switch: edits made offline show locally and wait in the outbox, the other
 * window of the same user does not get them; back online they arrive and nothing stays pending.
 */
class OfflineIT {

    private static final String USER = "offline-ada";

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
        a = new Browser("offline-a", dirA).signIn(server.httpBase(), USER);
        b = new Browser("offline-b", dirB).signIn(server.httpBase(), USER);
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
    void offlineEditsArriveWhenBackOnline() {
        long headBefore = server.head(USER);
        a.setOffline(true);
        assertEquals("offline", a.text("sync-status"));

        // edits while offline: shown at once in window A, kept as pending changes
        a.click("card-sync-toggle");
        a.waitCard("sync", true, Browser.WAIT);
        a.sendChat("written on the train");
        a.select("pref-theme", "dark");
        a.until(() -> "dark".equals(a.htmlTheme()), "dark theme applies offline");
        a.until(() -> a.pending() > 0, "pending changes > 0 while offline");
        a.screenshot("offline-edits");

        // meanwhile window B (online) edits too
        b.click("card-privacy-toggle");
        b.waitCard("privacy", true, Browser.WAIT);
        b.waitLiveAndSynced();

        // nothing of A's reaches B or the server while A is offline, and B's change does not reach A
        b.holds(() -> b.isCard("sync", false) && b.chatBubbles().isEmpty() && !"dark".equals(b.htmlTheme()),
                Duration.ofMillis(1500), "window B does not see window A's offline edits");
        a.holds(() -> a.isCard("privacy", false) && a.pending() > 0 && "offline".equals(a.text("dash-status")),
                Duration.ofMillis(300), "window A stays offline and does not see window B's edit");
        assertFalse(server.canonical(USER).contains("written on the train"), "the server has none of A's offline edits");
        assertEquals(headBefore + 2, server.head(USER), "only window B's card toggle (2 changes) reached the server");

        // back online: A's edits arrive in B, B's in A, nothing stays pending
        a.setOffline(false);
        long ms = b.timeUntil(() -> b.isCard("sync", true) && b.chatBubbles().contains("written on the train")
                && "dark".equals(b.htmlTheme()), Browser.LIVE, "window A's offline edits in window B");
        System.out.println("offline edits A -> B after reconnect: " + ms + " ms");
        a.waitCard("privacy", true, Browser.LIVE);
        a.waitLiveAndSynced();
        b.waitLiveAndSynced();
        assertEquals(0, a.pending());
        a.until(() -> a.chatBubbles().equals(b.chatBubbles()), "identical chat histories, A " + a.chatBubbles()
                + " B " + b.chatBubbles());
        assertTrue(server.canonical(USER).contains("written on the train"));
        a.screenshot("back-online");
        b.screenshot("back-online");

        // a deliberate cut of the socket is not an error on the console
        a.assertNoConsoleErrors();
        b.assertNoConsoleErrors();
    }
}
