package dev.cairn.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.codec.CanonicalJson;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.server.ServerConfig;
import dev.cairn.server.TestServer;
import dev.cairn.server.section.SectionRegistry;
import dev.cairn.server.store.ServerStore;
import dev.cairn.server.store.TestDatabase;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgConnection;
import io.vertx.sqlclient.Row;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.SequenceInputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Export and import over HTTP against a real server on a random port, on PostgreSQL and on the
 * embedded store: {@code GET /api/export} streams 100,000 map entries and 20,000 chat messages,
 * {@code POST /api/import} puts them into a fresh user, and both users' canonical states are
 * byte-identical; chosen sections; corrupt, truncated, foreign and oversized files are refused with
 * a clear message and the database (read table by table, or the embedded store's records) is
 * unchanged. Prints the time and heap each transfer took.
 */
class TransferIT {

    private static final int MAP_ENTRIES = 100_000;
    private static final int CHAT_MESSAGES = 20_000;
    private static final List<String> MAP_SECTIONS = List.of("ui", "cards", "memory", "state");
    /** HTTP/1.1 as browsers speak it to a plain-http server (the JDK client would otherwise upgrade to h2c). */
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
    private static final Duration SLOW = Duration.ofMinutes(3);
    private static final SectionRegistry REGISTRY = new SectionRegistry(Map.of());

    @TempDir
    static Path dir;

    private static Vertx admin;
    private static TestDatabase db;
    private static TestServer embedded;
    private static TestServer postgres;

    @BeforeAll
    static void start() {
        admin = Vertx.vertx();
        db = TestDatabase.create(admin);
        postgres = TestServer.postgres(db.url()).start();
        embedded = TestServer.embedded(dir.resolve("embedded")).start();
    }

    @AfterAll
    static void stop() {
        for (AutoCloseable c : new AutoCloseable[] {embedded, postgres, db}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception e) {
                System.err.println("closing " + c + ": " + e);
            }
        }
        if (admin != null) {
            TestServer.await(admin.close());
        }
    }

    private static TestServer server(String store) {
        return store.equals("postgres") ? postgres : embedded;
    }

    // ------------------------------------------------------------------ the whole state, both ways

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"embedded", "postgres"})
    void largeStateRoundTripsByteIdentical(String store) throws Exception {
        TestServer server = server(store);
        String from = "transfer-big-" + store;
        String to = "transfer-copy-" + store;
        long seeded = seed(server, from, MAP_ENTRIES, CHAT_MESSAGES);
        ReplicaState state = server.state(from);
        String canonical = CanonicalJson.encode(state, REGISTRY.all().keySet());
        long entries = entries(state);
        long marks = watermarks(state);
        assertTrue(entries >= MAP_ENTRIES + CHAT_MESSAGES, "seeded " + seeded + " changes, state holds " + entries);
        state = null;   // not part of what the heap figures measure

        Path file = dir.resolve(store + "-export.json");
        Heap heap = Heap.start();
        long t0 = System.nanoTime();
        HttpResponse<InputStream> r = HTTP.send(request(server, "/api/export", server.token(from)).GET().build(), HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, r.statusCode());
        assertEquals("chunked", r.headers().firstValue("transfer-encoding").orElse(null), "the export streams");
        long announced = Long.parseLong(r.headers().firstValue("x-cairn-export-entries").orElseThrow());
        long bytes;
        try (InputStream in = r.body(); OutputStream out = Files.newOutputStream(file)) {
            bytes = in.transferTo(out);
        }
        long exportMs = (System.nanoTime() - t0) / 1_000_000;
        String exportHeap = heap.report();

        String document = Files.readString(file);
        assertTrue(announced >= entries, "x-cairn-export-entries " + announced + " < " + entries);
        assertTrue(document.startsWith("{\"format\":\"cairn-export\",\"version\":1,\"replica\":\"server\",\"exportedAt\":\""), document.substring(0, 100));
        assertEquals(canonical, sectionsOf(document), "the streamed export is the canonical encoding of the folded state");
        document = null;

        heap = Heap.start();
        t0 = System.nanoTime();
        HttpResponse<String> imported = HTTP.send(request(server, "/api/import", server.token(to)).POST(HttpRequest.BodyPublishers.ofFile(file)).build(),
                HttpResponse.BodyHandlers.ofString());
        long importMs = (System.nanoTime() - t0) / 1_000_000;
        String importHeap = heap.report();
        assertEquals(200, imported.statusCode(), imported.body());
        JsonNode answer = Json.MAPPER.readTree(imported.body());
        assertEquals(entries + marks, answer.path("changesRead").asLong(), imported.body());
        assertEquals(answer.path("changesRead").asLong(), answer.path("changesApplied").asLong(), "a fresh user takes every change: " + imported.body());
        assertEquals(canonical, CanonicalJson.encode(server.state(to), REGISTRY.all().keySet()), "byte-identical canonical state after import");

        TestServer.Response again = server.request("POST", "/api/import", server.token(to), Files.readString(file));
        assertEquals(200, again.status(), again.toString());
        assertEquals(0, again.json().path("changesApplied").asInt(), "importing the same file twice alters nothing: " + again);

        System.out.printf("TransferIT %s: %d map entries + %d chat messages (%d entries, %.1f MiB): export %d ms (heap %s),"
                + " import %d ms (heap %s)%n", store, MAP_ENTRIES, CHAT_MESSAGES, entries, bytes / 1048576.0, exportMs, exportHeap,
                importMs, importHeap);
    }

    // ------------------------------------------------------------------ chosen sections

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"embedded", "postgres"})
    void chosenSectionsOnly(String store) throws Exception {
        TestServer server = server(store);
        String from = "transfer-sections-" + store;
        seed(server, from, 400, 300);
        ReplicaState state = server.state(from);

        TestServer.Response r = server.get("/api/export?sections=ui,chat", server.token(from));
        assertEquals(200, r.status(), r.toString());
        JsonNode sections = r.json().path("sections");
        assertEquals(List.of("chat", "ui"), names(sections));
        assertEquals(CanonicalJson.encode(state, List.of("chat", "ui")), sectionsOf(r.body()));
        assertEquals(r.body(), server.get("/api/export?sections=chat&sections=ui", server.token(from)).body().replaceAll(
                "\"exportedAt\":\"[^\"]*\"", "\"exportedAt\":\"" + r.json().path("exportedAt").asText() + "\""), "repeated ?sections= adds up");

        String to = "transfer-sections-copy-" + store;
        TestServer.Response imported = server.post("/api/import", server.token(to), r.body());
        assertEquals(200, imported.status(), imported.toString());
        ReplicaState copy = server.state(to);
        assertEquals(CanonicalJson.encode(state, List.of("chat", "ui")), CanonicalJson.encode(copy, List.of("chat", "ui")));
        assertEquals(0, copy.map("cards").size() + copy.map("memory").size() + copy.map("state").size(), "only the chosen sections came over");

        // Import of chosen sections of a whole file.
        String full = server.get("/api/export", server.token(from)).body();
        String partial = "transfer-sections-partial-" + store;
        TestServer.Response some = server.post("/api/import?sections=cards", server.token(partial), full);
        assertEquals(200, some.status(), some.toString());
        ReplicaState partialState = server.state(partial);
        assertEquals(CanonicalJson.encode(state, List.of("cards")), CanonicalJson.encode(partialState, List.of("cards")));
        assertEquals(0, partialState.map("ui").size() + partialState.log("chat").size(), "only cards imported");

        for (String path : List.of("/api/export?sections=ui,nosuch", "/api/import?sections=nosuch")) {
            TestServer.Response bad = path.startsWith("/api/export") ? server.get(path, server.token(from)) : server.post(path, server.token(from), full);
            assertEquals(400, bad.status(), bad.toString());
            assertEquals("unknown-section", bad.json().path("error").asText(), bad.toString());
            assertTrue(bad.json().path("message").asText().contains("'nosuch'"), bad.toString());
        }
    }

    // ------------------------------------------------------------------ refusals

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"embedded", "postgres"})
    void badFilesAreRefusedAndChangeNothing(String store) throws Exception {
        TestServer server = server(store);
        String user = "transfer-victim-" + store;
        seed(server, user, 200, 100);
        String token = server.token(user);
        String valid = server.get("/api/export", token).body();
        Snapshot before = snapshot(store, server, user);
        int middle = valid.indexOf("\"stamp\":", valid.length() / 2);

        Map<String, Object[]> bad = new LinkedHashMap<>();
        bad.put("corrupt (one byte changed)", new Object[] {
                utf8(valid.substring(0, middle + 7) + ";" + valid.substring(middle + 8)), 400, "not valid JSON (truncated or corrupt?)"});
        bad.put("truncated", new Object[] {utf8(valid.substring(0, valid.length() * 2 / 3)), 400, "not valid JSON (truncated or corrupt?)"});
        bad.put("truncated by one byte", new Object[] {utf8(valid.substring(0, valid.length() - 1)), 400, "truncated or corrupt"});
        bad.put("foreign version", new Object[] {utf8(valid.replace("\"version\":1", "\"version\":2")), 400,
                "export version 2 is not supported"});
        bad.put("foreign format", new Object[] {utf8(valid.replace("\"cairn-export\"", "\"other-app-backup\"")), 400,
                "not a Cairn export (format is 'other-app-backup')"});
        bad.put("two files joined", new Object[] {utf8(valid + valid), 400, "content after the document"});
        byte[] latin1 = valid.replace("\"value\":{", "\"value\":{\"n\":\"caf\u00e9\",").getBytes(StandardCharsets.ISO_8859_1);
        bad.put("not UTF-8", new Object[] {latin1, 400, "not valid UTF-8"});
        byte[] utf16 = valid.getBytes(StandardCharsets.UTF_16LE);
        bad.put("UTF-16", new Object[] {utf16, 400, "not UTF-8"});
        String ahead = new Stamp(Stamp.pack(System.currentTimeMillis() + 24 * 3600_000L, 0), "broken-clock").toString();
        bad.put("a stamp a day ahead", new Object[] {utf8(valid.replaceFirst("\"stamp\":\"[^\"]+\"", "\"stamp\":\"" + ahead + "\"")), 400,
                "ahead of the local clock"});
        bad.put("unknown section", new Object[] {utf8(valid.replace("\"memory\":{", "\"nosuch\":{")), 400, "unknown section 'nosuch'"});
        bad.put("empty", new Object[] {new byte[0], 400, "empty"});

        for (Map.Entry<String, Object[]> b : bad.entrySet()) {
            TestServer.Response r = post(server, token, (byte[]) b.getValue()[0]);
            assertRefused(r, (int) b.getValue()[1], (String) b.getValue()[2], b.getKey());
            assertEquals(before, snapshot(store, server, user), b.getKey() + ": the store changed");
        }

        // Oversized: past the default limit of 64 MiB, with a Content-Length (refused before reading)
        // and streamed without one (refused when the limit is passed). Whitespace is valid JSON, so
        // only the size can refuse it.
        long limit = ServerConfig.Transfer.DEFAULT_MAX_IMPORT_BYTES;
        long size = limit + (1 << 20);
        assertEquals(limit, server.config().transfer().maxImportBytes());
        HttpResponse<String> sized = HTTP.send(request(server, "/api/import", token)
                .POST(HttpRequest.BodyPublishers.fromPublisher(HttpRequest.BodyPublishers.ofInputStream(() -> padded(size)), size)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertRefused(new TestServer.Response(sized.statusCode(), sized.body(), sized.headers().map()), 413,
                "larger than the limit of " + limit + " bytes", "oversized with Content-Length");
        HttpResponse<String> streamed = HTTP.send(request(server, "/api/import", token)
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> padded(size))).build(), HttpResponse.BodyHandlers.ofString());
        assertRefused(new TestServer.Response(streamed.statusCode(), streamed.body(), streamed.headers().map()), 413,
                "larger than the limit of " + limit + " bytes", "oversized, streamed");
        assertEquals(before, snapshot(store, server, user), "oversized: the store changed");
        // Without a token: 401 before the body is read; the rest is swallowed, so the client, still sending, reads it.
        HttpResponse<String> anonymous = HTTP.send(HttpRequest.newBuilder(java.net.URI.create(server.httpBase() + "/api/import"))
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> padded(8L << 20))).build(), HttpResponse.BodyHandlers.ofString());
        assertRefused(new TestServer.Response(anonymous.statusCode(), anonymous.body(), anonymous.headers().map()), 401,
                "missing bearer token", "no token");
        assertEquals("Bearer", anonymous.headers().firstValue("WWW-Authenticate").orElse(null));
        assertEquals(before, snapshot(store, server, user), "no token: the store changed");

        TestServer.Response ok = server.post("/api/import", token, valid);
        assertEquals(200, ok.status(), "the API still takes a good file: " + ok);
        assertEquals(0, ok.json().path("changesApplied").asInt(), ok.toString());
    }

    private static void assertRefused(TestServer.Response r, int status, String message, String what) {
        assertEquals(status, r.status(), what + ": " + r);
        JsonNode body = r.json();
        assertTrue(body.path("message").asText().contains(message), what + ": the message should say '" + message + "': " + r);
        System.out.println("TransferIT refused " + what + ": " + r.status() + " " + body.path("message").asText());
    }

    /** A document that is {@code size} bytes of valid JSON, nearly all whitespace. */
    private static InputStream padded(long size) {
        byte[] head = utf8("{\"format\":\"cairn-export\",\"version\":1,\"sections\":{");
        byte[] tail = utf8("}}");
        long spaces = size - head.length - tail.length;
        InputStream blanks = new InputStream() {
            long left = spaces;

            @Override
            public int read() {
                if (left == 0) {
                    return -1;
                }
                left--;
                return ' ';
            }

            @Override
            public int read(byte[] b, int off, int len) {
                if (left == 0) {
                    return -1;
                }
                int n = (int) Math.min(len, left);
                java.util.Arrays.fill(b, off, off + n, (byte) ' ');
                left -= n;
                return n;
            }
        };
        return new SequenceInputStream(Collections.enumeration(List.of(new ByteArrayInputStream(head), blanks, new ByteArrayInputStream(tail))));
    }

    private static TestServer.Response post(TestServer server, String token, byte[] body) throws Exception {
        HttpResponse<String> r = HTTP.send(request(server, "/api/import", token).POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        return new TestServer.Response(r.statusCode(), r.body(), r.headers().map());
    }

    // ------------------------------------------------------------------ what the store holds

    /** Every table of the test database (row count and digest), or the embedded store's records of the user. */
    private record Snapshot(long head, Map<String, String> tables) {
    }

    private static Snapshot snapshot(String store, TestServer server, String user) {
        long head = server.head(user);
        Map<String, String> tables = new TreeMap<>();
        if (store.equals("postgres")) {
            PgConnection conn = TestServer.await(PgConnection.connect(admin, db.connectOptions()));
            try {
                List<String> names = new ArrayList<>();
                for (Row row : TestServer.await(conn.query(
                        "SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')").execute())) {
                    names.add(row.getString(0));
                }
                for (String name : names) {
                    String quoted = "\"" + name.replace(".", "\".\"") + "\"";
                    Row row = TestServer.await(conn.query("SELECT count(*) || ' rows, md5 ' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '-') FROM "
                            + quoted + " t").execute()).iterator().next();
                    tables.put(name, row.getString(0));
                }
            } finally {
                TestServer.await(conn.close());
            }
            assertTrue(tables.keySet().stream().anyMatch(t -> t.endsWith("user_heads")), "read the real tables: " + tables.keySet());
        } else {
            // The embedded store's records of the user, seq by seq, as the store returns them.
            long cursor = 0;
            StringBuilder records = new StringBuilder();
            while (true) {
                ServerStore.Page page = TestServer.await(server.store().readSince(user, cursor, 1000));
                page.changes().forEach(s -> records.append(s.seq()).append(' ').append(dev.cairn.engine.codec.ChangeJson.encode(s.change())).append('\n'));
                if (!page.more()) {
                    break;
                }
                cursor = page.cursor();
            }
            tables.put("records of " + user, records.toString());
        }
        return new Snapshot(head, tables);
    }

    // ------------------------------------------------------------------ data

    /**
     * Seeds {@code maps} map entries over four sections (every 50th a tombstone, some keys and values
     * with non-ASCII text and escapes), {@code messages} chat messages over 40 conversations, two
     * cleared streams (half their entries hidden by the watermark) and a consent trail, straight into
     * the store in batches. Stamps are in the past hour, from three replicas.
     */
    private static long seed(TestServer server, String user, int maps, int messages) {
        long base = System.currentTimeMillis() - 3600_000L;
        List<Change> all = new ArrayList<>();
        for (int i = 0; i < maps; i++) {
            String section = MAP_SECTIONS.get(i % MAP_SECTIONS.size());
            String key = "k/" + i + (i % 97 == 0 ? "/ünï😀" : "");
            String value = i % 50 == 0 ? null : "{\"i\":" + i + ",\"text\":\"value " + i + (i % 89 == 0 ? " caf\u00e9 \\n \\\"q\\\"" : "") + "\"}";
            all.add(new Change.Put(section, key, value, stamp(base + i / 16, i, "seed-" + i % 3)));
        }
        for (int i = 0; i < messages; i++) {
            all.add(new Change.Append("chat", "conv-" + i % 40, "{\"role\":\"" + (i % 2 == 0 ? "user" : "assistant") + "\",\"text\":\"message " + i + "\"}",
                    stamp(base + 10_000 + i / 4, i, "seed-" + i % 3)));
        }
        for (int s = 0; s < 2; s++) {
            for (int i = 0; i < 50; i++) {
                all.add(new Change.Append("chat", "cleared-" + s, "{\"text\":\"old " + i + "\"}", stamp(base + 20_000 + i, i, "seed-0")));
            }
            all.add(new Change.Clear("chat", "cleared-" + s, stamp(base + 20_000 + 24, 5000, "seed-1")));
        }
        for (int i = 0; i < 10; i++) {
            all.add(new Change.Append("consent", "service-waiver", "{\"type\":\"signed\",\"version\":\"v" + i + "\"}", stamp(base + 30_000 + i, i, "seed-2")));
        }
        for (int from = 0; from < all.size(); from += 10_000) {
            TestServer.await(server.store().commit(List.of(new ServerStore.UserBatch(user, all.subList(from, Math.min(all.size(), from + 10_000))))));
        }
        return all.size();
    }

    private static Stamp stamp(long millis, int counter, String replica) {
        return new Stamp(Stamp.pack(millis, counter & 0xFFFF), replica);
    }

    private static long entries(ReplicaState state) {
        long n = 0;
        for (Map.Entry<String, SectionKind> s : REGISTRY.all().entrySet()) {
            if (s.getValue() == SectionKind.MAP) {
                n += state.map(s.getKey()).size();
            } else {
                for (String stream : state.log(s.getKey()).streams()) {
                    n += state.log(s.getKey()).size(stream);
                }
            }
        }
        return n;
    }

    private static long watermarks(ReplicaState state) {
        long n = 0;
        for (Map.Entry<String, SectionKind> s : REGISTRY.all().entrySet()) {
            if (s.getValue() == SectionKind.LOG) {
                n += state.log(s.getKey()).watermarks().size();
            }
        }
        return n;
    }

    /** The {@code "sections"} value of an export document, as text. */
    private static String sectionsOf(String document) {
        int at = document.indexOf(",\"sections\":");
        assertTrue(at > 0 && document.endsWith("}"), "not an export document: " + document.substring(0, Math.min(200, document.length())));
        return document.substring(at + ",\"sections\":".length(), document.length() - 1);
    }

    private static List<String> names(JsonNode object) {
        List<String> out = new ArrayList<>();
        Iterator<String> it = object.fieldNames();
        it.forEachRemaining(out::add);
        return out;
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static HttpRequest.Builder request(TestServer server, String path, String token) {
        return HttpRequest.newBuilder(URI.create(server.httpBase() + path)).timeout(SLOW).header("Authorization", "Bearer " + token);
    }

    /**
     * Heap of this JVM (test client and server) from now on: used after a GC at the start, and the
     * peak of the heap pools since, an upper bound (uncollected garbage counts too).
     */
    static final class Heap {
        private final long baseline;

        private Heap(long baseline) {
            this.baseline = baseline;
        }

        static Heap start() {
            System.gc();
            long used = 0;
            for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
                if (pool.getType() == MemoryType.HEAP) {
                    pool.resetPeakUsage();
                    used += pool.getUsage().getUsed();
                }
            }
            return new Heap(used);
        }

        String report() {
            long peak = 0;
            for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
                if (pool.getType() == MemoryType.HEAP) {
                    peak += pool.getPeakUsage().getUsed();
                }
            }
            return "baseline " + (baseline >> 20) + " MiB, peak " + (peak >> 20) + " MiB, max " + (Runtime.getRuntime().maxMemory() >> 20) + " MiB";
        }
    }
}
