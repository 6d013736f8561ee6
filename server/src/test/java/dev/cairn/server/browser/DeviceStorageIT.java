package dev.cairn.server.browser;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.Cairn;
import dev.cairn.engine.Chat;
import dev.cairn.engine.MapSection;
import dev.cairn.engine.sync.SyncClient;
import dev.cairn.server.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The browser client keeps a large user on the device (issue 14): every durable tier is in the
 * user's IndexedDB database, so after a catch-up of many map entries and chat messages a reload
 * with the server STOPPED still reads every one of them; a device of the localStorage era moves
 * to IndexedDB on its first load without losing anything; a storage that runs out of quota is a
 * banner on the page.
 *
 * <p>Sizes: 20,000 entries + 4,000 messages by default (CI); {@code -Dcairn.browserStorage.entries=100000
 * -Dcairn.browserStorage.messages=20000} for the size.
 */
class DeviceStorageIT {

    private static final int ENTRIES = Integer.getInteger("cairn.browserStorage.entries", 20_000);
    private static final int MESSAGES = Integer.getInteger("cairn.browserStorage.messages", 4_000);
    private static final String CONVERSATION = "conv-1";   // not the page's chat: it is not rendered
    private static final String TEXT80 = "x".repeat(80);

    @TempDir
    Path dir;

    private TestServer server;
    private Browser page;

    @BeforeEach
    void start() {
        Browser.requireInstalled();
        server = TestServer.embedded().start();
    }

    @AfterEach
    void stop() {
        Browser.closeAll(page, server);
    }

    @Test
    void everyEntryIsReadableFromTheDeviceAfterAReloadWithTheServerStopped() throws Exception {
        String user = "scale-ada";
        seed(user, ENTRIES, MESSAGES);
        long head = server.head(user);
        String base = "http://localhost:" + server.port();

        page = new Browser("device-storage", dir);
        page.driver().manage().timeouts().scriptTimeout(Duration.ofMinutes(5));
        page.driver().get(base + "/?user=" + user);
        page.waitText("current-user", user::equals, "signed in");
        // readable: every entry in memory; durable: the cursor of the last page committed with it
        Number readable = (Number) page.driver().executeAsyncScript(COUNTED, ENTRIES, MESSAGES, CONVERSATION);
        page.until(() -> "live".equals(page.text("dash-status")), Duration.ofSeconds(120), "live after the catch-up");
        Number durable = (Number) page.driver().executeAsyncScript(
                "const [head, done] = arguments;"
                + "(async () => { while (window.cairn.savedCursor < head) await new Promise((r) => setTimeout(r, 20));"
                + "  await window.cairn.store.idle(); done(performance.now()); })();", head);
        assertEquals("indexedDB", page.script("return window.cairn.storage.backend"));
        assertEquals(List.of(), page.script("return Object.keys(localStorage).filter((k) => k.startsWith('cairn:'))"),
                "nothing of the user's data in localStorage");

        server.stop();
        page.driver().navigate().refresh();
        page.waitText("current-user", user::equals, "signed in from this device with the server down");
        Number reloaded = (Number) page.driver().executeAsyncScript(COUNTED, ENTRIES, MESSAGES, CONVERSATION);
        Number opened = (Number) page.script("return performance.getEntriesByName('cairn-open')[0]?.startTime ?? -1");
        assertEquals(List.of((long) ENTRIES, (long) MESSAGES), page.script(
                "return [window.cairn.entries('state', 'k').length, window.cairn.chat.history(arguments[0]).length]", CONVERSATION));
        assertEquals((long) head, ((Number) page.script("return window.cairn.savedCursor")).longValue(),
                "the stored cursor: the next catch-up brings only what changed since");
        assertTrue(!"live".equals(page.text("dash-status")), "not live with the server down");
        assertTrue(!page.byId("storage-banner").isDisplayed(), "no storage problem: " + page.text("storage-banner"));
        Object usage = page.driver().executeAsyncScript(
                "const done = arguments[0]; navigator.storage.estimate().then((e) => done(e.usage), () => done(-1))");
        Object heap = page.script("return performance.memory ? performance.memory.usedJSHeapSize : -1");
        System.out.printf("DeviceStorageIT %,d entries + %,d messages: first open readable %.0f ms, durable %.0f ms;"
                + " reload with the server down: opened %.0f ms, readable %.0f ms (from navigation start);"
                + " storage used %s bytes, JS heap %s bytes (not after a GC)%n",
                ENTRIES, MESSAGES, readable.doubleValue(), durable.doubleValue(), opened.doubleValue(), reloaded.doubleValue(), usage, heap);
        page.assertNoConsoleErrors(Browser.SERVER_DOWN);
    }

