package dev.cairn.server.browser;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.server.TestServer;
import java.nio.file.Path;
import java.time.Duration;
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
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;

/**
 * Issue 18 step 7: the demo's "Shared checklist" in two browser profiles. Alice creates it and
 * invites bob by code; bob joins; each one's item shows on the other's page live, and one written
 * offline once back online; alice sees bob's avatar; as a viewer bob's controls are disabled and
 * a write he forces anyway is refused and shown as refused; removed, bob reads the removal message
 * and gets nothing alice writes later.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SharedChecklistIT {

    private static final String ALICE = "alice";
    private static final String BOB = "bob";
    /** How long a change of one user may take to show on the other's page. */
    private static final Duration LIVE = Duration.ofSeconds(5);

    @TempDir
    static Path dirAlice;
    @TempDir
    static Path dirBob;

    private static TestServer server;
    private static Browser alice;
    private static Browser bob;
    private static String spaceId;

    @BeforeAll
    static void start() {
        Browser.requireInstalled();
        server = TestServer.embedded().start();
        alice = turnOnSpaces(new Browser("checklist-alice", dirAlice).signIn(server.httpBase(), ALICE));
        bob = turnOnSpaces(new Browser("checklist-bob", dirBob).signIn(server.httpBase(), BOB));
    }

    @AfterAll
    static void stop() {
        Browser.closeAll(alice, bob, server);
    }

    @AfterEach
    void evidence(TestInfo info) {
        for (Browser w : List.of(alice, bob)) {
            w.screenshot(info.getTestMethod().orElseThrow().getName());
            w.assertNoConsoleErrors();
            w.clearConsole();
        }
    }

    /** The panel's button: the page opens again with spaces on (they sync through the shared worker, as the user's state). */
    private static Browser turnOnSpaces(Browser w) {
        w.click("checklist-enable");
        w.until(() -> w.byId("checklist-create-name").isDisplayed(), "the checklist panel with spaces on");
        w.waitLiveAndSynced();
        assertEquals(Boolean.TRUE, w.script("return globalThis.cairn.options.spaces === true"));
        assertEquals("shared", w.script("return globalThis.cairn.worker && globalThis.cairn.worker.kind"), "spaces do not keep the page off the shared worker");
        return w;
    }

    /** The item showing {@code text}, or null. */
    private static WebElement item(Browser w, String text) {
        List<WebElement> found = w.driver().findElements(By.cssSelector("#checklist-items li[data-text='" + text + "']"));
        return found.isEmpty() ? null : found.get(0);
    }

    private static boolean shows(Browser w, String text) {
        return item(w, text) != null;
    }

    private static void add(Browser w, String text) {
        w.type("checklist-new", text);
        w.click("checklist-add");
        w.until(() -> shows(w, text), "\"" + text + "\" in the own list");
    }

    private static boolean enabled(Browser w, String id) {
        return w.byId(id).isEnabled();
    }

    /** Whether the server holds the item (alice reads the space's export). */
    private static boolean onServer(String text) {
        TestServer.Response r = server.get("/api/spaces/" + spaceId + "/export", server.token(ALICE));
        return r.status() == 200 && r.body().contains("\"" + text + "\"");
    }

    @Test
    @Order(1)
    void aliceCreatesTheChecklistAndBobJoinsByCode() {
        alice.type("checklist-create-name", "Groceries");
        alice.click("checklist-create");
        alice.waitText("checklist-name", "Groceries"::equals, "the new checklist shown");
        alice.waitText("checklist-role", "owner"::equals, "alice owns it");
        spaceId = (String) alice.script("return globalThis.checklist.current");
        assertEquals(Boolean.TRUE, alice.script("return !!globalThis.cairn.openedSpace(globalThis.checklist.current).workerLink"),
                "the space's database and traffic are the shared worker's");

        alice.select("checklist-invite-role", "editor");
        alice.click("checklist-invite");
        alice.waitText("checklist-invite-code", t -> !t.isEmpty(), "an invitation code");
        String code = alice.text("checklist-invite-code").trim();

        bob.type("checklist-join-code", code);
        bob.click("checklist-join");
        bob.waitText("checklist-name", "Groceries"::equals, "bob sees the checklist he joined");
        bob.waitText("checklist-role", "editor"::equals, "bob joined as an editor");
        assertEquals(spaceId, bob.script("return globalThis.checklist.current"));
        alice.until(() -> alice.exists("checklist-member-bob"), LIVE, "bob among alice's members");
        assertEquals("editor", alice.attr("checklist-member-bob", "data-role"));
    }

    @Test
    @Order(2)
    void bothEditLiveAndOffline() {
        add(alice, "Milk");
        long ms = bob.timeUntil(() -> shows(bob, "Milk"), LIVE, "alice's item on bob's page");
        System.out.println("alice -> bob: " + ms + " ms");
        add(bob, "Bread");
        ms = alice.timeUntil(() -> shows(alice, "Bread"), LIVE, "bob's item on alice's page");
        System.out.println("bob -> alice: " + ms + " ms");

        String milk = item(bob, "Milk").getDomAttribute("id");
        bob.click(milk + "-done");
        alice.until(() -> alice.byId(milk + "-done").isSelected(), LIVE, "bob's tick on alice's page");

        alice.setOffline(true);
        add(alice, "Eggs");
        bob.holds(() -> !shows(bob, "Eggs"), Duration.ofSeconds(1), "nothing of alice's while she is offline");
        alice.setOffline(false);
        bob.until(() -> shows(bob, "Eggs"), LIVE, "alice's offline item once she is back online");
    }

    @Test
    @Order(3)
    void aliceSeesWhoIsHere() {
        alice.until(() -> alice.exists("checklist-avatar-bob"), LIVE, "bob's avatar on alice's page");
        assertEquals("BO", alice.text("checklist-avatar-bob"));
        bob.until(() -> bob.exists("checklist-avatar-alice"), LIVE, "alice's avatar on bob's page");
    }

    @Test
    @Order(4)
    void aViewersControlsAreDisabledAndAForcedWriteIsRefused() {
        alice.select("checklist-member-bob-role", "viewer");
        bob.waitText("checklist-role", "viewer"::equals, "bob is told he is a viewer");
        bob.until(() -> !enabled(bob, "checklist-new") && !enabled(bob, "checklist-add"), "bob cannot add");
        String bread = item(bob, "Bread").getDomAttribute("id");
        bob.until(() -> !enabled(bob, bread + "-done") && !enabled(bob, bread + "-remove"), "bob cannot tick nor remove");
        assertTrue(bob.byId("checklist-viewer").isDisplayed(), "bob reads why");

        // A write made anyway (the console, or a device that had not heard of the change yet) is refused and shown so.
        bob.script("globalThis.checklist.watched.write('set', 'state', 'item/forced', {text: 'Forced', done: false, at: Date.now()})");
        bob.until(() -> bob.byId("checklist-refused").isDisplayed(), LIVE, "the refusal shown");
        bob.until(() -> item(bob, "Forced").getDomAttribute("class").contains("refused"), "the item marked refused");
        alice.holds(() -> !shows(alice, "Forced"), Duration.ofSeconds(1), "the refused item never reaches alice");
        assertFalse(onServer("Forced"), "the server committed nothing of the viewer's");
        bob.clearConsole(); // the refusal may be logged as the error it is
    }

    @Test
    @Order(5)
    void removingBobEndsHisViewAtOnce() {
        alice.click("checklist-member-bob-remove");
        bob.until(() -> bob.byId("checklist-left").isDisplayed(), LIVE, "bob is told he was removed");
        assertTrue(bob.text("checklist-left").contains("You were removed from this space"), bob.text("checklist-left"));
        alice.until(() -> !alice.exists("checklist-member-bob"), LIVE, "bob gone from alice's members");
        alice.until(() -> !alice.exists("checklist-avatar-bob"), LIVE, "bob's avatar gone from alice's page");

        add(alice, "After");
        alice.until(() -> onServer("After"), LIVE, "alice's later item on the server");
        bob.holds(() -> !shows(bob, "After"), Duration.ofSeconds(2), "nothing alice writes later reaches bob");
        assertTrue(shows(bob, "Milk"), "bob keeps his read-only copy of what he had");
        assertFalse(enabled(bob, "checklist-new"), "bob's copy is read-only");
    }

    @Test
    @Order(6)
    void signingOutWithTheDataRemovedDeletesTheSpacesDatabasesToo() {
        String spaceDb = "cairn-" + ALICE + "/space/" + spaceId;
        assertTrue(databases(alice).contains(spaceDb), "alice's space has its database: " + databases(alice));
        alice.click("signout");
        alice.until(() -> alice.byId("signout-dialog").isDisplayed(), "the sign-out dialog");
        alice.click("signout-remove");
        alice.click("signout-confirm");
        alice.until(() -> alice.byId("signin-form").isDisplayed(), "the sign-in form after signing out");
        alice.driver().navigate().refresh();
        alice.until(() -> alice.byId("signin-form").isDisplayed(), "still signed out after a reload");
        // The shared worker held the databases open: the browser deletes them once it ended with the page.
        alice.until(() -> databases(alice).stream().noneMatch(n -> n.startsWith("cairn-" + ALICE)), LIVE,
                "nothing of alice's in IndexedDB (her space's database included)");
        assertTrue(databases(bob).stream().anyMatch(n -> n.startsWith("cairn-" + BOB + "/space/")), "bob's profile keeps his copy");
    }

    /** The IndexedDB databases of a profile. */
    @SuppressWarnings("unchecked")
    private static List<String> databases(Browser w) {
        return (List<String>) w.driver().executeAsyncScript(
                "const done = arguments[0]; indexedDB.databases().then(l => done(l.map(d => d.name)))");
    }
}
