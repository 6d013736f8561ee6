package dev.cairn.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Streamed export and import (large files, progress, size limit, damage) and restoreData. */
class StreamingExportImportTest {

    private static final long LIMIT = 64L << 20;
    private ManualWallClock wall;
    private Cairn a;
    private Cairn b;

    @BeforeEach
    void open() {
        wall = new ManualWallClock();
        a = TestSupport.inMemory("a", wall);
        b = TestSupport.inMemory("b", wall);
    }

    @AfterEach
    void close() {
        a.close();
        b.close();
    }

    private static byte[] export(Cairn c, Set<String> sections, List<long[]> progress) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        c.exportData(out, sections, (done, total) -> progress.add(new long[] {done, total}));
        return out.toByteArray();
    }

    @Test
    void aLargeStateStreamsOutAndInWithProgressAndArrivesWhole() throws IOException {
        for (int i = 0; i < 5_000; i++) {
            a.memory().remember("fact-" + i, "value-" + i);
        }
        for (int j = 0; j < 2_000; j++) {
            a.chat().append("c" + (j % 7), j % 2 == 0 ? "user" : "assistant", "message " + j);
        }
        List<long[]> out = new ArrayList<>();
        byte[] file = export(a, Set.of("memory", "chat"), out);
        assertTrue(java.util.Arrays.equals(a.exportData(Set.of("memory", "chat")).getBytes(StandardCharsets.UTF_8), file),
                "the streamed document is byte for byte the string form");
        assertEquals(7_000, out.size(), "one progress call per entry");
        assertEquals(7_000, out.get(out.size() - 1)[0]);
        assertEquals(7_000, out.get(0)[1]);

        List<long[]> in = new ArrayList<>();
        ImportResult result = b.importData(new ByteArrayInputStream(file), LIMIT, file.length, (done, total) -> in.add(new long[] {done, total}));
        assertEquals(7_000, result.changesRead());
        assertEquals(7_000, result.changesApplied());
        assertEquals(file.length, in.get(in.size() - 1)[0], "progress ends at the file size");
        for (int i = 1; i < in.size(); i++) {
            assertTrue(in.get(i)[0] >= in.get(i - 1)[0], "progress never goes back");
        }
        assertTrue(a.canonicalState().equals(b.canonicalState()), "the imported state is the exported one");
    }

    @Test
    void aFileOverTheLimitIsRefusedAndChangesNothing() throws IOException {
        for (int i = 0; i < 500; i++) {
            a.memory().remember("fact-" + i, "value-" + i);
        }
        byte[] file = export(a, Set.of("memory"), new ArrayList<>());
        b.memory().remember("mine", 1);
        String before = b.canonicalState();
        ImportException e = assertThrows(ImportException.class,
                () -> b.importData(new ByteArrayInputStream(file), file.length - 1, file.length, (d, t) -> { }));
        assertTrue(e.getMessage().contains("larger than the limit of " + (file.length - 1) + " bytes"), e.getMessage());
        assertEquals(before, b.canonicalState());
        assertEquals(500, b.importData(new ByteArrayInputStream(file), file.length, -1, (d, t) -> { }).changesApplied());
    }

    @Test
    void everyTruncationIsRefusedAndChangesNothing() throws IOException {
        a.memory().remember("fact", "v");
        a.chat().append("c1", "user", "hello");
        a.cards().card("intro").expand();
        byte[] file = export(a, Set.of("memory", "chat", "cards"), new ArrayList<>());
        String before = b.canonicalState();
        for (int cut = 0; cut < file.length; cut++) {
            InputStream in = new ByteArrayInputStream(file, 0, cut);
            ImportException e = assertThrows(ImportException.class, () -> b.importData(in, LIMIT, file.length, (d, t) -> { }),
                    "cut at " + cut);
            assertTrue(e.getMessage().startsWith("import file is"), "cut at " + cut + ": " + e.getMessage());
            assertEquals(before, b.canonicalState(), "cut at " + cut);
        }
    }

    @Test
    void trailingContentAForeignVersionAndAnUnreadableStreamAreRefused() {
        String doc = a.exportData();
        assertThrows(ImportException.class, () -> b.importData(stream(doc + doc), LIMIT, -1, (d, t) -> { }));
        ImportException version = assertThrows(ImportException.class,
                () -> b.importData(stream(doc.replace("\"version\":1", "\"version\":2")), LIMIT, -1, (d, t) -> { }));
        assertTrue(version.getMessage().contains("version 2 is not supported"), version.getMessage());
        InputStream broken = new InputStream() {
            @Override
            public int read() throws IOException {
                throw new IOException("disk went away");
            }
        };
        ImportException io = assertThrows(ImportException.class, () -> b.importData(broken, LIMIT, -1, (d, t) -> { }));
        assertTrue(io.getMessage().contains("disk went away"), io.getMessage());
    }

    @Test
    void restoreBringsBackWhatALaterClearHidAndItSyncsAsNewWrites() {
        a.memory().remember("name", "Ada");
        a.chat().append("c1", "user", "hello");
        a.chat().append("c1", "assistant", "hi");
        String backup = a.exportData();
        wall.advance(java.time.Duration.ofSeconds(1));
        a.clear("memory");
        a.clear("chat", "c1");
        assertEquals(null, a.memory().recall("name", String.class));

        TestSupport.ship(a, b);   // b has seen the clears
        ImportResult plain = a.importData(backup);
        assertEquals(0, plain.changesApplied(), "a plain import keeps the later clear");
        assertEquals(0, a.chat().history("c1").size());

        ImportResult restored = a.restoreData(backup);
        assertEquals(3, restored.restored());
        assertEquals("Ada", a.memory().recall("name", String.class));
        assertEquals(List.of("hello", "hi"), a.chat().history("c1").stream().map(ChatMessage::text).toList());

        assertEquals(0, a.restoreData(backup).restored(), "restoring twice adds nothing");
        TestSupport.ship(a, b);   // the restore syncs as new writes that beat the clears b already has
        assertEquals("Ada", b.memory().recall("name", String.class));
        assertEquals(2, b.chat().history("c1").size());
        assertTrue(a.canonicalState().equals(b.canonicalState()), "converged");
    }

    private static InputStream stream(String s) {
        return new ByteArrayInputStream(s.getBytes(StandardCharsets.UTF_8));
    }
}
