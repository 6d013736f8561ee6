package dev.cairn.server.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Vertx;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link MapDbServerStore} against the shared contract, plus what only a file store can get wrong. */
class MapDbServerStoreTest extends ServerStoreContract {

    @TempDir
    Path dir;

    private Path file;

    @Override
    protected void createBacking(Vertx vertx) {
        file = dir.resolve("data").resolve("server.db");   // the parent directory does not exist yet
    }

    @Override
    protected ServerStore openStore(Vertx vertx) {
        return MapDbServerStore.open(vertx, file);
    }

    @Override
    protected void destroyBacking() {
        // @TempDir removes the file.
    }

    @Test
    void operationsBeforeStartOrAfterCloseFailAsUnavailable() throws Exception {
        ServerStore fresh = MapDbServerStore.open(vertx, dir.resolve("other.db"));
        assertInstanceOf(StoreUnavailableException.class, failureOf(fresh.ping()));
        assertInstanceOf(StoreUnavailableException.class, failureOf(fresh.head("alice")));
        await(fresh.close());

        commit("alice", set("prefs", "theme", "\"dark\"", 1, "phone"));
        await(store.close());
        assertInstanceOf(StoreUnavailableException.class, failureOf(store.ping()));
        assertInstanceOf(StoreUnavailableException.class, failureOf(store.commit(List.of(
                new ServerStore.UserBatch("alice", List.of(set("prefs", "theme", "\"light\"", 2, "phone")))))));
        store = MapDbServerStore.open(vertx, file);
        await(store.start());
        assertEquals(1L, await(store.head("alice")), "the failed commit after close left nothing behind");
    }

    @Test
    void aFileThatIsNotAStoreFailsToStart() throws Exception {
        Path junk = dir.resolve("junk.db");
        Files.write(junk, new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
        ServerStore bad = MapDbServerStore.open(vertx, junk);
        Throwable failure = failureOf(bad.start());
        assertInstanceOf(StoreUnavailableException.class, failure);
        assertTrue(failure.getMessage().contains(junk.toString()), failure.getMessage());
        await(bad.close());
    }
}
