package dev.cairn.server.browser;

import static org.junit.jupiter.api.Assertions.assertEquals;

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

/**
 * The notes field being edited on device A is never overwritten by device B's change, and never
 * overwrites it back: A shows "changed on another device" with B's text, and A's next keystroke
 * leaves B's edit alone until A takes theirs, keeps mine or merges.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class NotesConflictIT {

    private static final String USER = "notes-conflict-ada";

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
        a = new Browser("notes-conflict-a", dirA).signIn(server.httpBase(), USER);
        b = new Browser("notes-conflict-b", dirB).signIn(server.httpBase(), USER);
    }

    @AfterAll
    static void stop() {
        Browser.closeAll(a, b, server);
    }

    @AfterEach
    void evidence(TestInfo info) {
        for (Browser w : List.of(a, b)) {
            w.screenshot(info.getTestMethod().orElseThrow().getName());
            w.assertNoConsoleErrors();
            w.clearConsole();
        }
    }

    private static String value(Browser w) {
        return w.byId("notes-input").getDomProperty("value");
    }

    private static String onServer() {
        return server.get("/api/export", server.token(USER)).json().path("sections").path("state").path("entries")
                .path("notes").path("value").asText(null);
    }

    /** Types into the notes and saves at once; the other window shows it. */
    private static void write(Browser from, Browser to, String text) {
        from.type("notes-input", text);
        from.click("notes-save");
        from.waitLiveAndSynced();
        to.until(() -> text.equals(value(to)), Browser.LIVE, "the notes \"" + text + "\" in the other window");
    }

    @Test
    @Order(1)
    void aKeystrokeNeverErasesTheOtherDevicesEdit() {
        write(a, b, "shared start");
        a.script("document.getElementById('notes-input').focus()");    // A is editing
        write(b, b, "edited on B");
        a.until(() -> a.byId("notes-conflict").isDisplayed(), Browser.LIVE, "A shows the notes changed on another device");
        assertEquals("edited on B", a.text("notes-theirs"));
        assertEquals("shared start", value(a), "A's text is not replaced under the cursor");
        assertEquals("changed on another device", a.text("notes-state"));

        a.byId("notes-input").sendKeys("!");                            // A's next keystroke
        a.holds(() -> a.byId("notes-conflict").isDisplayed() && "edited on B".equals(value(b)), Duration.ofMillis(2500),
                "past the save delay, B's edit stands and A still chooses");
        a.waitLiveAndSynced();
        assertEquals("edited on B", onServer(), "A's keystroke did not reach the server");

        a.click("notes-take-theirs");
        a.until(() -> "edited on B".equals(value(a)) && !a.byId("notes-conflict").isDisplayed(), "A took theirs");
        a.waitText("notes-state", "saved"::equals, "nothing of A's left unsaved");
    }

    @Test
    @Order(2)
    void keepMineWinsEverywhere() {
        a.script("document.getElementById('notes-input').focus()");
        write(b, b, "B again");
        a.until(() -> a.byId("notes-conflict").isDisplayed(), Browser.LIVE, "the conflict on A");
        a.click("notes-keep-mine");
        a.until(() -> !a.byId("notes-conflict").isDisplayed(), "the conflict resolved");
        a.click("notes-save");
        a.waitLiveAndSynced();
        b.until(() -> "edited on B".equals(value(b)), Browser.LIVE, "A's kept text on B");
        assertEquals("edited on B", onServer());
    }

    @Test
    @Order(3)
    void mergeKeepsBothEdits() {
        a.script("document.getElementById('notes-input').focus()");
        write(b, b, "B: edited on B");                                  // B edits the start
        a.until(() -> a.byId("notes-conflict").isDisplayed(), Browser.LIVE, "the conflict on A");
        a.script("const t = document.getElementById('notes-input'); t.setSelectionRange(t.value.length, t.value.length)");
        a.byId("notes-input").sendKeys(" + A");                         // A edits the end
        a.click("notes-merge");
        a.until(() -> "B: edited on B + A".equals(value(a)), "both edits in A's field, got " + value(a));
        a.click("notes-save");
        a.waitLiveAndSynced();
        b.until(() -> "B: edited on B + A".equals(value(b)), Browser.LIVE, "the merge on B");
        assertEquals("B: edited on B + A", onServer());
    }
}
