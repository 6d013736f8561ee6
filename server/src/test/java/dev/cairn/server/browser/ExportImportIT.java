package dev.cairn.server.browser;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.codec.Json;
import dev.cairn.server.TestServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Export to a file, clear the sections from the dashboard, import the file. An import is a merge
 * (the file keeps its stamps), so the newer clear wins in the same account; imported into an
 * empty account (a new server and profile) the file restores the whole state, in the page and
 * on the server.
 */
class ExportImportIT {

    private static final String USER = "export-import-ada";

    @TempDir
    static Path dir;
    @TempDir
    static Path restoreDir;

    private static TestServer server;
    private static Browser page;

    @BeforeAll
    static void start() {
        Browser.requireInstalled();
        server = TestServer.embedded().start();
        page = new Browser("export-import", dir).signIn(server.httpBase(), USER);
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

    private static void clear(String section) {
        page.until(() -> page.sectionEntries(section) > 0, section + " has entries");
        page.click("clear-" + section);
        page.driver().switchTo().alert().accept();
        page.waitText("dash-message", t -> t.matches("Cleared [1-9][0-9]* " + section + " entries\\."), "cleared " + section);
    }

    @Test
    void exportClearImport() throws IOException {
        page.click("card-sync-toggle");
        page.waitCard("sync", true, Browser.WAIT);
        page.click("card-intro-toggle");
        page.waitCard("intro", false, Browser.WAIT);
        page.select("pref-theme", "dark");
        page.until(() -> "dark".equals(page.htmlTheme()), "dark theme");
        page.sendChat("exported and back");
        page.until(() -> page.chatBubbles().size() == 2, "message + reply");
        page.waitLiveAndSynced();
        List<String> chat = page.chatBubbles();
        String before = server.canonical(USER);

        page.click("export");
        page.waitText("dash-message", "Exported your data to a file."::equals, "export message");
        Path downloads = Browser.downloads(dir);
        page.until(() -> finishedDownload(downloads) != null, "the export file in " + downloads);
        Path file = finishedDownload(downloads);
        JsonNode exported = Json.MAPPER.readTree(file.toFile());
        assertTrue(exported.path("sections").path("chat").toString().contains("exported and back"));
        page.screenshot("exported");

        for (String section : List.of("cards", "preferences", "chat")) {
            clear(section);
        }
        page.waitCard("sync", false, Browser.WAIT);
        page.waitCard("intro", true, Browser.WAIT);
        page.until(() -> !"dark".equals(page.htmlTheme()), "theme back to the default");
        page.until(() -> page.chatBubbles().isEmpty(), "chat empty");
        page.waitLiveAndSynced();
        page.screenshot("cleared");

        // 1. importing the backup into the cleared account restores it: entries the clear hid are
        //    written again as new changes (Cairn#restoreData), so the restore wins over the clear
        //    on every device, and the server has them too
        page.byId("import-file").sendKeys(file.toAbsolutePath().toString());
        page.waitText("dash-message", t -> t.matches("Imported [1-9][0-9]* entries \\([1-9][0-9]* changed this device, [1-9][0-9]* restored\\)\\."),
                "import message: entries restored");
        System.out.println("import into the cleared account: " + page.text("dash-message"));
        page.waitCard("sync", true, Browser.WAIT);
        page.waitCard("intro", false, Browser.WAIT);
        page.until(() -> "dark".equals(page.htmlTheme()), "dark theme again");
        page.until(() -> page.chatBubbles().equals(chat), "the chat again, got " + page.chatBubbles());
        page.waitLiveAndSynced();
        JsonNode restored = server.get("/api/export", server.token(USER)).json().path("sections");
        assertTrue(restored.path("cards").path("entries").path("card-sync/isExpanded").path("value").asBoolean(false),
                restored.path("cards").toString());
        assertEquals("dark", server.get("/api/preferences", server.token(USER)).json().path("theme").asText());
        assertTrue(restored.path("chat").toString().contains("exported and back"), restored.path("chat").toString());
        page.screenshot("imported-after-clear");
        page.assertNoConsoleErrors();

        // 2. importing into an empty account (a new server, a new browser profile) restores everything
        try (TestServer fresh = TestServer.embedded().start();
                Browser restore = new Browser("export-import-restore", restoreDir).signIn(fresh.httpBase(), USER)) {
            restore.waitCard("sync", false, Browser.WAIT);
            restore.byId("import-file").sendKeys(file.toAbsolutePath().toString());
            restore.waitText("dash-message", t -> t.matches("Imported [1-9][0-9]* entries \\([1-9][0-9]* changed this device, 0 restored\\)\\."),
                    "import message");
            System.out.println("import into an empty account: " + restore.text("dash-message"));
            restore.waitCard("sync", true, Browser.WAIT);
            restore.waitCard("intro", false, Browser.WAIT);
            restore.until(() -> "dark".equals(restore.htmlTheme()), "dark theme again");
            restore.until(() -> restore.chatBubbles().equals(chat), "the chat again, got " + restore.chatBubbles());
            restore.waitLiveAndSynced();
            restore.screenshot("imported");
            JsonNode sections = fresh.get("/api/export", fresh.token(USER)).json().path("sections");
            assertTrue(sections.path("cards").path("entries").path("card-sync/isExpanded").path("value").asBoolean(false),
                    sections.path("cards").toString());
            assertEquals("dark", fresh.get("/api/preferences", fresh.token(USER)).json().path("theme").asText());
            assertEquals(before, fresh.canonical(USER), "the new server holds exactly the exported state");
            restore.assertNoConsoleErrors();
        }
    }

    private static Path finishedDownload(Path downloads) {
        if (!Files.isDirectory(downloads)) {
            return null;
        }
        try (Stream<Path> files = Files.list(downloads)) {
            return files.filter(f -> f.getFileName().toString().startsWith("cairn-" + USER)
                    && f.getFileName().toString().endsWith(".json")).findFirst().orElse(null);
        } catch (IOException e) {
            return null;
        }
    }
}
