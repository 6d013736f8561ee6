package dev.cairn.server.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.store.JournalLocalStore;
import dev.cairn.engine.store.StoreWrite;
import dev.cairn.engine.store.TieredLocalStore;
import dev.cairn.server.store.ServerStore.Sequenced;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link JournalServerStore} against the shared contract, plus what only a file store can get wrong. */
class JournalServerStoreTest extends ServerStoreContract {

    @TempDir
    Path dir;

    private Path file;

    @Override
    protected void createBacking(Vertx vertx) {
        file = dir.resolve("data").resolve(JournalServerStore.FILE_NAME);   // the parent directory does not exist yet
    }

    /** Small segments, so the contract also runs through MapDB snapshots and merges. */
    static final TieredLocalStore.Options SMALL = TieredLocalStore.Options.defaults().withFlushBytes(4096).withFanout(2);

    @Override
    protected ServerStore openStore(Vertx vertx) {
        return JournalServerStore.open(vertx, file, SMALL);
    }

    /** The journal segment being appended to. */
    private Path newestSegment() throws IOException {
        try (var files = Files.list(file.resolveSibling(JournalServerStore.STORE_DIR))) {
            return files.filter(f -> f.getFileName().toString().endsWith(".journal")).sorted().reduce((a, b) -> b).orElseThrow();
        }
    }

    @Test
    void pruningMoreHistoryThanOneChunkDeletesAllOfItInSeveralCommits() throws Exception {
        int n = JournalServerStore.PRUNE_CHUNK * 2 + 1;
        dev.cairn.engine.crdt.Change[] first = new dev.cairn.engine.crdt.Change[n];
        dev.cairn.engine.crdt.Change[] second = new dev.cairn.engine.crdt.Change[n];
        for (int i = 0; i < n; i++) {
            first[i] = set("prefs", "k" + i, "1", 1, "phone");
            second[i] = set("prefs", "k" + i, "2", 2, "phone");
        }
        // store.commit directly: the contract's commit helper checks every result with a message as long as the batch
        await(store.commit(List.of(batch("alice", first)), new ServerStore.Limits(0, 60_000, 1_000)));
        await(store.commit(List.of(batch("alice", second)), new ServerStore.Limits(0, 60_000, 1_000))); // n history records
        assertEquals(1, history("alice", "prefs", "k" + (n - 1)).size());
        assertEquals((long) n, await(store.pruneHistory(2_000)), "three chunks: every expired record, each once");
        assertEquals(List.of(), history("alice", "prefs", "k0"));
        assertEquals(List.of(), history("alice", "prefs", "k" + (n - 1)));
        assertEquals(0L, await(store.pruneHistory(2_000)));
    }

    @Override
    protected void destroyBacking() {
        // @TempDir removes the file.
    }

    @Test
    void operationsBeforeStartOrAfterCloseFailAsUnavailable() throws Exception {
        ServerStore fresh = JournalServerStore.open(vertx, dir.resolve("other.journal"));
        assertInstanceOf(StoreUnavailableException.class, failureOf(fresh.ping()));
        assertInstanceOf(StoreUnavailableException.class, failureOf(fresh.head("alice")));
        await(fresh.close());

        commit("alice", set("prefs", "theme", "\"dark\"", 1, "phone"));
        await(store.close());
        assertInstanceOf(StoreUnavailableException.class, failureOf(store.ping()));
        assertInstanceOf(StoreUnavailableException.class, failureOf(store.commit(List.of(
                new ServerStore.UserBatch("alice", List.of(set("prefs", "theme", "\"light\"", 2, "phone")))))));
        store = JournalServerStore.open(vertx, file);
        await(store.start());
        assertEquals(1L, await(store.head("alice")), "the failed commit after close left nothing behind");
    }

    @Test
    void aFileThatIsNotAStoreFailsToStartAndIsLeftAlone() throws Exception {
        Path junk = dir.resolve("junk.journal");
        byte[] bytes = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
        Files.write(junk, bytes);
        ServerStore bad = JournalServerStore.open(vertx, junk);
        Throwable failure = failureOf(bad.start());
        assertInstanceOf(StoreUnavailableException.class, failure);
        assertTrue(failure.getMessage().contains(junk.toString()), failure.getMessage());
        await(bad.close());
        assertTrue(java.util.Arrays.equals(bytes, Files.readAllBytes(junk)), "a foreign file must not be touched");
        // The failed start released the lock: a second try fails for the same reason, not "in use".
        ServerStore again = JournalServerStore.open(vertx, junk);
        assertTrue(!failureOf(again.start()).getMessage().contains("in use"));
        await(again.close());
    }

    @Test
    void aSecondStoreOnTheSameFileIsRefusedWhileTheFirstIsOpen() throws Exception {
        commit("alice", set("prefs", "theme", "\"dark\"", 1, "phone"));
        ServerStore second = JournalServerStore.open(vertx, file);
        Throwable failure = failureOf(second.start());
        assertInstanceOf(StoreUnavailableException.class, failure);
        assertTrue(failure.getMessage().contains("in use by another server"), failure.getMessage());
        await(second.close());
        assertEquals(1L, await(store.head("alice")), "the refused store changed nothing");
        reopen();   // closing the first releases the lock
        assertEquals(1L, await(store.head("alice")));
    }