    @Test
    void aLocalStorageEraDeviceMovesToIndexedDbOnFirstLoadWithNothingLost() {
        String user = "legacy-ada";
        seed(user, 200, 30);
        String base = "http://localhost:" + server.port();
        page = new Browser("device-storage-legacy", dir);
        // The sign-in page (no user remembered yet: nothing opens Cairn); the old client (the memory tier over
        // localStorage, as the localStorage era kept map sections, settings, logs and the outbox
        // where IndexedDB was unavailable) catches the user up and writes locally, then closes.
        page.driver().get(base + "/");
        page.waitText("signin-submit", "Sign in"::equals, "the sign-in page");
        Object written = page.driver().executeAsyncScript(
                "const [user, url, token, done] = arguments;"
                + "(async () => {"
                + "  const { Cairn } = await import('/cairn/cairn.js');"
                + "  const { WebStorageKv, MemoryKv } = await import('/cairn/storage.js');"
                + "  const ls = new WebStorageKv(localStorage, 'localStorage');"
                + "  const old = await Cairn.open({ user, storage: 'memory', channel: null, replica: 'web-0123456789abcdef',"
                + "    kv: { local: ls, session: new MemoryKv(), logs: ls, outbox: ls }, server: { url, token: () => token } });"
                + "  while (old.status !== 'live') await new Promise((r) => setTimeout(r, 20));"
                + "  await old.cursorChain;"
                + "  old.setOffline(true);"
                + "  for (let i = 0; i < 25; i++) old.write('set', 'state', 'local-' + i, 'written offline ' + i);"
                + "  old.chat.append('assistant', 'user', 'an offline message');"
                + "  await old.save(); await old.close();"
                + "  done(Object.keys(localStorage).filter((k) => k.includes(user)).length);"
                + "})().catch((e) => done(String(e)));",
                user, "ws://localhost:" + server.port() + "/sync", server.token(user));
        assertTrue(written instanceof Number && ((Number) written).intValue() > 250, "the old layout in localStorage: " + written);
        long head = server.head(user);

        page.driver().get(base + "/?user=" + user);
        page.waitText("current-user", user::equals, "signed in");
        page.waitLiveAndSynced();
        assertEquals(List.of(225L, 31L), page.script(
                "return [window.cairn.entries('state').filter(([k]) => k.startsWith('k') || k.startsWith('local-')).length,"
                + " window.cairn.chat.history('conv-1').length + window.cairn.chat.history('assistant').length]"));
        assertEquals(List.of(), page.script("return Object.keys(localStorage).filter((k) => k.startsWith('cairn:' + arguments[0]) || k.startsWith(arguments[0] + '\\u0000'))", user),
                "the old rows are gone from localStorage");
        page.until(() -> server.head(user) >= head + 26, "the offline writes of the old layout reached the server");
        assertTrue(server.canonical(user).contains("written offline 24"), "pushed from the migrated outbox");
        assertTrue(server.canonical(user).contains("an offline message"));

        // and a reload with the server stopped reads it all from IndexedDB
        server.stop();
        page.driver().navigate().refresh();
        page.waitText("current-user", user::equals, "signed in from this device");
        page.until(() -> Long.valueOf(225).equals(page.script(
                "return window.cairn ? window.cairn.entries('state').filter(([k]) => k.startsWith('k') || k.startsWith('local-')).length : 0")),
                "every entry from the device");
        page.assertNoConsoleErrors(Browser.SERVER_DOWN);
    }

    @Test
    void aFullStorageIsABannerAndAnErrorEvent() {
        String user = "full-ada";
        String base = "http://localhost:" + server.port();
        // In the page (?worker=none): DevTools' quota override reaches the page's own IndexedDB, not a
        // SharedWorker's (a target of its own). The worker's path to the banner: sync-worker.test.js.
        page = new Browser("device-storage-full", dir);
        page.driver().get(base + "/?worker=none&user=" + user);
        page.waitText("current-user", user::equals, "signed in");
        page.waitLiveAndSynced();
        // A quota-limited profile: the origin's quota set to what it uses now plus a little.
        Number usage = (Number) page.driver().executeAsyncScript(
                "const done = arguments[0]; navigator.storage.estimate().then((e) => done(e.usage))");
        page.driver().executeCdpCommand("Storage.overrideQuotaForOrigin",
                java.util.Map.of("origin", base, "quotaSize", usage.longValue() + 64 * 1024));
        page.script("window.storageErrors = []; window.cairn.on('error', (e) => window.storageErrors.push(e.code));"
                + "for (let i = 0; i < 3000; i++) window.cairn.write('set', 'state', 'big-' + i, 'y'.repeat(200));"
                + "window.cairn.save();");
        page.until(() -> page.byId("storage-banner").isDisplayed(), Duration.ofSeconds(20), "the storage banner");
        assertTrue(page.text("storage-banner").contains("full"), page.text("storage-banner"));
        assertEquals("full", page.script("return window.cairn.storage.state"));
        page.until(() -> ((List<?>) page.script("return window.storageErrors")).contains("quota-exceeded"),
                "an error event with code quota-exceeded");
        assertEquals(3000L, page.script("return window.cairn.entries('state', 'big-').length"), "the app keeps working from memory");
        page.screenshot("storage-full");
    }

    /** Seeds the user over the protocol with a JVM engine: map entries k0.. in 'state', 80-character messages. */
    private void seed(String user, int entries, int messages) {
        try (Cairn cairn = Cairn.builder().inMemory().replicaId("seed-" + user).open();
                SyncClient sync = SyncClient.builder(cairn, server.syncUri(), () -> server.token(user))
                        .backoff(Duration.ofMillis(20), Duration.ofMillis(400)).build()) {
            MapSection map = cairn.map("state");
            for (int i = 0; i < entries; i++) {
                map.put("k" + i, "value-" + i);
            }
            Chat chat = cairn.chat();
            for (int j = 0; j < messages; j++) {
                String id = "msg-" + j + " ";
                chat.append(CONVERSATION, j % 2 == 0 ? "user" : "assistant", id + TEXT80.substring(0, 80 - id.length()));
            }
            sync.start();
            sync.syncNow().get(10, TimeUnit.MINUTES);
        } catch (Exception e) {
            throw new AssertionError("seeding " + user + " failed: " + e, e);
        }
    }

    /** Resolves with performance.now() once the page's Cairn reads every seeded entry and message. */
    private static final String COUNTED = "const [entries, messages, conversation, done] = arguments;"
            + "(async () => {"
            + "  for (;;) {"
            + "    const c = window.cairn;"
            + "    if (c && c.replicaState.map('state').liveSize() >= entries && c.replicaState.log('chat').size(conversation) >= messages) break;"
            + "    await new Promise((r) => setTimeout(r, 10));"
            + "  }"
            + "  done(performance.now());"
            + "})();";
}
