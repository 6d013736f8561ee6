package dev.cairn.server.browser;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.server.TestServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 11: one chat message larger than any frame the server takes used to stop a browser
 * device's sync for good, silently (re-sent forever, closed with 1009 each time). Now a file
 * holding one is refused when it is imported, with a clear error in the page, nothing of it is
 * queued, and a small change made afterwards reaches the user's other device within a second.
 */
class OverLargeImportIT {

    private static final String USER = "over-large-ada";
    private static final Duration ONE_SECOND = Duration.ofSeconds(1);

    @TempDir
    static Path dirA;
    @TempDir
    static Path dirB;
    @TempDir
    static Path files;

    private static TestServer server;
    private static Browser a;
    private static Browser b;

    @BeforeAll
    static void start() {
        Browser.requireInstalled();
        server = TestServer.embedded().start();
        a = new Browser("over-large-a", dirA).signIn(server.httpBase(), USER);
        b = new Browser("over-large-b", dirB).signIn(server.httpBase(), USER);
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
    void anOverLargeMessageIsRefusedAtImportAndSyncGoesOn() throws IOException {
        // A valid export holding one 1.5 MB chat message (the server's frames take 1 MiB).
        String stamp = new Stamp(Stamp.pack(System.currentTimeMillis() - 60_000, 0), "other-device").toString();
        Path file = files.resolve("over-large.json");
        Files.writeString(file, "{\"format\":\"cairn-export\",\"version\":1,\"replica\":\"other-device\",\"exportedAt\":\"2026-12-01T10:00:00Z\","
                + "\"sections\":{\"chat\":{\"kind\":\"log\",\"streams\":{\"conv-1\":{\"entries\":[{\"stamp\":\"" + stamp
                + "\",\"value\":{\"role\":\"user\",\"text\":\"" + "x".repeat(1_536 * 1024) + "\",\"at\":\"2026-12-01T10:00:00Z\"}}]}}}}}");

        a.byId("import-file").sendKeys(file.toAbsolutePath().toString());
        a.waitText("dash-message", t -> t.startsWith("Import failed: change-too-large:") && t.contains("chat/conv-1"),
                "a clear error for the over-large message");
        assertTrue(a.hasClass("dash-message", "error"));
        System.out.println("import refused: " + a.text("dash-message"));
        a.screenshot("import-refused");
        assertEquals(0, a.pending(), "nothing of the file was queued");
        a.waitText("dash-status", "live"::equals, "still live");

        // A small change made afterwards reaches the other device within a second.
        b.waitCard("privacy", false, Browser.WAIT);
        a.click("card-privacy-toggle");
        a.waitCard("privacy", true, Browser.WAIT);
        long ms = b.timeUntil(() -> b.isCard("privacy", true), ONE_SECOND, "the card toggle on the other device");
        System.out.println("card toggle A -> B after the refused import: " + ms + " ms");
        a.sendChat("a small message after the big one");
        ms = b.timeUntil(() -> b.chatBubbles().contains("a small message after the big one"), ONE_SECOND, "the message on the other device");
        System.out.println("chat A -> B after the refused import: " + ms + " ms");

        a.waitLiveAndSynced();
        b.waitLiveAndSynced();
        assertEquals("none", a.text("dash-sync-error"), "no sync problem left");
        assertFalse(server.canonical(USER).contains("xxxxxxxxxxxxxxxx"), "the over-large message never reached the server");
        b.screenshot("small-change-arrived");
        a.assertNoConsoleErrors();
        b.assertNoConsoleErrors();
    }
}
