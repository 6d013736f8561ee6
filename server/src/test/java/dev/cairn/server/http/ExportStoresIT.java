package dev.cairn.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.codec.CanonicalJson;
import dev.cairn.engine.crdt.Change;
import dev.cairn.server.TestServer;
import dev.cairn.server.section.SectionRegistry;
import dev.cairn.server.store.ServerStore;
import dev.cairn.server.store.TestDatabase;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The streamed export of a large user on both stores: the same data gives the same bytes
 * (keys and stream names with astral-plane characters and U+E000..U+FFFF included, where UTF-16
 * order, the canonical one, and the stores' code point order disagree); no store read returns
 * more than a page, so the server never holds the user's state at once; the export's temp file
 * is gone afterwards. {@code -Dcairn.exportEntries=1000000} makes it the measurement of
 * BENCHMARKS.md ("The streamed export"): it then prints time and heap and skips the fold check.
 */
class ExportStoresIT {

    private static final int ENTRIES = Integer.getInteger("cairn.exportEntries", 30_000);
    private static final int PAGE = 500;
    /** Past this many entries the test does not fold the state in its own heap to check the canonical encoding. */
    private static final int FOLD_CHECK_MAX = 50_000;
    private static final List<String> MAPS = List.of("ui", "cards", "memory", "state");
    /**
     * Key tails: where the first difference is a character of U+E000..U+FFFF against an astral
     * one, UTF-16 order and code point order disagree.
     */
    private static final List<String> TAILS = List.of("", "/a", "\uE000", "\uFFFD", "\uFFFF", "\uD83D\uDE00", "\uD834\uDD1E", "\uFF5Az",
            "\u00e9", "\u65e5\u672c", "\uE000\uD83D\uDE00", "\uD83D\uDE00\uE000");
    private static final List<String> STREAM_TAILS = List.of("", "\uD83D\uDE00", "\uE000", "\uFFFF");
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();

    @TempDir
    static Path dir;
    private static Vertx admin;
    private static TestDatabase db;

    @BeforeAll
    static void createDatabase() {
        admin = Vertx.vertx();
        db = TestDatabase.create(admin);
    }

    @AfterAll
    static void dropDatabase() {
        try {
            db.close();
        } finally {
            TestServer.await(admin.close());
        }
    }

    @Test
    void bothStoresExportTheSameBytesPageByPage() throws Exception {
        String embedded = export("embedded", TestServer.embedded(dir.resolve("embedded")));
        String postgres = export("postgres", TestServer.postgres(db.url()));
        assertEquals(embedded, postgres, "the SHA-256 of the export's sections differ between the stores");
    }

    /** Seeds, exports, checks; returns the SHA-256 of the document's {@code "sections"}. */
    private static String export(String kind, TestServer.Builder builder) throws Exception {
        KeyedReadIT.Counting counting = new KeyedReadIT.Counting();
        try (TestServer server = builder.env("CAIRN_PAGE_SIZE", Integer.toString(PAGE)).decorateStore(counting::wrap).start()) {
            String user = "export-" + kind;
            long seedStarted = System.nanoTime();
            seed(server.store(), user);
            long seedMs = (System.nanoTime() - seedStarted) / 1_000_000;
            List<Path> tempBefore = exportTempFiles();

            counting.reset();
            TransferIT.Heap heap = TransferIT.Heap.start();
            long started = System.nanoTime();
            HttpResponse<InputStream> r = HTTP.send(HttpRequest.newBuilder(URI.create(server.httpBase() + "/api/export"))
                    .timeout(Duration.ofMinutes(30)).header("Authorization", "Bearer " + server.token(user)).GET().build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            assertEquals(200, r.statusCode());
            Sections sections;
            try (InputStream in = r.body()) {
                sections = Sections.of(in);
            }
            long exportMs = (System.nanoTime() - started) / 1_000_000;
            String heapReport = heap.report();

            long rows = counting.changesRead.get() + counting.entriesRead.get();
            long reads = counting.reads.get();
            long largest = counting.largestRead.get();
            assertTrue(largest <= PAGE, kind + ": a store read returned " + largest + " rows, more than a page");
            assertTrue(rows > 10L * PAGE, kind + ": the user's " + rows + " rows should be many pages");
            assertEquals(tempBefore, exportTempFiles(), kind + ": the export left a temp file behind");
            if (ENTRIES <= FOLD_CHECK_MAX) {
                String canonical = CanonicalJson.encode(server.state(user), new SectionRegistry(Map.of()).all().keySet());
                assertEquals(digest(canonical.getBytes(StandardCharsets.UTF_8)), sections.sha256, kind + ": the export is not the canonical encoding");
            }
            System.out.printf("ExportStoresIT %s: %,d changes seeded in %,d ms; export %,d ms, %.1f MiB, %,d store reads of at most %d rows"
                    + " (%,d rows), heap %s%n", kind, ENTRIES, seedMs, exportMs, sections.bytes / 1048576.0, reads, largest, rows, heapReport);
            return sections.sha256;
        }
    }

    /** The same changes for every store: maps with tombstones and a section clear, log streams with a clear. */
    private static void seed(ServerStore store, String user) {
        List<Change> batch = new ArrayList<>();
        for (int i = 0; i < ENTRIES; i++) {
            batch.add(change(i));
            if (batch.size() == 10_000 || i == ENTRIES - 1) {
                TestServer.await(store.commit(List.of(new ServerStore.UserBatch(user, batch))));
                batch = new ArrayList<>();
            }
        }
    }

    private static Change change(int i) {
        Stamp stamp = new Stamp(Stamp.pack(1_700_000_000_000L + i / 8, i & 7), "seed-" + i % 3);
        // One clear of a map section and one of a stream: what they hide is left out of the export.
        if (i == ENTRIES / 10) {
            return Change.Clear.wholeSection("ui", stamp);
        }
        if (i == ENTRIES / 5) {
            return new Change.Clear("chat", "conv-" + i % 30 + STREAM_TAILS.get(i % STREAM_TAILS.size()), stamp);
        }
        if (i % 7 == 3) {
            return new Change.Append("chat", "conv-" + i % 30 + STREAM_TAILS.get(i % STREAM_TAILS.size()), "{\"n\":" + i + ",\"t\":\"\uE000\uD83D\uDE00\"}", stamp);
        }
        // Mostly distinct keys; every fourth one is rewritten by a later change.
        String key = "k" + i % 1_000 + TAILS.get(i % TAILS.size()) + (i % 4 == 0 ? "" : "/" + i / 1_000);
        String value = i % 37 == 0 ? null : i % 5 == 0 ? "\"\uFFFF\uD83D\uDE00 " + i + "\"" : "{\"i\":" + i + "}";
        return new Change.Put(MAPS.get(i % MAPS.size()), key, value, stamp);
    }

    private static List<Path> exportTempFiles() throws IOException {
        try (Stream<Path> files = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return files.filter(p -> p.getFileName().toString().startsWith("cairn-export-")).sorted().toList();
        }
    }

    private static String digest(byte[] bytes) throws NoSuchAlgorithmException {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    /** The SHA-256 and size of a streamed document's {@code "sections"} value, read without holding the document. */
    private record Sections(String sha256, long bytes) {
        static Sections of(InputStream in) throws IOException, NoSuchAlgorithmException {
            byte[] marker = ",\"sections\":".getBytes(StandardCharsets.US_ASCII);
            byte[] head = in.readNBytes(200);
            int at = indexOf(head, marker);
            assertTrue(at > 0, "not an export document: " + new String(head, StandardCharsets.UTF_8));
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            // The document is {...,"sections":<sections>}: everything after the marker but the last '}'.
            byte[] held = java.util.Arrays.copyOfRange(head, at + marker.length, head.length);
            long total = 0;
            byte[] buffer = new byte[1 << 16];
            int n;
            while ((n = in.read(buffer)) > 0) {
                sha.update(held);
                total += held.length;
                held = java.util.Arrays.copyOf(buffer, n);
            }
            assertTrue(held.length > 0 && held[held.length - 1] == '}', "the document does not end with '}'");
            sha.update(held, 0, held.length - 1);
            total += held.length - 1;
            return new Sections(HexFormat.of().formatHex(sha.digest()), total);
        }

        private static int indexOf(byte[] hay, byte[] needle) {
            outer:
            for (int i = 0; i + needle.length <= hay.length; i++) {
                for (int j = 0; j < needle.length; j++) {
                    if (hay[i + j] != needle[j]) {
                        continue outer;
                    }
                }
                return i;
            }
            return -1;
        }
    }
}
