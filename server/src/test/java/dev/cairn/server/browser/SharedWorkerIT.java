package dev.cairn.server.browser;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.server.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.WindowType;

/**
 * Issue 14 step 4: the tabs of one user in one profile sync through ONE shared worker, so the
 * server sees one WebSocket for them; an edit in one tab shows in the other; a tab closed with an
 * unacknowledged write loses nothing; the page works with the worker switched off
 * ({@code ?worker=none}, the in-page path); and where SharedWorker is missing, a tab syncs through
 * a dedicated Worker of its own.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SharedWorkerIT {

    private static final String USER = "shared-worker-ada";

    @TempDir
    static Path dir;

    private static TestServer server;
    private static Browser page;
    private static String tabA;
    private static String tabB;

    @BeforeAll
    static void start() {
        Browser.requireInstalled();
        server = TestServer.embedded().start();
        page = new Browser("shared-worker", dir).signIn(server.httpBase(), USER);
        tabA = page.driver().getWindowHandle();
        page.driver().switchTo().newWindow(WindowType.TAB);
        tabB = page.driver().getWindowHandle();
        page.signIn(server.httpBase(), USER);
    }

    @AfterAll
    static void stop() {
        Browser.closeAll(page, server);
    }

    @Test
    @Order(1)
    void twoTabsShareOneSocket() {
        to(tabA);
        assertEquals(Boolean.TRUE, page.script("return globalThis.cairn.worker !== null"), "tab A syncs through the worker");
        to(tabB);
        assertEquals(Boolean.TRUE, page.script("return globalThis.cairn.worker !== null"), "tab B syncs through the worker");
        page.until(() -> sessions() == 1, Duration.ofSeconds(5), "one socket on the server for two tabs, got " + sessions());
        page.holds(() -> sessions() == 1, Duration.ofSeconds(1), "still one socket");

        // tab A -> tab B (the tabs' BroadcastChannel), pushed once through the worker's socket
        to(tabA);
        page.click("card-sync-toggle");
        page.waitCard("sync", true, Browser.WAIT);
        page.waitLiveAndSynced();
        to(tabB);
        long ms = page.timeUntil(() -> page.isCard("sync", true), Browser.LIVE, "tab A's edit in tab B");
        System.out.println("tab A -> tab B through the shared worker: " + ms + " ms");

        // another device (the HTTP API) -> both tabs, through the one socket
        String token = server.token(USER);
        assertEquals(200, server.post("/api/preferences", token, "{\"theme\":\"dark\"}").status());
        page.until(() -> "dark".equals(page.htmlTheme()), Browser.LIVE, "the server's change in tab B");
        to(tabA);
        page.until(() -> "dark".equals(page.htmlTheme()), Browser.LIVE, "the server's change in tab A");
        assertEquals(1, sessions(), "still one socket");
        page.assertNoConsoleErrors();
    }

    @Test
    @Order(2)
    void aTabClosedWithAPendingWriteLosesNothing() {
        to(tabA);
        // Offline (the shared socket, so for both tabs): the write stays in the outbox.
        page.script("globalThis.cairn.setOffline(true)");
        page.waitText("dash-status", "offline"::equals, "offline");
        Object saved = page.driver().executeAsyncScript("const done = arguments[arguments.length - 1];"
                + "globalThis.cairn.state('closed-tab', '').setValue('kept');"
                + "globalThis.cairn.save().then(() => done(globalThis.cairn.syncStatus.pending), (e) => done(String(e)));");
        assertEquals(1L, saved, "the write is saved and pending");
        page.driver().close(); // tab A goes, its write not on the server

        to(tabB);
        page.until(() -> "\"kept\"".equals(page.script("return JSON.stringify(globalThis.cairn.get('state', 'closed-tab'))")),
                Browser.LIVE, "tab A's write in tab B");
        page.script("globalThis.cairn.setOffline(false)");
        page.waitText("dash-status", "live"::equals, "live again");
        page.until(() -> server.canonical(USER).contains("closed-tab"), Browser.WAIT,
                "the closed tab's write reaches the server through the worker");

        // reopened: the write is on the device
        page.driver().switchTo().newWindow(WindowType.TAB);
        tabA = page.driver().getWindowHandle();
        page.signIn(server.httpBase(), USER);
        assertEquals("\"kept\"", page.script("return JSON.stringify(globalThis.cairn.get('state', 'closed-tab'))"));
        page.until(() -> sessions() == 1, Duration.ofSeconds(5), "one socket for the two tabs again, got " + sessions());
    }

    @Test
    @Order(3)
    void thePageWorksWithTheWorkerOff() {
        page.driver().switchTo().newWindow(WindowType.TAB);
        String tabC = page.driver().getWindowHandle();
        page.driver().get(server.httpBase() + "/?worker=none&user=" + USER);
        page.waitText("current-user", USER::equals, "signed in");
        page.waitLiveAndSynced();
        assertEquals(Boolean.TRUE, page.script("return globalThis.cairn.worker === null"), "tab C syncs in its page");
        page.until(() -> sessions() == 2, Duration.ofSeconds(5), "the worker's socket and tab C's, got " + sessions());
        page.click("card-privacy-toggle");
        page.waitCard("privacy", true, Browser.WAIT);
        page.waitLiveAndSynced();
        to(tabB);
        page.until(() -> page.isCard("privacy", true), Browser.LIVE, "tab C's edit in tab B");
        page.until(() -> server.canonical(USER).contains("privacy"), Browser.WAIT, "tab C's edit on the server");
        page.holds(() -> page.pending() == 0, Duration.ofSeconds(1), "nothing pushed twice or left pending in tab B");
        to(tabC);
        page.assertNoConsoleErrors();
    }

    @Test
    @Order(4)
    void withoutSharedWorkerATabSyncsThroughADedicatedWorker() {
        page.driver().switchTo().newWindow(WindowType.TAB);
        String tabD = page.driver().getWindowHandle();
        // As in a browser without SharedWorker (Chrome on Android): gone before the page's scripts run.
        page.driver().executeCdpCommand("Page.addScriptToEvaluateOnNewDocument", Map.of("source", "delete globalThis.SharedWorker;"));
        page.driver().get(server.httpBase() + "/?user=" + USER);
        page.waitText("current-user", USER::equals, "signed in");
        page.waitLiveAndSynced();
        assertEquals(Boolean.TRUE, page.script("return typeof SharedWorker === 'undefined'"), "no SharedWorker in tab D");
        assertEquals("dedicated", page.script("return globalThis.cairn.worker && globalThis.cairn.worker.kind"), "tab D syncs through a dedicated worker");
        page.until(() -> sessions() == 3, Duration.ofSeconds(5), "the shared worker's socket, tab C's and tab D's worker's, got " + sessions());
        page.click("card-intro-toggle"); // expanded by default: collapsed here, the first write of it
        page.waitCard("intro", false, Browser.WAIT);
        page.waitLiveAndSynced();
        page.until(() -> server.canonical(USER).contains("intro"), Browser.WAIT, "tab D's edit on the server");
        to(tabB);
        page.until(() -> page.isCard("intro", false), Browser.LIVE, "tab D's edit in tab B");
        String token = server.token(USER);
        assertEquals(200, server.post("/api/preferences", token, "{\"theme\":\"light\"}").status());
        to(tabD);
        page.until(() -> "light".equals(page.htmlTheme()), Browser.LIVE, "the server's change in tab D, through its worker");
        page.assertNoConsoleErrors();
    }

    private static void to(String tab) {
        page.driver().switchTo().window(tab);
    }

    /** Open sync sessions on the server ({@code cairn_sessions} in /metrics). */
    private static int sessions() {
        for (String line : server.get("/metrics", null).body().split("\n")) {
            if (line.startsWith("cairn_sessions ")) {
                return (int) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        throw new AssertionError("no cairn_sessions in /metrics");
    }
}
