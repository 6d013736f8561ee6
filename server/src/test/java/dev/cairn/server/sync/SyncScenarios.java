package dev.cairn.server.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cairn.engine.Cairn;
import dev.cairn.engine.Card;
import dev.cairn.engine.ChangeEvent;
import dev.cairn.engine.ChatMessage;
import dev.cairn.engine.EngineAccess;
import dev.cairn.engine.PersistentState;
import dev.cairn.engine.ServerCopy;
import dev.cairn.engine.StateOptions;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.crypto.E2eKey;
import dev.cairn.engine.persist.Records;
import dev.cairn.engine.section.StandardSections;
import dev.cairn.engine.store.TieredLocalStore;
import dev.cairn.engine.sync.SyncClient;
import dev.cairn.engine.sync.SyncState;
import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.server.TestServer;
import dev.cairn.server.store.TestDatabase;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgConnection;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletionException;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The promises of issue 3, end to end: real engines with real {@code SyncClient}s (JDK WebSocket)
 * against real server nodes. Each subclass is one deployment ({@link #startNodes}: how many nodes,
 * which store; {@link #syncUri}: which node device {@code i} talks to). Every scenario runs in
 * every deployment.
 *
 * <p>Scenarios share the deployment's nodes but each uses its own user, devices and data
 * directories. Waiting is always a poll with a deadline ({@link Poll}), never a fixed sleep.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class SyncScenarios {

    /** Page size of the test servers: small, so catch-up of the larger scenarios takes many pages. */
    static final int PAGE_SIZE = 100;

    // ------------------------------------------------------------------ the deployment hook

    /** Starts the deployment's nodes (each from {@link #nodeBuilder}). */
    protected abstract void startNodes();

    /** Stops every node and drops whatever the deployment created. */
    protected abstract void stopNodes();

    /** How many server nodes there are. */
    protected abstract int nodes();

    /** Node {@code i}, {@code 0 <= i < nodes()}. */
    protected abstract TestServer node(int i);

    /** The sync endpoint device {@code i} connects to; by default node {@code i % nodes()}. */
    protected URI syncUri(int device) {
        return node(device % nodes()).syncUri();
    }

    /** The PostgreSQL database behind the nodes, or null for the embedded store. */
    protected TestDatabase database() {
        return null;
    }

    /** Settings every node of every deployment shares: the local-only test section and a small page size. */
    static TestServer.Builder nodeBuilder(TestServer.Builder builder) {
        return builder.sections(Device.SERVER_SECTIONS).limits(1 << 20, 1000, 500, PAGE_SIZE);
    }

    @BeforeAll
    void deploy() {
        startNodes();
    }

    @AfterAll
    void undeploy() {
        stopNodes();
    }

    // ------------------------------------------------------------------ per scenario

    private final List<Device> devices = new ArrayList<>();
    private String user;
    private String token;
    /** Real time when the scenario began: every device's manual clock starts here. */
    private long base;

    @BeforeEach
    void newUser(TestInfo info) {
        user = "u-" + info.getTestMethod().map(m -> m.getName()).orElse("x") + "-" + UUID.randomUUID().toString().substring(0, 8);
        token = node(0).token(user);
        base = System.currentTimeMillis();
    }

    @AfterEach
    void closeDevices() {
        for (int i = devices.size() - 1; i >= 0; i--) {
            devices.get(i).close();
        }
        devices.clear();
    }

    /** Device {@code i} (its replica id is {@code name}) in {@code dir/name}, talking to {@link #syncUri}(i). Not started. */
    private Device device(int i, String name, Path dir) {
        Device d = Device.open(name, dir.resolve(name), syncUri(i), token, base);
        devices.add(d);
        return d;
    }

    /** As {@link #device(int, String, Path)}, with extra client settings. */
    private Device device(int i, String name, Path dir, Consumer<SyncClient.Builder> client) {
        Device d = Device.open(name, dir.resolve(name), syncUri(i), token, base, client);
        devices.add(d);
        return d;
    }

    // ------------------------------------------------------------------ scenarios

    /** A change on one device appears on the other while both are connected, with no syncNow. */
    @Test
    void liveChangesAppearOnTheOtherDevice(@TempDir Path dir) {
        Device a = device(0, "dev-a", dir).startLive();
        Device b = device(1, "dev-b", dir).startLive();
        if (nodes() > 1) {
            assertNotEquals(a.uri, b.uri, "A and B must be on different nodes");
        }
        PersistentState<String> titleA = a.cairn.state("title", String.class, "");
        PersistentState<String> titleB = b.cairn.state("title", String.class, "");

        titleA.set("hello from A");
        Poll.until("B to see A's title", () -> "hello from A".equals(titleB.value()), b::describe);
        assertRemoteEvent(b, "state", "title");

        assertTrue(a.cairn.cards().card("intro").toggle(), "the first toggle expands");
        Card introA = a.cairn.cards().card("intro");
        Card introB = b.cairn.cards().card("intro");
        // toggle() writes isExpanded and lastInteraction: two changes, which may arrive in different frames
        Poll.until("B to see the card expanded", () -> introB.isExpanded() && introB.state().equals(introA.state()),
                () -> b.describe() + " " + introB.state() + " vs A's " + introA.state());
        assertEquals(new Card.State(true, true, Instant.ofEpochMilli(base).toString()), introB.state());
        assertRemoteEvent(b, "cards", "card-intro/isExpanded");

        ChatMessage sent = a.cairn.chat().append("conv-1", "user", "hi B");
        Poll.until("B to see A's chat message", () -> b.cairn.chat().size("conv-1") == 1, b::describe);
        ChatMessage got = b.cairn.chat().history("conv-1").get(0);
        assertEquals(List.of("user", "hi B", sent.stamp()), List.of(got.role(), got.text(), got.stamp()));
        assertEquals(sent.at(), got.at());
        assertRemoteEvent(b, "chat", "conv-1");

        // and the other way round
        titleB.set("hello from B");
        Poll.until("A to see B's title", () -> "hello from B".equals(titleA.value()), a::describe);
        assertRemoteEvent(a, "state", "title");

        a.syncNow();
        b.syncNow();
        assertConverged(a, b);
        assertEquals("\"hello from B\"", serverState().map("state").value("title"));
    }

    /**
     * PROTOCOL.md 7.1: a client forced to protocol 1 (today's v1 client: hello without versions,
     * JSON frames) and a client speaking protocol 2 (binary pages) share one user on the v2 server:
     * each one's writes, catch-up and live changes reach the other, and both end equal to the server.
     */
    @Test
    void aV1ClientAndAV2ClientConverge(@TempDir Path dir) {
        Device v1 = device(0, "dev-v1", dir, b -> b.maxProtocol(1)).startLive();
        PersistentState<String> titleV1 = v1.cairn.state("title", String.class, "");
        titleV1.set("written by v1 before v2 came");
        v1.cairn.chat().append("conv-1", "user", "from v1");
        v1.syncNow();

        Device v2 = device(1, "dev-v2", dir).startLive(); // catches up in v2 pages
        PersistentState<String> titleV2 = v2.cairn.state("title", String.class, "");
        Poll.until("v2 to catch up with v1's title", () -> "written by v1 before v2 came".equals(titleV2.value()), v2::describe);
        v2.cairn.state("zoom", Double.class, 1.0).set(1.5);
        v2.cairn.chat().append("conv-1", "assistant", "from v2, caf\u00e9");
        titleV2.set("written by v2");
        Poll.until("v1 to see v2's live title", () -> "written by v2".equals(titleV1.value()), v1::describe);
        Poll.until("v1 to see v2's chat message", () -> v1.cairn.chat().size("conv-1") == 2, v1::describe);

        titleV1.set("written by v1 live");
        Poll.until("v2 to see v1's live title", () -> "written by v1 live".equals(titleV2.value()), v2::describe);
        v1.syncNow();
        v2.syncNow();
        assertConverged(v1, v2);
        assertEquals("1.5", serverState().map("state").value("zoom"), "a number pushed in a page is stored in its canonical spelling");
    }

    /** Both offline; same key, different keys, card fields and chat on both; after sync both equal the server. */
    @Test
    void offlineEditsConverge(@TempDir Path dir) {
        Device[] ab = offlineEditsThenSync(dir);
        assertOfflineOutcome(ab[0]);
        assertOfflineOutcome(ab[1]);
    }

    /** After the offline scenario, a fresh device catches up to exactly the same state and to the server's head. */
    @Test
    void thirdDeviceCatchesUpToTheFullState(@TempDir Path dir) {
        Device[] ab = offlineEditsThenSync(dir);
        Device c = device(2, "dev-c", dir);
        assertEquals(0, c.cairn.cursor());
        assertNotEquals(serverCanonical(), c.canonical());
        c.syncNow();
        assertConverged(ab[0], ab[1], c);
        assertOfflineOutcome(c);
        long head = node(0).head(user);
        assertEquals(head, c.cairn.cursor(), "C's cursor must be the server's head after catching up");
        assertEquals(head, c.sync.status().cursor());
        assertTrue(head > 0);
    }

    /** A local-only key and a local-only section never reach the other device, the server or its database. */
    @Test
    void localOnlyDataNeverLeavesTheDevice(@TempDir Path dir) {
        String secret = "LOCAL-ONLY-" + UUID.randomUUID().toString().substring(0, 8);
        Device a = device(0, "dev-a", dir);
        Device b = device(1, "dev-b", dir).startLive();
        PersistentState<String> draftA = a.cairn.state("draft", String.class, "", StateOptions.<String>defaults().sync(false));
        // written while offline...
        draftA.set(secret + "-draft-1");
        a.cairn.map(Device.LOCAL_NOTES).put("n1", secret + "-note-1");
        a.cairn.state("control-1", String.class, "").set("synced-1");
        a.startLive();
        a.syncNow();
        // ...and while live
        draftA.set(secret + "-draft-2");
        a.cairn.map(Device.LOCAL_NOTES).put("n2", secret + "-note-2");
        a.cairn.state("control-2", String.class, "").set("synced-2");
        // B's own local-only note must not reach A either
        b.cairn.map(Device.LOCAL_NOTES).put("b1", secret + "-b-note");
        b.cairn.state("control-b", String.class, "").set("synced-b");
        a.syncNow();
        b.syncNow();
        Poll.until("B to see A's synced keys", () -> b.cairn.map("state").contains("control-2") && b.cairn.map("state").contains("control-1"), b::describe);
        Poll.until("A to see B's synced key", () -> a.cairn.map("state").contains("control-b"), a::describe);

        // A still has its local-only data, and none of it is pending for the server
        assertEquals(secret + "-draft-2", draftA.value());
        assertEquals(List.of("n1", "n2"), List.copyOf(a.cairn.map(Device.LOCAL_NOTES).keys()), "A's local-only notes (B's must not arrive)");
        assertEquals(0, a.cairn.pendingChanges());
        // B never saw it
        assertFalse(b.cairn.map("state").contains("draft"), "B received A's local-only key");
        assertNull(b.cairn.map("state").entry("draft"), "B received A's local-only key (or its tombstone)");
        assertEquals(List.of("b1"), List.copyOf(b.cairn.map(Device.LOCAL_NOTES).keys()), "B received A's local-only section");
        assertFalse(a.cairn.map(Device.LOCAL_NOTES).contains("b1"), "A received B's local-only note");
        for (Device d : List.of(a, b)) {
            for (ChangeEvent e : d.remote) {
                assertNotEquals(Device.LOCAL_NOTES, e.section(), d.name + " received a local-only change: " + e);
                assertNotEquals("draft", e.target(), d.name + " received a local-only change: " + e);
            }
        }
        assertFalse(b.canonical().replace(secret + "-b-note", "").contains(secret), "B's state holds A's local-only data: " + b.canonical());
        // the server never saw it
        ReplicaState server = serverState();
        assertEquals(0, server.map(Device.LOCAL_NOTES).size(), "the server holds local-only notes");
        assertNull(server.map("state").entry("draft"), "the server holds the local-only key");
        assertFalse(serverCanonical().contains(secret), "the server's state holds local-only data: " + serverCanonical());
        assertEquals("\"synced-2\"", server.map("state").value("control-2"));
        if (database() != null) {
            assertEquals(0, count("SELECT count(*) FROM map_entries WHERE user_id = $1 AND (section = $2 OR key = 'draft' OR value LIKE $3)",
                    Tuple.of(user, Device.LOCAL_NOTES, "%" + secret + "%")), "map_entries holds local-only data");
            assertEquals(0, count("SELECT count(*) FROM log_entries WHERE value LIKE $1", Tuple.of("%" + secret + "%")),
                    "log_entries holds local-only data");
            assertEquals(3, count("SELECT count(*) FROM map_entries WHERE user_id = $1", Tuple.of(user)),
                    "map_entries should hold exactly the three synced keys");
        }
        // everything but the local-only data is the same on A, B and the server
        assertEquals(json(serverCanonical()), withoutLocalOnly(a.canonical()));
        assertEquals(json(serverCanonical()), withoutLocalOnly(b.canonical()));
    }

    /**
     * Chat and memory end-to-end encrypted: devices with the user's passphrase read each other's
     * values, the server stores and merges only ciphertext, and a device with a wrong passphrase
     * stops with a clear error, applying nothing and pushing nothing.
     */
    @Test
    void endToEndEncryptedSectionsReachTheServerOnlyAsCiphertext(@TempDir Path dir) {
        List<String> sealed = List.of(StandardSections.CHAT, StandardSections.MEMORY);
        // few KDF rounds keep the test fast; the default is E2eKey.DEFAULT_ITERATIONS
        E2eKey key = E2eKey.derive("correct horse battery staple".toCharArray(), user, 1_000);
        E2eKey wrong = E2eKey.derive("incorrect horse".toCharArray(), user, 1_000);
        Device a = device(0, "dev-a", dir, c -> c.endToEnd(key, sealed)).startLive();
        Device b = device(1, "dev-b", dir, c -> c.endToEnd(key, sealed)).startLive();

        a.cairn.chat().append("conv-1", "user", "secret message from A");
        a.cairn.memory().remember("favourite", "secret fact from A");
        a.cairn.ui().put("panel", "open"); // not encrypted
        a.syncNow();
        Poll.until("B to read A's encrypted values", () -> b.cairn.chat().size("conv-1") == 1
                && "secret fact from A".equals(b.cairn.memory().recall("favourite", String.class)), b::describe);
        assertEquals(List.of("secret message from A"), texts(b, "conv-1"));

        // merging by stamp still works on ciphertext: B's later write wins everywhere
        b.clock.set(base + 1_000);
        b.cairn.memory().remember("favourite", "secret fact from B");
        b.syncNow();
        Poll.until("A to read B's newer value", () -> "secret fact from B".equals(a.cairn.memory().recall("favourite", String.class)), a::describe);

        String server = serverCanonical();
        assertFalse(server.contains("secret"), "the server holds plain text of an encrypted section: " + server);
        assertTrue(server.contains("$e2e"), "the server should hold envelopes: " + server);
        assertTrue(server.contains("\"open\""), "unencrypted sections stay readable: " + server);
        if (database() != null) {
            assertEquals(0, count("SELECT count(*) FROM log_entries WHERE user_id = $1 AND value LIKE '%secret%'", Tuple.of(user)));
            assertEquals(0, count("SELECT count(*) FROM map_entries WHERE user_id = $1 AND value LIKE '%secret%'", Tuple.of(user)));
            assertEquals(1, count("SELECT count(*) FROM log_entries WHERE user_id = $1 AND value LIKE '%\"$e2e\"%'", Tuple.of(user)));
        }

        // a wrong passphrase: LOCKED with a clear error; nothing applied, its own writes never pushed
        Device c = device(2, "dev-c", dir, cl -> cl.endToEnd(wrong, sealed));
        c.cairn.chat().append("conv-1", "user", "written under the wrong key");
        c.start();
        Poll.until("C to stop on the wrong passphrase", () -> c.sync.status().state() == SyncState.LOCKED, c::describe);
        assertTrue(c.sync.status().lastError().contains("wrong passphrase"), c.describe());
        assertEquals(List.of("written under the wrong key"), texts(c, "conv-1"), "C must not apply what it cannot open");
        assertEquals(null, c.cairn.memory().recall("favourite", String.class));
        CompletionException refused = assertThrows(CompletionException.class, () -> c.sync.syncNow().join());
        assertTrue(refused.getCause().getMessage().contains("wrong passphrase"), refused.getCause().toString());
        a.syncNow();
        assertEquals(List.of("secret message from A"), texts(a, "conv-1"), "C's write under the wrong key reached A");
        assertEquals(1, serverState().log(StandardSections.CHAT).size("conv-1"), "C's write under the wrong key reached the server");
    }

    /** A clears a conversation and a map section; B, offline, had older entries and wrote older edits: none come back. */
    @Test
    void clearedDataDoesNotComeBack(@TempDir Path dir) {
        Device a = device(0, "dev-a", dir).startLive();
        Device b = device(1, "dev-b", dir).startLive();
        a.cairn.chat().append("conv-1", "user", "old message 1");
        a.cairn.chat().append("conv-1", "assistant", "old message 2");
        a.cairn.chat().append("conv-2", "user", "kept conversation");
        a.cairn.ui().put("panel", "old-panel");
        a.cairn.ui().put("zoom", 3);
        a.syncNow();
        Poll.until("B to have the old entries", () -> b.cairn.chat().size("conv-1") == 2 && b.cairn.ui().size() == 2
                && b.cairn.chat().size("conv-2") == 1, b::describe);

        b.goOffline();
        b.clock.set(base + 1_000); // B's offline edits are older than A's clear
        b.cairn.chat().append("conv-1", "user", "old offline message from B");
        b.cairn.ui().put("panel", "old-offline-panel-from-B");
        b.cairn.ui().remove("zoom"); // an older single delete: its tombstone must not come back either
        b.cairn.ui().put("old-offline-key", "old offline key from B");

        a.clock.set(base + 2_000);
        a.cairn.chat().clear("conv-1");
        assertEquals(2, a.cairn.ui().clear());
        a.syncNow();

        b.goOnline();
        b.syncNow();
        a.syncNow();
        assertConverged(a, b);
        for (Device d : List.of(a, b)) {
            assertEquals(List.of(), d.cairn.chat().history("conv-1"), d.name + ": cleared conversation came back");
            assertEquals(List.of("kept conversation"), texts(d, "conv-2"), d.name + ": the other conversation must stay");
            assertEquals(0, d.cairn.ui().size(), d.name + ": cleared section came back: " + d.cairn.ui().entries(""));
            assertFalse(d.canonical().contains("old"), d.name + " still holds cleared data: " + d.canonical());
        }
        ReplicaState server = serverState();
        assertEquals(0, server.log("chat").size("conv-1"));
        assertEquals(0, server.map("ui").liveSize());
        assertEquals(0, server.map("ui").size(), "the server keeps no value or tombstone of the cleared section");
        assertTrue(server.map("ui").watermark() != null, "the server keeps the section's watermark");
        assertFalse(serverCanonical().contains("old"), "the server still holds cleared data: " + serverCanonical());
        // the store's records (read back as changes): only the watermark is left of the section
        List<dev.cairn.engine.crdt.Change> uiRecords = TestServer.await(node(0).store().readSince(user, 0, 100_000)).changes().stream()
                .map(q -> q.change()).filter(c -> c.section().equals("ui")).toList();
        assertEquals(1, uiRecords.size(), "records of the cleared section in the store: " + uiRecords);
        assertTrue(uiRecords.get(0) instanceof dev.cairn.engine.crdt.Change.Clear c && c.isWholeSection(), uiRecords.toString());
        for (Device d : List.of(a, b)) {
            assertEquals(0, EngineAccess.state(d.cairn).map("ui").size(), d.name + " keeps a value or tombstone of the cleared section");
        }
        if (database() != null) {
            assertEquals(0, count("SELECT count(*) FROM log_entries WHERE user_id = $1 AND stream = 'conv-1'", Tuple.of(user)),
                    "entries hidden by the watermark must be purged from log_entries");
            assertEquals(0, count("SELECT count(*) FROM map_entries WHERE user_id = $1 AND section = 'ui'", Tuple.of(user)),
                    "values and tombstones under the section's watermark must be purged from map_entries");
            assertEquals(1, count("SELECT count(*) FROM map_watermarks WHERE user_id = $1 AND section = 'ui'", Tuple.of(user)));
        }

        // the stream goes on after the clear
        b.clock.set(base + 3_000);
        b.cairn.chat().append("conv-1", "user", "new after the clear");
        b.syncNow();
        Poll.until("A to see the message after the clear", () -> a.cairn.chat().size("conv-1") == 1, a::describe);
        assertEquals(List.of("new after the clear"), texts(a, "conv-1"));
        a.syncNow();
        assertConverged(a, b);

        // and the devices' own stores hold nothing of the cleared section any more
        for (Device d : List.of(a, b)) {
            d.close();
            try (TieredLocalStore store = TieredLocalStore.open(dir.resolve(d.name))) {
                long[] records = {0};
                store.scan(Records.mapKey("ui", ""), (k, v) -> records[0]++);
                assertEquals(0, records[0], d.name + "'s local store still holds entries of the cleared section");
                assertTrue(store.get(Records.watermarkKey("ui", dev.cairn.engine.crdt.Change.Clear.WHOLE_SECTION)) != null,
                        d.name + "'s local store must keep the watermark");
            }
        }
    }

    /**
     * Privacy switches: with KEEP, what a device writes to a section whose sync it turned off never
     * reaches the server (its database is read) nor the other device, and the server keeps its copy;
     * with DELETE the server's copy is deleted (rows gone) and the other device loses it too, while
     * the device keeps its own. Turning sync back on pushes what stayed local and brings in what
     * changed meanwhile.
     */
    @Test
    void privacySwitchesKeepOrDeleteTheServersCopy(@TempDir Path dir) {
        String secret = "PRIVATE-" + UUID.randomUUID().toString().substring(0, 8);
        Device a = device(0, "dev-a", dir).startLive();
        Device b = device(1, "dev-b", dir).startLive();
        a.cairn.memory().remember("shared-fact", "before the switch");
        a.cairn.map("preferences").put("theme", "dark");
        a.syncNow();
        Poll.until("B to have A's data", () -> b.cairn.map("memory").contains("shared-fact")
                && b.cairn.map("preferences").contains("theme"), b::describe);

        // KEEP: memory stops syncing on A; the server keeps its copy
        a.cairn.disableSync("memory", ServerCopy.KEEP).join();
        assertFalse(a.cairn.isSyncing("memory"));
        a.cairn.memory().remember("diary", secret + "-diary");
        a.cairn.map("state").put("marker-1", 1); // a syncing write after it
        a.syncNow();
        Poll.until("B to see A's later syncing write", () -> b.cairn.map("state").contains("marker-1"), b::describe);
        b.syncNow();
        assertFalse(b.cairn.map("memory").contains("diary"), "B received data A wrote with sync off");
        ReplicaState server = serverState();
        assertEquals("\"before the switch\"", server.map("memory").value("shared-fact"), "KEEP: the server keeps its copy");
        assertTrue(server.map("memory").entry("diary") == null, "the server holds data written with sync off");
        assertFalse(serverCanonical().contains(secret), serverCanonical());
        if (database() != null) {
            assertEquals(0, count("SELECT count(*) FROM map_entries WHERE user_id = $1 AND (key = 'diary' OR value LIKE $2)",
                    Tuple.of(user, "%" + secret + "%")), "map_entries holds data written with sync off");
            assertEquals(1, count("SELECT count(*) FROM map_entries WHERE user_id = $1 AND section = 'memory'", Tuple.of(user)),
                    "KEEP kept the server's row");
        }
        // B's writes to memory are not applied on A while it is off
        b.cairn.memory().remember("from-b", "written on B");
        b.syncNow();
        long head = node(0).head(user);
        Poll.until("A to catch up with B's write", () -> a.cairn.cursor() >= head, a::describe);
        assertFalse(a.cairn.map("memory").contains("from-b"), "A applied a change of a section whose sync it turned off");

        // DELETE: preferences stop syncing on A and the server's copy is deleted, on B too
        a.cairn.disableSync("preferences", ServerCopy.DELETE).join();
        a.cairn.map("preferences").put("font", secret + "-font");
        a.syncNow();
        Poll.until("B to lose the deleted section", () -> b.cairn.map("preferences").size() == 0, b::describe);
        assertEquals("dark", a.cairn.map("preferences").get("theme", String.class), "A keeps its own copy");
        assertEquals(secret + "-font", a.cairn.map("preferences").get("font", String.class));
        server = serverState();
        assertEquals(0, server.map("preferences").size(), "DELETE: the server keeps no value or tombstone of the section");
        assertFalse(serverCanonical().contains(secret), serverCanonical());
        if (database() != null) {
            assertEquals(0, count("SELECT count(*) FROM map_entries WHERE user_id = $1 AND section = 'preferences'", Tuple.of(user)),
                    "DELETE removed the server's rows");
            assertEquals(0, count("SELECT count(*) FROM map_entries WHERE user_id = $1 AND value LIKE $2", Tuple.of(user, "%" + secret + "%")));
        }

        // turning memory back on pushes what stayed local and brings in what B wrote meanwhile
        a.cairn.enableSync("memory").join();
        Poll.until("A to catch up with B's memory", () -> a.cairn.map("memory").contains("from-b"), a::describe);
        a.syncNow();
        Poll.until("B to get A's diary", () -> b.cairn.map("memory").contains("diary"), b::describe);
        assertTrue(serverState().map("memory").value("diary").contains(secret));
        if (database() != null) {
            assertEquals(1, count("SELECT count(*) FROM map_entries WHERE user_id = $1 AND key = 'diary'", Tuple.of(user)));
        }
        // preferences are still off on A: its font never left
        assertFalse(serverCanonical().contains(secret + "-font"), serverCanonical());
        assertFalse(b.cairn.map("preferences").contains("font"));
    }

    /** 2,000 mixed changes written while live all reach the other device; a late device catches up through many pages. */
    @Test
    void manyChangesWhileLive(@TempDir Path dir) {
        int n = 2_000;
        Device a = device(0, "dev-a", dir).startLive();
        Device b = device(1, "dev-b", dir).startLive();
        int appended = 0;
        int lastUi = -1;
        for (int i = 0; i < n; i++) {
            switch (i % 4) {
                case 0 -> a.cairn.map("state").put("s-" + (i % 400), i);
                case 1 -> {
                    a.cairn.ui().put("u-" + (i % 250), i);
                    lastUi = i;
                }
                case 2 -> {
                    a.cairn.chat().append("conv-many", "user", "m-" + i);
                    appended++;
                }
                default -> {
                    if (i % 40 == 3) {
                        a.cairn.cards().card("c-" + (i % 7)).toggle();
                    } else {
                        a.cairn.map("memory").put("fact-" + i, java.util.Map.of("n", i));
                    }
                }
            }
        }
        int expectedChat = appended;
        a.syncNow();
        assertEquals(0, a.cairn.pendingChanges());
        Poll.until("B to receive all " + n + " changes", Duration.ofSeconds(30), () -> b.cairn.chat().size("conv-many") == expectedChat
                && b.canonical().equals(a.canonical()), b::describe);
        b.syncNow();
        assertConverged(a, b);
        List<String> chat = texts(b, "conv-many");
        assertEquals(expectedChat, chat.size());
        assertEquals(expectedChat, chat.stream().distinct().count(), "duplicate chat messages");
        assertEquals(lastUi, b.cairn.ui().get("u-" + (lastUi % 250), Integer.class));

        // a late device needs many pages (page size PAGE_SIZE) to catch up
        Device c = device(2, "dev-c", dir);
        c.syncNow();
        assertConverged(a, b, c);
        assertEquals(node(0).head(user), c.cairn.cursor());
        assertTrue(c.cairn.cursor() > 10L * PAGE_SIZE, "the catch-up should span many pages; head " + c.cairn.cursor());
    }

    // ------------------------------------------------------------------ the offline scenario

    private Device[] offlineEditsThenSync(Path dir) {
        Device a = device(0, "dev-a", dir).startLive();
        a.goOffline(); // A: started, then switched off
        Device b = device(1, "dev-b", dir); // B: never started
        // B writes first in real time but with the later clock; A's write comes later with an
        // earlier stamp, so only the stamps can make B's value win.
        b.clock.set(base + 2_000);
        b.cairn.state("shared", String.class, "").set("B wins (later stamp)");
        b.cairn.state("only-b", String.class, "").set("from B");
        b.cairn.cards().card("intro").setVisible(false);
        b.cairn.chat().append("conv-1", "user", "b1");
        b.cairn.chat().append("conv-1", "assistant", "b2");
        a.clock.set(base + 1_000);
        a.cairn.state("shared", String.class, "").set("A loses (earlier stamp)");
        a.cairn.state("only-a", String.class, "").set("from A");
        a.cairn.cards().card("intro").expand();
        a.cairn.chat().append("conv-1", "user", "a1");
        a.cairn.chat().append("conv-1", "assistant", "a2");
        assertEquals("A loses (earlier stamp)", a.cairn.state("shared", String.class, "").value(), "A's own write shows while offline");
        assertTrue(a.cairn.pendingChanges() > 0 && b.cairn.pendingChanges() > 0);

        // the winner reaches the server first, then the loser, then each round once more
        b.syncNow();
        a.goOnline();
        a.syncNow();
        b.syncNow();
        a.syncNow();
        assertConverged(a, b);
        assertEquals(0, a.cairn.pendingChanges());
        assertEquals(0, b.cairn.pendingChanges());
        ReplicaState server = serverState();
        assertEquals("\"B wins (later stamp)\"", server.map("state").value("shared"));
        assertEquals(4, server.log("chat").size("conv-1"));
        return new Device[] {a, b};
    }

    private void assertOfflineOutcome(Device d) {
        assertEquals("B wins (later stamp)", d.cairn.state("shared", String.class, "").value(), d.name + ": the later stamp must win");
        assertEquals("from A", d.cairn.state("only-a", String.class, "").value(), d.name);
        assertEquals("from B", d.cairn.state("only-b", String.class, "").value(), d.name);
        Card intro = d.cairn.cards().card("intro");
        assertEquals(new Card.State(true, false, Instant.ofEpochMilli(base + 2_000).toString()), intro.state(),
                d.name + ": A's expand and B's hide must both survive; lastInteraction is B's (later)");
        assertEquals(List.of("a1", "a2", "b1", "b2"), texts(d, "conv-1"), d.name + ": both devices' messages, in stamp order");
    }

    // ------------------------------------------------------------------ helpers

    private void assertRemoteEvent(Device d, String section, String target) {
        assertTrue(d.remote.stream().anyMatch(e -> e.section().equals(section) && e.target().equals(target)),
                d.name + " got no REMOTE change event for " + section + "/" + target + ": " + d.remote);
    }

    private static List<String> texts(Device d, String conversation) {
        return d.cairn.chat().history(conversation).stream().map(ChatMessage::text).collect(Collectors.toList());
    }

    /** The server's view of the user (node 0); every other node reads the same store. */
    private ReplicaState serverState() {
        return node(0).state(user);
    }

    private String serverCanonical() {
        return node(0).canonical(user);
    }

    /**
     * Every device converges to the same state and that state is the server's (folded from its
     * store's readSince pages). Polls first: syncNow on a live device does not wait for a change
     * another device committed a moment ago that is still on its way.
     */
    private void assertConverged(Device... ds) {
        Poll.until("devices and server to converge", () -> {
            String first = ds[0].canonical();
            for (Device d : ds) {
                if (!d.canonical().equals(first)) {
                    return false;
                }
            }
            return first.equals(serverCanonical());
        }, () -> {
            StringBuilder s = new StringBuilder();
            String server = serverCanonical();
            for (Device d : ds) {
                s.append('\n').append(d.describe()).append(": ").append(firstDifference(server, d.canonical()));
            }
            return s.toString();
        });
        String server = serverCanonical();
        for (Device d : ds) {
            assertEquals(server, d.canonical(), d.name + " differs from the server");
            assertEquals(0, d.cairn.pendingChanges(), d.name + " has unacknowledged changes");
        }
        for (int i = 1; i < nodes(); i++) {
            assertEquals(server, node(i).canonical(user), "node " + i + " reads a different state");
        }
    }

    static String firstDifference(String expected, String actual) {
        if (expected.equals(actual)) {
            return "same as the server";
        }
        int i = 0;
        while (i < expected.length() && i < actual.length() && expected.charAt(i) == actual.charAt(i)) {
            i++;
        }
        int from = Math.max(0, i - 60);
        return "differs from the server at " + i + ": server ..." + expected.substring(from, Math.min(expected.length(), i + 100))
                + "... device ..." + actual.substring(from, Math.min(actual.length(), i + 100)) + "...";
    }

    private static JsonNode json(String text) {
        try {
            return Json.MAPPER.readTree(text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A device's canonical state without the local-only section and key of {@link #localOnlyDataNeverLeavesTheDevice}. */
    private static JsonNode withoutLocalOnly(String canonical) {
        ObjectNode root = (ObjectNode) json(canonical);
        root.remove(Device.LOCAL_NOTES);
        JsonNode entries = root.path("state").path("entries");
        if (entries instanceof ObjectNode o) {
            o.remove("draft");
        }
        return root;
    }

    /** A single-number SQL query on the deployment's database. */
    private long count(String sql, Tuple args) {
        TestDatabase db = database();
        Vertx vertx = node(0).vertx();
        PgConnection conn = TestServer.await(PgConnection.connect(vertx, db.connectOptions()));
        try {
            Row row = TestServer.await(conn.preparedQuery(sql).execute(args)).iterator().next();
            return row.getLong(0);
        } finally {
            conn.close();
        }
    }
}
