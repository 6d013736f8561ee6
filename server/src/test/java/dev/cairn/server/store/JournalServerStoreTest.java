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

    @Override
    protected ServerStore openStore(Vertx vertx) {
        return JournalServerStore.open(vertx, file);
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
        long whole = Files.size(file);
        // What a kill in the middle of the next append leaves: a record header and part of its payload.
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            ch.write(java.nio.ByteBuffer.wrap(new byte[] {0, 0, 1, 0, 12, 34, 56, 78, 0, 0, 0, 3, 1, 0}));
        }
        store = openStore(vertx);
        await(store.start());
        assertEquals(2L, await(store.head("alice")));
        assertEquals(2, await(store.readSince("alice", 0, 10)).changes().size());
        assertEquals(whole, Files.size(file), "the torn record was cut off");
        commit("alice", set("prefs", "theme", "\"light\"", 3, "phone"));
        assertEquals(3L, reopen().head("alice").toCompletionStage().toCompletableFuture().get());
    }

    @Test
    void theJournalIsOneFileInTheDataDirectory() throws IOException {
        Path dataDir = dir.resolve("server-data");
        JournalServerStore s = JournalServerStore.inDataDir(vertx, dataDir);
        assertEquals(dataDir.resolve("server.journal").toAbsolutePath(), s.file());
    }

    @Test
    void usageOfAJournalWrittenBeforeUsageWasKeptIsCountedFromItsEntries() throws Exception {
        commit("alice", set("prefs", "thème", "\"ü\"", 1, "phone"), append("chat", "c", "\"x\"", 1, "phone"));
        await(store.close());
        store = null;
        try (dev.cairn.engine.store.JournalLocalStore raw = dev.cairn.engine.store.JournalLocalStore.open(file)) {
            raw.commit(List.of(dev.cairn.engine.store.StoreWrite.delete(ServerRecords.usageKey(ServerRecords.userPrefix("alice")))));
        }
        store = openStore(vertx);
        await(store.start());
        long expected = utf8("thème") + utf8("\"ü\"") + utf8("c") + utf8("\"x\"");
        assertEquals(expected, (long) await(store.usage("alice")));
        commit("alice", set("prefs", "more", "1", 2, "phone"));
        assertEquals(expected + utf8("more") + 1, (long) await(store.usage("alice")));
    }
}