    @Test
    void aTornLastRecordIsCutOffAndEveryCompletedCommitSurvives() throws Exception {
        commit("alice", set("prefs", "theme", "\"dark\"", 1, "phone"));
        commit("alice", set("prefs", "lang", "\"en\"", 2, "phone"));
        await(store.close());
        store = null;
        Path segment = newestSegment();
        long whole = Files.size(segment);
        // What a kill in the middle of the next append leaves: a record header and part of its payload.
        try (FileChannel ch = FileChannel.open(segment, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            ch.write(java.nio.ByteBuffer.wrap(new byte[] {0, 0, 1, 0, 12, 34, 56, 78, 0, 0, 0, 3, 1, 0}));
        }
        store = openStore(vertx);
        await(store.start());
        assertEquals(2L, await(store.head("alice")));
        assertEquals(2, await(store.readSince("alice", 0, 10)).changes().size());
        assertEquals(whole, Files.size(segment), "the torn record was cut off");
        commit("alice", set("prefs", "theme", "\"light\"", 3, "phone"));
        assertEquals(3L, reopen().head("alice").toCompletionStage().toCompletableFuture().get());
    }

    @Test
    void theJournalIsOneFileInTheDataDirectory() throws IOException {
        Path dataDir = dir.resolve("server-data");
        JournalServerStore s = JournalServerStore.inDataDir(vertx, dataDir);
        assertEquals(dataDir.resolve("server.journal").toAbsolutePath(), s.file());
        assertEquals(dataDir.resolve("server-store").toAbsolutePath(), s.storeDir());
    }

    @Test
    void usageOfAJournalWrittenBeforeUsageWasKeptIsCountedFromItsEntries() throws Exception {
        commit("alice", set("prefs", "thème", "\"ü\"", 1, "phone"), append("chat", "c", "\"x\"", 1, "phone"));
        await(store.close());
        store = null;
        try (TieredLocalStore raw = TieredLocalStore.open(file.resolveSibling(JournalServerStore.STORE_DIR), SMALL)) {
            raw.commit(List.of(StoreWrite.delete(ServerRecords.usageKey(ServerRecords.userPrefix("alice")))));
        }
        store = openStore(vertx);
        await(store.start());
        long expected = utf8("thème") + utf8("\"ü\"") + utf8("c") + utf8("\"x\"");
        assertEquals(expected, (long) await(store.usage("alice")));
        commit("alice", set("prefs", "more", "1", 2, "phone"));
        assertEquals(expected + utf8("more") + 1, (long) await(store.usage("alice")));
    }

    @Test
    void aJournalOfAnEarlierVersionIsMovedIntoTheStoreAndKept() throws Exception {
        await(store.close());
        store = null;
        Path dataDir = dir.resolve("old-data");
        Path old = dataDir.resolve(JournalServerStore.FILE_NAME);
        // The records an earlier version kept in server.journal: made by this store, then copied into that format.
        ServerStore first = JournalServerStore.open(vertx, dataDir.resolve("first").resolve(JournalServerStore.FILE_NAME), SMALL);
        await(first.start());
        await(first.commit(List.of(new ServerStore.UserBatch("alice", List.of(set("prefs", "theme", "\"dark\"", 1, "phone")))),
                ServerStore.Limits.NONE));
        await(first.close());
        // copy every record of that store into a journal file of the earlier format
        try (TieredLocalStore src = TieredLocalStore.open(dataDir.resolve("first").resolve(JournalServerStore.STORE_DIR), SMALL);
             JournalLocalStore raw = JournalLocalStore.open(old)) {
            List<StoreWrite> all = new java.util.ArrayList<>();
            src.scan(new byte[0], (k, v) -> all.add(StoreWrite.put(k, v)));
            raw.commit(all);
        }
        ServerStore upgraded = JournalServerStore.open(vertx, old, SMALL);
        await(upgraded.start());
        assertEquals(1L, await(upgraded.head("alice")));
        assertEquals(1, await(upgraded.readSince("alice", 0, 10)).changes().size());
        await(upgraded.close());
        assertTrue(Files.notExists(old), "the old journal was moved into the store");
    }

    @Test
    void seqIndexRecordsOfAnEarlierVersionWhichNameOnlyTheEntrysKeyAreReadAndGoWithTheirEntry() throws Exception {
        commit("alice", set("prefs", "theme", "\"dark\"", 1, "phone"), set("prefs", "gone", null, 1, "phone"),
                append("chat", "c", "\"hi\"", 1, "phone"), clear("chat", "d", 1, "phone"), clearSection("cards", 1, "phone"));
        List<Sequenced> before = readAll("alice", 0, 2);
        await(store.close());
        store = null;
        // rewrite every index record as earlier versions wrote it: the value is the entry's whole key
        byte[] prefix = ServerRecords.userPrefix("alice");
        try (TieredLocalStore raw = TieredLocalStore.open(file.resolveSibling(JournalServerStore.STORE_DIR), SMALL)) {
            List<StoreWrite> old = new java.util.ArrayList<>();
            raw.scan(ServerRecords.seqKey(prefix, 0), ServerRecords.seqKeyEnd(prefix), (k, v) -> {
                assertTrue(ServerRecords.indexHoldsEntry(v));
                old.add(StoreWrite.put(k, ServerRecords.indexedKey(prefix, v)));
                return true;
            });
            assertEquals(before.size(), old.size());
            raw.commit(old);
        }
        store = openStore(vertx);
        await(store.start());
        assertEquals(before, readAll("alice", 0, 2), "the old records read as the new ones: the same changes and seqs");
        commit("alice", set("prefs", "theme", "\"light\"", 2, "phone"));
        List<Sequenced> after = readAll("alice", 0, 10);
        assertEquals(before.size(), after.size(), "the replaced entry's old index record is gone");
        assertEquals("\"light\"", ((Change.Put) after.get(after.size() - 1).change()).value());
    }
}
