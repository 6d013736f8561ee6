package dev.cairn.server.browser;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.codec.CanonicalJson;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.crdt.Change;
import dev.cairn.server.TestServer;
import dev.cairn.server.section.SectionRegistry;
import dev.cairn.server.store.ServerStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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
    @TempDir
    static Path serverDir;
    @TempDir
    static Path uploadDir;

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
        // first a preview: nothing is written until the user confirms, and it says what each way does
        page.until(() -> page.byId("file-preview").isDisplayed(), "the preview of the file");
        assertTrue(Integer.parseInt(page.attr("file-preview", "data-missing")) > 0, "the cleared entries are counted as not here");
        assertTrue(page.text("file-preview-import").contains("come back"), page.text("file-preview-import"));
        assertTrue(page.text("file-preview-upload").contains("stay deleted"), page.text("file-preview-upload"));
        assertEquals("Import to this device", page.text("file-preview-confirm"));
        page.holds(() -> page.chatBubbles().isEmpty(), java.time.Duration.ofMillis(500), "nothing imported before the confirmation");
        page.screenshot("import-preview");
        page.click("file-preview-confirm");
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
            restore.click("file-preview-confirm");
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

    /**
     * Download from server: the dashboard streams GET /api/export into a file and shows entries and
     * bytes as they arrive; the file is the server's canonical state. Upload to server: a new
     * account on a new server takes the file through POST /api/import with upload progress, the
     * server then holds exactly that state and the page receives it by sync. A truncated file is
     * refused with the server's message and changes nothing.
     */
    @Test
    void downloadFromServerAndUploadToServer() throws IOException {
        String user = "export-import-server-bea";
        // A state larger than one read of the stream, written straight into the server's store.
        long base = System.currentTimeMillis() - 3_600_000L;
        List<Change> seed = new ArrayList<>();
        for (int i = 0; i < 5_000; i++) {
            seed.add(new Change.Put("state", "item/" + i, "{\"n\":" + i + ",\"text\":\"entry number " + i + "\"}",
                    new Stamp(Stamp.pack(base + i, 0), "seed")));
        }
        for (int i = 0; i < 2_000; i++) {
            seed.add(new Change.Append("chat", "archive", "{\"role\":\"user\",\"text\":\"archived " + i + "\"}",
                    new Stamp(Stamp.pack(base + 10_000 + i, 0), "seed")));
        }
        TestServer.await(server.store().commit(List.of(new ServerStore.UserBatch(user, seed))));

        try (Browser bea = new Browser("export-import-server", serverDir).signIn(server.httpBase(), user)) {
            bea.until(() -> bea.sectionEntries("state") == 5_000, "the seeded state synced to the page");
            String canonical = server.canonical(user);
            bea.click("server-export");
            bea.waitText("dash-message", t -> t.matches("Downloaded 7000 entries \\([0-9.]+ (KB|MB)\\) from the server\\."), "download message");
            assertEquals("Downloaded from the server", bea.text("transfer-label"));
            assertEquals("100", bea.attr("transfer-bar", "aria-valuenow"));
            int updates = Integer.parseInt(bea.attr("transfer", "data-updates"));
            System.out.println("download from server: " + bea.text("dash-message") + ", " + updates + " progress updates, "
                    + bea.attr("transfer", "data-partial") + " of them part-way");
            assertTrue(updates >= 3, "progress shown while the export arrived: " + updates + " updates");
            Path downloads = Browser.downloads(serverDir);
            bea.until(() -> finishedDownload(downloads, "cairn-" + user + "-server-") != null, "the server export file in " + downloads);
            Path file = finishedDownload(downloads, "cairn-" + user + "-server-");
            String document = Files.readString(file);
            assertEquals(CanonicalJson.encode(server.state(user), new SectionRegistry(Map.of()).all().keySet()), sectionsOf(document),
                    "the downloaded file holds the server's canonical state (every section, empty ones too)");
            bea.screenshot("downloaded-from-server");
            bea.assertNoConsoleErrors();

            try (TestServer fresh = TestServer.embedded().start();
                    Browser up = new Browser("export-import-upload", uploadDir).signIn(fresh.httpBase(), user)) {
                up.byId("server-import-file").sendKeys(file.toAbsolutePath().toString());
                up.until(() -> "Upload to server".equals(up.text("file-preview-confirm")), "the upload's preview");
                up.click("file-preview-confirm");
                up.waitText("dash-message", "Uploaded 7000 entries to the server (7000 changed it)."::equals, "upload message");
                assertEquals("Uploaded to the server", up.text("transfer-label"));
                assertEquals("100", up.attr("transfer-bar", "aria-valuenow"));
                System.out.println("upload to server: " + up.text("dash-message") + ", " + up.attr("transfer", "data-updates") + " progress updates");
                assertEquals(canonical, fresh.canonical(user), "the new server holds exactly the uploaded state");
                up.until(() -> up.sectionEntries("state") == 5_000, "the uploaded state reached the page by sync");
                up.screenshot("uploaded-to-server");
                up.assertNoConsoleErrors();

                Path truncated = uploadDir.resolve("truncated.json");
                Files.writeString(truncated, document.substring(0, document.length() / 2));
                long head = fresh.head(user);
                up.byId("server-import-file").sendKeys(truncated.toAbsolutePath().toString());
                up.waitText("dash-message", t -> t.startsWith("Upload refused: import file is not valid JSON (truncated or corrupt?)"),
                        "refusal message");
                assertTrue(up.hasClass("dash-message", "error"));
                assertEquals("Refused by the server", up.text("transfer-label"));
                assertEquals(head, fresh.head(user), "the refused file wrote nothing");
                assertEquals(canonical, fresh.canonical(user));
                up.screenshot("upload-refused");
                up.assertNoConsoleErrors(java.util.regex.Pattern.compile("/api/import - Failed to load resource: the server responded with a status of 400"));
            }
        }
    }

    private static String sectionsOf(String document) {
        int at = document.indexOf(",\"sections\":");
        return document.substring(at + ",\"sections\":".length(), document.length() - 1);
    }

    private static Path finishedDownload(Path downloads) {
        return finishedDownload(downloads, "cairn-" + USER);
    }

    private static Path finishedDownload(Path downloads, String prefix) {
        if (!Files.isDirectory(downloads)) {
            return null;
        }
        try (Stream<Path> files = Files.list(downloads)) {
            return files.filter(f -> f.getFileName().toString().startsWith(prefix)
                    && f.getFileName().toString().endsWith(".json")).findFirst().orElse(null);
        } catch (IOException e) {
            return null;
        }
    }
}
