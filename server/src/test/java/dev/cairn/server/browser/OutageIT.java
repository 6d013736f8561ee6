package dev.cairn.server.browser;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.server.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.logging.LogEntry;

/**
 * During a server outage the page says so in its banner, with when it tries again and "retry now";
 * its reconnect attempts never print the access token in the console and do not ask for a fresh
 * dev token each time; once the server is back it syncs with the token it has.
 */
class OutageIT {

    private static final String USER = "outage-ada";

    @TempDir
    static Path dir;

    private static TestServer server;
    private static Browser page;

    @BeforeAll
    static void start() {
        Browser.requireInstalled();
        server = TestServer.embedded().start();
        page = new Browser("outage", dir).signIn(server.httpBase(), USER);
    }

    @AfterAll
    static void stop() {
        Browser.closeAll(page, server);
    }

    private static long failures() {
        return ((Number) page.script("return window.cairnLink.failures")).longValue();
    }

    @Test
    void anOutageIsShownAndNeverPrintsTheToken() {
        String token = (String) page.script("return Object.values(localStorage).map(v => { try { return JSON.parse(v).token; }"
                + " catch { return null; } }).find(t => typeof t === 'string' && t.length > 20)");
        assertTrue(token != null && !token.isEmpty(), "the page keeps a token");
        page.assertNoConsoleErrors();
        page.clearConsole();

        server.stop();
        page.click("card-privacy-toggle");                                  // an edit during the outage
        page.until(() -> page.console().stream().filter(e -> java.util.Arrays.stream(Browser.SERVER_DOWN)
                .anyMatch(p -> p.matcher(e.getMessage()).find())).count() >= 4, Duration.ofSeconds(20),
                "several reconnect attempts logged");
        List<String> console = page.console().stream().map(LogEntry::getMessage).toList();
        assertTrue(console.stream().noneMatch(m -> m.contains(token) || m.contains("access_token")),
                "no console message carries the token: " + console);
        assertTrue(console.stream().noneMatch(m -> m.contains("/api/dev/token")),
                "no dev token asked for during the outage: " + console);

        page.until(() -> "unreachable".equals(page.attr("status-banner", "data-state")), Duration.ofSeconds(20),
                "the banner says the server does not answer");
        page.waitText("status-text", t -> t.contains("Trying again in") || t.contains("Trying again now"), "when it tries again");
        assertTrue(page.byId("status-retry").isDisplayed(), "retry now");
        long fetched = ((Number) page.script("return window.cairnLink.tokensFetched")).longValue();
        page.until(() -> failures() >= 2, Duration.ofSeconds(20), "several attempts");
        long before = failures();
        page.click("status-retry");
        page.until(() -> failures() > before, Duration.ofSeconds(5), "retry now tries at once");
        page.screenshot("outage");
        assertTrue(page.console().stream().noneMatch(e -> e.getMessage().contains(token)), "still no token in the console");
        page.assertNoConsoleErrors(Browser.SERVER_DOWN);

        server.restart();
        page.click("status-retry");
        page.until(() -> "live".equals(page.text("dash-status")) && page.pending() == 0, Duration.ofSeconds(20),
                "live and synced once the server is back");
        page.waitText("status-text", t -> t.startsWith("Up to date"), "the banner clears");
        assertEquals(fetched, ((Number) page.script("return window.cairnLink.tokensFetched")).longValue(),
                "the token it had still works: no fresh one");
        assertTrue(server.get("/api/export", server.token(USER)).json().path("sections").path("cards").path("entries")
                .path("card-privacy/isExpanded").path("value").asBoolean(false), "the outage's edit reached the server");
        page.clearConsole();
    }
}
