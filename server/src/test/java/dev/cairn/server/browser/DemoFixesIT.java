package dev.cairn.server.browser;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.server.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.WindowType;
import org.openqa.selenium.chromium.ChromiumNetworkConditions;

/**
 * The demo page's rough edges, each fixed: the sign-in form's rule, a refused value, the status
 * banner and what survives a reload, the dashboard, a 390 px screen, several users in one profile
 * and sign-out. One browser profile, the tests in order.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DemoFixesIT {

    private static final String USER = "demo-fixes-ada.lovelace@example.org";
    private static final String OTHER = "demo-fixes-bob";

    @TempDir
    static Path dir;

    private static TestServer server;
    private static Browser page;

    @BeforeAll
    static void start() {
        Browser.requireInstalled();
        server = TestServer.embedded().start();
        page = new Browser("demo-fixes", dir);
    }

    @AfterAll
    static void stop() {
        Browser.closeAll(page, server);
    }

    @AfterEach
    void evidence(TestInfo info) {
        page.screenshot(info.getTestMethod().orElseThrow().getName());
        page.checkAndClearConsole();
    }

    private static String notesOnServer() {
        return server.get("/api/export", server.token(USER)).json().path("sections").path("state").path("entries")
                .path("notes").path("value").asText(null);
    }

    @Test
    @Order(1)
    void signInFormFollowsTheServersRule() {
        page.driver().get(server.httpBase() + "/");
        page.until(() -> page.byId("signin-form").isDisplayed(), "the sign-in form");
        // An invalid pattern is ignored by Chromium (validation off) and logged on every load.
        List<String> about = page.console().stream().map(e -> e.getMessage())
                .filter(m -> m.toLowerCase(java.util.Locale.ROOT).contains("pattern")).toList();
        assertEquals(List.of(), about, "console messages about the name's pattern");
        @SuppressWarnings("unchecked")
        List<Object> v = (List<Object>) page.script("const i = document.getElementById('signin-user');"
                + "const r = [];"
                + "i.value = 'a'.repeat(128); r.push(i.checkValidity());"
                + "i.value = 'a b'; r.push(i.validity.patternMismatch);"
                + "i.value = 'Ada.L-ove_1@x'; r.push(i.checkValidity());"
                + "r.push(i.maxLength); i.value = ''; return r;");
        assertEquals(List.of(true, true, true, 128L), v, "128 characters allowed, a space refused, the server's characters allowed");

        page.type("signin-user", USER);
        page.click("signin-submit");
        page.waitText("current-user", USER::equals, "signed in through the form");
        page.waitLiveAndSynced();
    }

    @Test
    @Order(2)
    void aRefusedValueShowsItsErrorAndNeverSaved() {
        page.type("notes-input", "a note that fits");
        page.click("notes-save");
        page.waitLiveAndSynced();
        page.waitText("notes-state", "saved"::equals, "the short note saved");
        // a paste of 12,000 characters: the validator allows 10,000
        page.script("const t = document.getElementById('notes-input'); t.value = 'x'.repeat(12000);"
                + "t.dispatchEvent(new Event('input', {bubbles: true}))");
        page.until(() -> page.byId("notes-error").isDisplayed(), "the validator's error next to the field");
        String error = page.text("notes-error");
        assertTrue(error.contains("12,000") && error.contains("10,000"), error);
        assertEquals("true", page.attr("notes-input", "aria-invalid"));
        page.holds(() -> "not saved".equals(page.text("notes-state")), Duration.ofMillis(2500), "never the \"saved\" badge");
        assertEquals("a note that fits", notesOnServer());

        page.script("const t = document.getElementById('notes-input'); t.value = 'short again';"
                + "t.dispatchEvent(new Event('input', {bubbles: true}))");
        page.until(() -> !page.byId("notes-error").isDisplayed(), "the error gone once the text fits");
        page.click("notes-save");
        page.waitLiveAndSynced();
        page.waitText("notes-state", "saved"::equals, "saved once it fits");
        assertEquals("short again", notesOnServer());
    }

    @Test
    @Order(3)
    void oneStatusBannerAndWhatSurvivesAReload() {
        page.waitText("status-text", t -> t.startsWith("Up to date"), "the banner says up to date");
        assertEquals("live", page.attr("status-banner", "data-state"));
        page.click("sync-now");
        page.waitText("dash-message", "Everything is on the server."::equals, "manual sync done");
        page.until(() -> page.text("dash-message").isEmpty(), Duration.ofSeconds(15), "the message clears once stale");

        page.setOffline(true);
        page.until(() -> "offline".equals(page.attr("status-banner", "data-state")), "the banner says offline");
        page.click("card-privacy-toggle");
        page.waitText("status-text", t -> t.matches(".*[1-9][0-9]* changes? waits? on this device.*"), "the pending count in the banner");
        assertTrue(page.byId("status-online").isDisplayed(), "a way back online in the banner");

        page.driver().navigate().refresh();
        page.waitText("current-user", USER::equals, "signed in after the reload");
        page.until(() -> page.byId("offline-toggle").isSelected(), "\"Work offline\" survives the reload");
        page.holds(() -> "offline".equals(page.text("dash-status")), Duration.ofMillis(1500), "still offline after the reload");
        page.waitText("dash-last-sync", t -> !t.equals("never"), "\"Last sync\" survives the reload");
        page.waitText("status-text", t -> t.startsWith("Working offline") && t.contains("last sync"), "the banner after the reload");

        page.click("status-online");
        page.waitLiveAndSynced();
        page.waitText("status-text", t -> t.startsWith("Up to date"), "up to date again");

        // The device loses its network (DevTools' offline emulation: navigator.onLine turns false
        // and the page hears 'offline'): the banner says so, and leaves once the network is back.
        ChromiumNetworkConditions none = new ChromiumNetworkConditions();
        none.setOffline(true);
        page.driver().setNetworkConditions(none);
        try {
            page.until(() -> "no-network".equals(page.attr("status-banner", "data-state")), "the banner says there is no network");
            page.waitText("status-text", t -> t.startsWith("No network on this device"), "the banner's no-network text");
            assertFalse(page.byId("status-retry").isDisplayed(), "nothing to retry while the device has no network");
        } finally {
            page.driver().deleteNetworkConditions();
        }
        page.waitLiveAndSynced();
        page.waitText("status-text", t -> t.startsWith("Up to date"), "up to date once the network is back");
        // What the browser logs of a socket or request the emulation cut, and nothing else.
        page.checkAndClearConsole(Pattern.compile("ERR_INTERNET_DISCONNECTED|WebSocket connection to .* failed"));
    }

    @Test
    @Order(4)
    void dashboardWhereTheUserLooks() {
        page.script("window.scrollTo(0, 0)");
        Object top = page.script("return document.getElementById('dashboard').getBoundingClientRect().top < innerHeight");
        assertEquals(Boolean.TRUE, top, "the dashboard is in view at the top of the page");
        // meters against what each place can hold, not against the largest one
        page.until(() -> page.exists("tier-memory"), "the storage meters");
        @SuppressWarnings("unchecked")
        List<String> percents = (List<String>) page.script(
                "return [...document.querySelectorAll('#dash-tiers .meter')].map(m => m.dataset.percent)");
        assertFalse(percents.isEmpty());
        percents.forEach(p -> assertTrue(Double.parseDouble(p) < 50, "absolute meters, got " + percents));
        page.waitText("dash-status-label", t -> t.startsWith("Up to date"), "the sync state in plain words");
        page.until(() -> page.text("section-chat").contains("history (kept in order)"), "plain words for a log section");

        // the completed assessment shows the chosen answers
        page.click("question-sleep-1");
        page.click("question-exercise-2");
        page.click("question-stress-2");
        page.click("assessment-complete");
        page.waitText("assessment-answers", t -> t.contains("6-8") && t.contains("Daily") && t.contains("High"), "the chosen answers");

        // the waiver's history, oldest first, the newest marked
        page.click("waiver-sign");
        page.waitText("waiver-status", t -> t.contains("signed and active"), "signed");
        page.click("waiver-revoke");
        page.waitText("waiver-status", "No active waiver"::equals, "revoked");
        @SuppressWarnings("unchecked")
        List<String> history = (List<String>) page.script(
                "return [...document.querySelectorAll('#waiver-history li')].map(li => li.textContent)");
        assertTrue(history.get(0).startsWith("Signed") && history.get(history.size() - 1).startsWith("Revoked")
                && history.get(history.size() - 1).endsWith("(latest)"), history.toString());

        // the ui and features sections, written and shown
        page.click("feature-compactCards");
        page.waitText("layout-entries", t -> t.contains("features · compactCards: true"), "a feature switch shown");
        page.click("dashboard-title");
        page.waitText("layout-entries", t -> t.contains("ui · dashboardOpen: false"), "the folded dashboard in ui");
        page.click("dashboard-title");
        page.waitText("layout-entries", t -> t.contains("ui · dashboardOpen: true"), "unfolded again");
        page.waitLiveAndSynced();
        assertEquals("true", server.get("/api/export", server.token(USER)).json().path("sections").path("features")
                .path("entries").path("compactCards").path("value").asText());
    }

    @Test
    @Order(5)
    void nothingScrollsSidewaysAt390Pixels() {
        page.script("window.scrollTo(0, 0)");
        page.screenshot("1280-wide");
        page.driver().executeCdpCommand("Emulation.setDeviceMetricsOverride",
                Map.of("width", 390, "height", 844, "deviceScaleFactor", 2, "mobile", true));
        try {
            page.until(() -> Long.valueOf(390).equals(page.script("return screen.width")), "a 390 px wide phone");
            // A phone widens the layout viewport (and zooms out) to fit content wider than the screen.
            page.until(() -> Boolean.TRUE.equals(page.script(
                    "return innerWidth === 390 && document.documentElement.scrollWidth <= 390")),
                    "nothing wider than the screen: innerWidth " + page.script("return innerWidth") + ", scrollWidth "
                            + page.script("return document.documentElement.scrollWidth"));
            page.script("window.scrollTo(0, 0)");
            page.screenshot("390-wide");
            page.script("document.getElementById('dash-sections').scrollIntoView()");
            page.screenshot("390-wide-dashboard");
        } finally {
            page.driver().executeCdpCommand("Emulation.clearDeviceMetricsOverride", Map.of());
        }
    }

    @Test
    @Order(6)
    void anotherUserInASecondWindowLeavesTheFirstAlone() {
        String first = page.driver().getWindowHandle();
        page.driver().switchTo().newWindow(WindowType.WINDOW);
        page.driver().get(server.httpBase() + "/?user=" + OTHER);
        page.waitText("current-user", OTHER::equals, "the second window signed in as " + OTHER);
        page.waitLiveAndSynced();
        page.driver().close();
        page.driver().switchTo().window(first);
        page.driver().navigate().refresh();
        page.waitText("current-user", USER::equals, "the first window is still " + USER + " after a reload");
        page.holds(() -> USER.equals(page.text("current-user")), Duration.ofMillis(1000), "stays " + USER);
        page.waitLiveAndSynced();
    }

    @Test
    @Order(7)
    void signOutSticksAndCanRemoveTheData() {
        page.driver().get(server.httpBase() + "/?user=" + USER);
        page.waitText("current-user", USER::equals, "signed in through the address");
        page.waitLiveAndSynced();
        page.click("signout");
        page.until(() -> page.byId("signout-dialog").isDisplayed(), "the sign-out dialog");
        page.click("signout-remove");
        page.click("signout-confirm");
        page.until(() -> page.byId("signin-form").isDisplayed(), "the sign-in form after signing out");
        page.driver().navigate().refresh();
        page.holds(() -> page.byId("signin-form").isDisplayed() && !page.byId("app-view").isDisplayed(),
                Duration.ofMillis(2000), "signed out after a reload too");
        @SuppressWarnings("unchecked")
        List<String> keys = (List<String>) page.script("return Object.keys(localStorage)");
        assertTrue(keys.stream().noneMatch(k -> k.contains(USER)), "nothing of " + USER + " in localStorage: " + keys);
        @SuppressWarnings("unchecked")
        List<String> dbs = (List<String>) page.driver().executeAsyncScript(
                "const done = arguments[0]; indexedDB.databases().then(l => done(l.map(d => d.name)))");
        assertFalse(dbs.contains("cairn-" + USER), "the user's database is removed: " + dbs);
        assertTrue(dbs.contains("cairn-" + OTHER), "another user's data stays: " + dbs);
    }
}
