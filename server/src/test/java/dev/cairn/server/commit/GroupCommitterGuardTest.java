package dev.cairn.server.commit;

import static dev.cairn.server.TestFutures.await;
import static dev.cairn.server.TestFutures.failureOf;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.server.store.GuardFailedException;
import dev.cairn.server.store.JournalServerStore;
import dev.cairn.server.store.QuotaExceededException;
import dev.cairn.server.store.ServerStore;
import dev.cairn.server.store.ServerStore.Guard;
import dev.cairn.server.store.ServerStore.UserBatch;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Guards and atomic groups in the group committer, on a real (journal) store. Each case first
 * submits a filler batch, so (one transaction at a time) the batches after it queue up and share
 * the next transaction.
 */
class GroupCommitterGuardTest {

    private static final String SPACE = "space:s1";
    private static final Guard BOB_WRITES = new Guard(SPACE, "members", "bob", Set.of("owner", "editor"));
    private static final Guard EVE_WRITES = new Guard(SPACE, "members", "eve", Set.of("owner", "editor"));

    @TempDir
    Path dir;
    private Vertx vertx;
    private ServerStore store;
    private GroupCommitter committer;
    private final List<String> told = new ArrayList<>();

    @BeforeEach
    void open() throws Exception {
        vertx = Vertx.vertx();
        store = JournalServerStore.open(vertx, dir.resolve("server.journal"));
        await(store.start());
        committer = new GroupCommitter(store, 100, 0, 1, 10_000, r -> told.add(r.user()), n -> { });
        await(store.commit(List.of(new UserBatch(SPACE, List.of(put("members", "bob", "{\"role\":\"editor\"}", 1))))));
    }

    @AfterEach
    void close() throws Exception {
        await(store.close());
        await(vertx.close());
    }

    private static Change put(String section, String key, String json, long hlc) {
        return new Change.Put(section, key, json, new Stamp(hlc, "server"));
    }

    private static Change delete(String section, String key, long hlc) {
        return new Change.Put(section, key, null, new Stamp(hlc, "server"));
    }

    /** Submits the filler, then {@code rest} on the committer's loop, in one go. */
    private List<Future<?>> queued(Function<GroupCommitter, List<Future<?>>> rest) throws Exception {
        CompletableFuture<List<Future<?>>> out = new CompletableFuture<>();
        vertx.runOnContext(v -> {
            committer.submit(new UserBatch("filler", List.of(put("prefs", "a", "1", 1))));
            out.complete(rest.apply(committer));
        });
        return out.get(30, TimeUnit.SECONDS);
    }

    @Test
    void aFailedGuardFailsOnlyItsBatch() throws Exception {
        List<Future<?>> f = queued(c -> List.of(
                c.submit(new UserBatch("carol", List.of(put("prefs", "a", "1", 1)))),
                c.submit(new UserBatch(SPACE, List.of(put("cards", "x", "1", 5)), EVE_WRITES)),
                c.submit(new UserBatch(SPACE, List.of(put("cards", "y", "2", 5)), BOB_WRITES))));
        await(f.get(0));
        GuardFailedException refused = assertInstanceOf(GuardFailedException.class, failureOf(f.get(1)));
        assertNull(refused.foundRole());
        await(f.get(2));
        assertEquals(1L, await(store.head("carol")));
        assertEquals(List.of("y"), cards());
    }

