package dev.cairn.server.commit;

import static dev.cairn.server.TestFutures.await;
import static dev.cairn.server.TestFutures.failureOf;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.server.store.JournalServerStore;
import dev.cairn.server.store.QuotaExceededException;
import dev.cairn.server.store.ServerStore;
import dev.cairn.server.store.ServerStore.CommitResult;
import dev.cairn.server.store.ServerStore.UserBatch;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Group commit with a quota on a real (journal) store: one user's refusal fails only that user's
 * batch, never the other users' batches that shared its transaction.
 */
class GroupCommitterTest {

    @TempDir
    Path dir;

    private static Change put(String key, int bytes, long hlc) {
        return new Change.Put("preferences", key, "\"" + "x".repeat(bytes - 2) + "\"", new Stamp(hlc, "phone"));
    }

    @Test
    void aRefusedUserDoesNotFailTheOthersInTheSameTransaction() throws Exception {
        Vertx vertx = Vertx.vertx();
        ServerStore store = JournalServerStore.open(vertx, dir.resolve("server.journal"));
        try {
            store.start().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
            List<String> committedUsers = new ArrayList<>();
            // One transaction at a time: while carol's is in flight, the next three queue up and share one.
            GroupCommitter committer = new GroupCommitter(store, 100, 60_000, 1, 10_000,
                    r -> committedUsers.add(r.user()), nanos -> { });
            CompletableFuture<List<Future<CommitResult>>> submitted = new CompletableFuture<>();
            vertx.runOnContext(v -> {
                List<Future<CommitResult>> f = new ArrayList<>();
                f.add(committer.submit(new UserBatch("carol", List.of(put("a", 10, 1)))));
                f.add(committer.submit(new UserBatch("alice", List.of(put("big", 120, 1)))));   // over 100 on its own
                f.add(committer.submit(new UserBatch("bob", List.of(put("a", 10, 1)))));
                f.add(committer.submit(new UserBatch("alice", List.of(put("small", 10, 2)))));   // fits alone
                submitted.complete(f);
            });
            List<Future<CommitResult>> futures = submitted.get(30, TimeUnit.SECONDS);
            assertEquals(1, await(futures.get(0)).applied().size(), "carol");
            Throwable refused = failureOf(futures.get(1));
            QuotaExceededException quota = assertInstanceOf(QuotaExceededException.class, refused);
            assertEquals("alice", quota.user());
            assertEquals(0L, quota.usedBytes());
            assertEquals(100L, quota.quotaBytes());
            assertEquals(1, await(futures.get(2)).applied().size(), "bob is committed although he shared a transaction with alice's refusal");
            assertEquals(1, await(futures.get(3)).applied().size(), "alice's batch that fits on its own is committed");
            assertEquals(0L, (long) await(store.usage("carol")) - ("a".length() + 10));
            assertEquals("small".length() + 10L, (long) await(store.usage("alice")));
            assertEquals("a".length() + 10L, (long) await(store.usage("bob")));
            assertTrue(committedUsers.containsAll(List.of("carol", "bob", "alice")), committedUsers.toString());
        } finally {
            store.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
            vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }
}