    @Test
    void aReSentPushThatWritesNothingIsAcknowledgedThoughItsGuardFailsEvenBesideWritesOfItsSpace() throws Exception {
        Guard evePush = new Guard(SPACE, "members", "eve", Set.of("owner", "editor"), true);
        Guard bobPush = new Guard(SPACE, "members", "bob", Set.of("owner", "editor"), true);
        // eve's push committed while she was an editor; its ack was lost, and she was removed
        await(store.commit(List.of(new UserBatch(SPACE, List.of(put("members", "eve", "{\"role\":\"editor\"}", 2))))));
        UserBatch eves = new UserBatch(SPACE, List.of(put("cards", "e", "1", 5)), evePush);
        await(store.commit(List.of(eves)));
        await(store.commit(List.of(new UserBatch(SPACE, List.of(delete("members", "eve", 3))))));
        long head = await(store.head(SPACE));
        List<Future<?>> f = queued(c -> List.of(
                c.submit(new UserBatch(SPACE, List.of(put("cards", "b", "1", 6)), bobPush)),
                c.submit(eves),
                c.submit(new UserBatch(SPACE, List.of(put("cards", "e2", "1", 6)), evePush))));
        assertEquals(1, ((ServerStore.CommitResult) await(f.get(0))).applied().size());
        ServerStore.CommitResult resent = (ServerStore.CommitResult) await(f.get(1));
        assertEquals(List.of(), resent.applied(), "the re-send alters nothing: acknowledged");
        GuardFailedException refused = assertInstanceOf(GuardFailedException.class, failureOf(f.get(2)), "a removed member's new write");
        assertNull(refused.foundRole());
        assertEquals(List.of("b", "e"), cards());
        assertEquals(head + 1, await(store.head(SPACE)), "only bob's change took a seq");
    }

    @Test
    void submitAllCommitsAtomicallyAndNeverSplits() throws Exception {
        List<Future<?>> f = queued(c -> List.of(
                // holds: both keys committed
                c.submitAll(List.of(new UserBatch(SPACE, List.of(put("cards", "a", "1", 5)), BOB_WRITES),
                        new UserBatch("bob", List.of(put("spaces", "s1", "{\"role\":\"editor\"}", 5))))),
                // a guard fails: neither key
                c.submitAll(List.of(new UserBatch("dan", List.of(put("spaces", "s1", "{\"role\":\"editor\"}", 5))),
                        new UserBatch(SPACE, List.of(put("cards", "b", "1", 5)), EVE_WRITES))),
                // one user over the quota (100): neither key, although "frank" alone fits
                c.submitAll(List.of(new UserBatch("frank", List.of(put("prefs", "a", "1", 1))),
                        new UserBatch("gina", List.of(put("prefs", "big", "\"" + "x".repeat(120) + "\"", 1))))),
                c.submit(new UserBatch("carol", List.of(put("prefs", "a", "1", 1))))));
        @SuppressWarnings("unchecked")
        var both = (java.util.Map<String, ServerStore.CommitResult>) await(f.get(0));
        assertEquals(Set.of(SPACE, "bob"), both.keySet());
        assertInstanceOf(GuardFailedException.class, failureOf(f.get(1)));
        assertEquals(0L, await(store.head("dan")), "nothing of a group whose guard failed");
        assertInstanceOf(QuotaExceededException.class, failureOf(f.get(2)));
        assertEquals(0L, await(store.head("frank")), "a group refused for one user's quota is not split on retry");
        await(f.get(3));
        assertEquals(List.of("a"), cards());
    }

    @Test
    void aMembershipChangeGoesFirstSoAQueuedPushSeesTheRemoval() throws Exception {
        List<Future<?>> f = queued(c -> List.of(
                c.submit(new UserBatch(SPACE, List.of(put("cards", "late", "1", 5)), BOB_WRITES)),
                c.submitAll(List.of(new UserBatch(SPACE, List.of(delete("members", "bob", 9))),
                        new UserBatch("bob", List.of(delete("spaces", "s1", 9)))))));
        await(f.get(1));
        GuardFailedException refused = assertInstanceOf(GuardFailedException.class, failureOf(f.get(0)),
                "the push queued beside the removal is checked after it");
        assertNull(refused.foundRole());
        assertEquals(List.of(), cards());
    }

    private List<String> cards() throws Exception {
        List<String> keys = new ArrayList<>();
        for (ServerStore.MapEntry e : await(store.readMap(SPACE, "cards", "", null, 100)).entries()) {
            keys.add(e.key());
        }
        return keys;
    }
}
