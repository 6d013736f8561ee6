package dev.cairn.server.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.codec.CanonicalJson;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.crdt.TextOrder;
import dev.cairn.server.store.ServerStore.CommitResult;
import dev.cairn.server.store.ServerStore.Page;
import dev.cairn.server.store.ServerStore.Sequenced;
import dev.cairn.server.store.ServerStore.UserBatch;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The conformance suite every {@link ServerStore} adapter runs (PROTOCOL.md sections 1.3 and 4):
 * a subclass only provides empty backing storage and opens stores on it.
 *
 * <p>Stores are driven from the test thread and futures are awaited with a timeout (never on an
 * event loop). Randomized cases print their seed in the failure message.
 */
public abstract class ServerStoreContract {

    protected static final long TIMEOUT_SECONDS = 30;

    /** The sections the tests use, with their kinds. */
    protected static final Map<String, SectionKind> SECTIONS = Map.of(
            "prefs", SectionKind.MAP, "cards", SectionKind.MAP, "chat", SectionKind.LOG, "consent", SectionKind.LOG,
            "members", SectionKind.MAP);

    protected Vertx vertx;
    protected ServerStore store;

    /** Creates empty backing storage (a file, a database) for one test. */
    protected abstract void createBacking(Vertx vertx) throws Exception;

    /** A new, not yet started store on the backing storage (called again to reopen it). */
    protected abstract ServerStore openStore(Vertx vertx) throws Exception;

    /** Removes the backing storage; every store on it is closed by then. */
    protected abstract void destroyBacking() throws Exception;

    @BeforeEach
    final void startStore() throws Exception {
        vertx = Vertx.vertx();
        createBacking(vertx);
        store = openStore(vertx);
        await(store.start());
    }

    @AfterEach
    final void stopStore() throws Exception {
        try {
            if (store != null) {
                await(store.close());
            }
        } finally {
            try {
                destroyBacking();
            } finally {
                await(vertx.close());
            }
        }
    }

    /** Closes the store and opens a new instance on the same backing storage. */
    protected ServerStore reopen() throws Exception {
        await(store.close());
        store = null;
        store = openStore(vertx);
        await(store.start());
        return store;
    }

    // ---- helpers

    protected static <T> T await(Future<T> future) throws Exception {
        try {
            return future.toCompletionStage().toCompletableFuture().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Exception cause ? cause : e;
        } catch (TimeoutException e) {
            throw new AssertionError("store did not answer within " + TIMEOUT_SECONDS + " s", e);
        }
    }

    /** The failure of a future that must fail. */
    protected static Throwable failureOf(Future<?> future) {
        try {
            future.toCompletionStage().toCompletableFuture().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            return e.getCause();
        } catch (Exception e) {
            throw new AssertionError("expected the future to fail, got " + e, e);
        }
        return fail("expected the future to fail, but it succeeded");
    }

    protected static Stamp stamp(long hlc, String replica) {
        return new Stamp(hlc, replica);
    }

    protected static Change.Put set(String section, String key, String json, long hlc, String replica) {
        return new Change.Put(section, key, json, stamp(hlc, replica));
    }

    protected static Change.Put delete(String section, String key, long hlc, String replica) {
        return new Change.Put(section, key, null, stamp(hlc, replica));
    }

    protected static Change.Append append(String section, String stream, String json, long hlc, String replica) {
        return new Change.Append(section, stream, json, stamp(hlc, replica));
    }

    protected static Change.Clear clear(String section, String stream, long hlc, String replica) {
        return new Change.Clear(section, stream, stamp(hlc, replica));
    }

    protected static Change.Clear clearSection(String section, long hlc, String replica) {
        return Change.Clear.wholeSection(section, stamp(hlc, replica));
    }

    protected Map<String, CommitResult> commit(UserBatch... batches) throws Exception {
        return await(store.commit(List.of(batches)));
    }

    protected CommitResult commit(String user, Change... changes) throws Exception {
        Map<String, CommitResult> results = commit(new UserBatch(user, List.of(changes)));
        assertEquals(Set.of(user), results.keySet());
        CommitResult result = results.get(user);
        checkResult(result);
        return result;
    }

    /** Invariants of every commit result: applied seqs strictly increasing inside (previousHead, head]. */
    protected static void checkResult(CommitResult result) {
        assertTrue(result.head() >= result.previousHead(), "head moved backwards: " + result);
        long last = result.previousHead();
        for (Sequenced s : result.applied()) {
            assertTrue(s.seq() > last, "applied seqs not strictly increasing after previousHead: " + result);
            last = s.seq();
        }
        assertTrue(last <= result.head(), "applied seq above head: " + result);
    }

    /**
     * Everything of a user with seq above {@code cursor}, walked in pages of {@code pageSize},
     * checking the paging invariants on the way.
     */
    protected List<Sequenced> readAll(String user, long cursor, int pageSize) throws Exception {
        return walk(user, cursor, pageSize).changes();
    }

    /** What a replica gets catching up from {@code cursor}: the changes and the cursor it ends at. */
    protected record Walk(List<Sequenced> changes, long cursor) {
    }

    /** Like {@link #readAll}, also returning the final cursor. */
    protected Walk walk(String user, long cursor, int pageSize) throws Exception {
        long headBefore = await(store.head(user));
        List<Sequenced> out = new ArrayList<>();
        while (true) {
            Page page = await(store.readSince(user, cursor, pageSize));
            assertTrue(page.changes().size() <= pageSize, "page larger than its limit");
            long last = cursor;
            for (Sequenced s : page.changes()) {
                assertTrue(s.seq() > last, "page not in seq order or repeats the cursor: " + page);
                last = s.seq();
            }
            assertTrue(page.cursor() >= last, "page cursor below its last change: " + page);
            if (page.more()) {
                assertEquals(pageSize, page.changes().size(), "a page with more after it must be full");
                assertEquals(last, page.cursor(), "the cursor of a page with more after it is its last change's seq");
            }
            out.addAll(page.changes());
            cursor = page.cursor();
            if (!page.more()) {
                assertTrue(page.cursor() >= headBefore, "the last page's cursor " + page.cursor() + " does not cover the head " + headBefore);
                return new Walk(out, page.cursor());
            }
        }
    }

    protected static ReplicaState newState() {
        return new ReplicaState(SECTIONS::get);
    }

    /** The user's state as a fresh replica rebuilds it from readSince(0). */
    protected String foldedState(String user, int pageSize) throws Exception {
        ReplicaState state = newState();
        for (Sequenced s : readAll(user, 0, pageSize)) {
            state.apply(s.change());
        }
        return CanonicalJson.encode(state);
    }

    protected static String encode(Change... changes) {
        ReplicaState state = newState();
        for (Change c : changes) {
            state.apply(c);
        }
        return CanonicalJson.encode(state);
    }

    // ---- cases

    @Test
    void kindIsNamedAndPingAnswers() throws Exception {
        assertTrue(store.kind().equals("postgres") || store.kind().equals("journal"), store.kind());
        await(store.ping());
    }

    @Test
    void unknownUserHasNothing() throws Exception {
        assertEquals(0L, await(store.head("nobody")));
        Page page = await(store.readSince("nobody", 0, 10));
        assertEquals(List.of(), page.changes());
        assertFalse(page.more());
        assertEquals(0L, page.cursor());
    }

    @Test
    void seqsIncreaseStrictlyAcrossCommits() throws Exception {
        long lastHead = 0;
        long lastSeq = 0;
        for (int i = 0; i < 5; i++) {
            CommitResult r = commit("alice",
                    set("prefs", "theme", "\"v" + i + "\"", 100 + i, "phone"),
                    append("chat", "conv-1", "{\"text\":\"m" + i + "\"}", 100 + i, "phone"),
                    set("cards", "card-" + i + "/isExpanded", "true", 100 + i, "laptop"));
            assertEquals(lastHead, r.previousHead(), "previousHead is the head the last commit left");
            assertEquals(3, r.applied().size());
            assertTrue(r.applied().get(0).seq() > lastSeq);
            lastSeq = r.applied().get(2).seq();
            lastHead = r.head();
        }
        assertEquals(lastHead, await(store.head("alice")));
        assertTrue(lastHead >= lastSeq);
    }

    @Test
    void emptyBatchReportsTheHeadAndChangesNothing() throws Exception {
        CommitResult first = commit("alice", set("prefs", "theme", "\"dark\"", 100, "phone"));
        CommitResult empty = commit("alice");
        assertEquals(first.head(), empty.previousHead());
        assertEquals(first.head(), empty.head());
        assertEquals(List.of(), empty.applied());
        assertEquals(Map.of(), await(store.commit(List.of())));
    }

    @Test
    void resentAndOutdatedChangesGetNoSeqAndChangeNothing() throws Exception {
        Change[] batch = {
            set("prefs", "theme", "\"dark\"", 200, "phone"),
            delete("prefs", "font", 201, "phone"),
            append("chat", "conv-1", "{\"text\":\"hi\"}", 202, "phone"),
            clear("chat", "conv-2", 203, "phone"),
        };
        CommitResult first = commit("alice", batch);
        assertEquals(4, first.applied().size());
        List<Sequenced> before = readAll("alice", 0, 100);

        CommitResult again = commit("alice", batch);
        assertEquals(List.of(), again.applied(), "a re-sent batch alters nothing");
        CommitResult outdated = commit("alice",
                set("prefs", "theme", "\"light\"", 150, "laptop"),
                set("prefs", "font", "\"serif\"", 201, "laptop"),   // same hlc, "laptop" < "phone": the tombstone stays
                append("chat", "conv-2", "{\"text\":\"old\"}", 203, "phone"),  // at the watermark: hidden
                clear("chat", "conv-2", 199, "laptop"));
        assertEquals(List.of(), outdated.applied(), "outdated changes alter nothing");

        assertEquals(before, readAll("alice", 0, 100), "visible state and seqs did not move");
        assertEquals(encode(batch), foldedState("alice", 100));
        // PROTOCOL.md 1.3: a change that alters nothing takes no seq, so the head does not move for it
        // (welcome.head once counted them: 4 re-pushes of 81 unchanged changes moved it from 80 to 321).
        assertEquals(first.head(), again.previousHead());
        assertEquals(first.head(), again.head(), "a re-sent batch does not move the head");
        assertEquals(first.head(), outdated.head(), "outdated changes do not move the head");
        assertEquals(first.head(), (long) await(store.head("alice")));
    }

    @Test
    void theHeadIsTheLastSeqACommitUsed() throws Exception {
        CommitResult first = commit("alice", set("prefs", "a", "1", 100, "phone"), set("prefs", "b", "1", 100, "phone"));
        // The last change is outdated: the head stops at the seq of the last change that altered something.
        CommitResult mixed = commit("alice", set("prefs", "c", "1", 300, "phone"), set("prefs", "a", "0", 50, "phone"));
        assertEquals(1, mixed.applied().size());
        assertEquals(mixed.applied().get(0).seq(), mixed.head(), "the unused seq is given back");
        assertEquals(first.head() + 1, mixed.head());
        CommitResult next = commit("alice", set("prefs", "d", "1", 301, "phone"));
        assertEquals(mixed.head() + 1, next.applied().get(0).seq(), "the next commit continues right after it");
        assertEquals(next.head(), (long) await(store.head("alice")));
    }

    @Test
    void mapWinnersFollowLwwRulesIncludingEqualStampTieBreaks() throws Exception {
        // Newer stamp wins, older loses; at equal hlc the greater replica id wins ("r2" > "r10").
        commit("alice", set("prefs", "a", "1", 10, "r1"));
        assertEquals(0, commit("alice", set("prefs", "a", "2", 9, "r9")).applied().size());
        assertEquals(1, commit("alice", set("prefs", "a", "3", 11, "r10")).applied().size());
        assertEquals(1, commit("alice", set("prefs", "a", "4", 11, "r2")).applied().size());
        assertEquals(0, commit("alice", set("prefs", "a", "5", 11, "r10")).applied().size());
        // A newer tombstone beats a value; an older value does not resurrect it.
        assertEquals(1, commit("alice", delete("prefs", "b", 20, "r1")).applied().size());
        assertEquals(0, commit("alice", set("prefs", "b", "1", 19, "r9")).applied().size());
        // Equal stamps (a reused stamp): a value beats a tombstone, the greater value text wins.
        assertEquals(1, commit("alice", delete("prefs", "c", 30, "r1")).applied().size());
        assertEquals(1, commit("alice", set("prefs", "c", "\"a\"", 30, "r1")).applied().size());
        assertEquals(0, commit("alice", delete("prefs", "c", 30, "r1")).applied().size());
        assertEquals(1, commit("alice", set("prefs", "c", "\"b\"", 30, "r1")).applied().size());
        assertEquals(0, commit("alice", set("prefs", "c", "\"a\"", 30, "r1")).applied().size());
        // Same for log entries sharing a stamp: the greater value text wins.
        assertEquals(1, commit("alice", append("chat", "s", "\"x\"", 40, "r1")).applied().size());
        assertEquals(1, commit("alice", append("chat", "s", "\"y\"", 40, "r1")).applied().size());
        assertEquals(0, commit("alice", append("chat", "s", "\"x\"", 40, "r1")).applied().size());

        assertEquals(encode(set("prefs", "a", "4", 11, "r2"), delete("prefs", "b", 20, "r1"),
                set("prefs", "c", "\"b\"", 30, "r1"), append("chat", "s", "\"y\"", 40, "r1")), foldedState("alice", 2));
    }

    /**
     * Tie-breaks compare value texts in code point order (UTF-8 bytes), the engine's TextOrder: a
     * character above U+FFFF (a surrogate pair in Java) beats U+E000..U+FFFF, which UTF-16 code
     * unit order would reverse. Same winner in PostgreSQL, the journal store and the engine.
     */
    @Test
    void equalStampTieBreaksUseCodePointOrder() throws Exception {
        String privateUse = "\"\uE000\"";
        String emoji = "\"\uD83D\uDE00\"";
        assertTrue(TextOrder.compare(emoji, privateUse) > 0);
        assertTrue(emoji.compareTo(privateUse) < 0, "the case only matters where UTF-16 order differs");
        assertEquals(1, commit("alice", set("prefs", "t", emoji, 50, "r1")).applied().size());
        assertEquals(0, commit("alice", set("prefs", "t", privateUse, 50, "r1")).applied().size(), "U+E000 must lose to U+1F600");
        assertEquals(1, commit("alice", append("chat", "s", privateUse, 60, "r1")).applied().size());
        assertEquals(1, commit("alice", append("chat", "s", emoji, 60, "r1")).applied().size(), "U+1F600 must beat U+E000");
        assertEquals(encode(set("prefs", "t", emoji, 50, "r1"), append("chat", "s", emoji, 60, "r1")), foldedState("alice", 2));
    }

    @Test
    void clearPurgesHiddenEntriesAndLaterAppendsBelowItAreDropped() throws Exception {
        commit("alice",
                append("chat", "conv-1", "\"m1\"", 10, "phone"),
                append("chat", "conv-1", "\"m2\"", 20, "phone"),
                append("chat", "conv-1", "\"m3\"", 30, "phone"),
                append("chat", "conv-2", "\"other\"", 15, "phone"));
        CommitResult cleared = commit("alice", clear("chat", "conv-1", 20, "phone"));
        assertEquals(1, cleared.applied().size());

        List<Sequenced> all = readAll("alice", 0, 100);
        assertEquals(Set.of(append("chat", "conv-1", "\"m3\"", 30, "phone"), append("chat", "conv-2", "\"other\"", 15, "phone"),
                clear("chat", "conv-1", 20, "phone")), changesOf(all), "entries at or below the watermark are purged");

        // (20, "laptop") sorts below the watermark (20, "phone").
        assertEquals(0, commit("alice", append("chat", "conv-1", "\"late\"", 20, "laptop")).applied().size(),
                "an append below the watermark is dropped");
        assertEquals(0, commit("alice", append("chat", "conv-1", "\"m1\"", 10, "phone")).applied().size());
        assertEquals(1, commit("alice", append("chat", "conv-1", "\"new\"", 21, "laptop")).applied().size());

        // A clear and appends in one batch: only the appends above the clear survive.
        commit("alice", append("chat", "conv-2", "\"a\"", 40, "phone"), clear("chat", "conv-2", 45, "phone"),
                append("chat", "conv-2", "\"b\"", 50, "phone"));
        assertEquals(encode(append("chat", "conv-1", "\"m3\"", 30, "phone"), clear("chat", "conv-1", 20, "phone"),
                append("chat", "conv-1", "\"new\"", 21, "laptop"), clear("chat", "conv-2", 45, "phone"),
                append("chat", "conv-2", "\"b\"", 50, "phone")), foldedState("alice", 3));

        // A newer clear moves the watermark to a new seq; an older one does nothing.
        long before = await(store.head("alice"));
        CommitResult newer = commit("alice", clear("chat", "conv-1", 100, "phone"));
        assertTrue(newer.applied().get(0).seq() > before);
        assertEquals(0, commit("alice", clear("chat", "conv-1", 99, "phone")).applied().size());
        List<Sequenced> after = readAll("alice", 0, 100);
        assertEquals(1, after.stream().filter(s -> s.change() instanceof Change.Clear c && c.stream().equals("conv-1")).count());
        assertFalse(after.stream().anyMatch(s -> s.change() instanceof Change.Append a && a.stream().equals("conv-1")),
                "the newer watermark purged every conv-1 entry");
    }

    @Test
    void mapSectionClearPurgesValuesAndTombstonesAndLaterWritesBelowItAreDropped() throws Exception {
        commit("alice",
                set("prefs", "a", "1", 10, "phone"),
                set("prefs", "b", "2", 20, "phone"),
                delete("prefs", "c", 25, "phone"),
                set("prefs", "d", "3", 40, "phone"),
                set("cards", "x", "true", 15, "phone"));
        CommitResult cleared = commit("alice", clearSection("prefs", 30, "phone"));
        assertEquals(1, cleared.applied().size());
        assertEquals(Set.of(set("prefs", "d", "3", 40, "phone"), set("cards", "x", "true", 15, "phone"), clearSection("prefs", 30, "phone")),
                changesOf(readAll("alice", 0, 100)), "values and tombstones at or below the section's watermark are purged; readSince delivers it");

        // (30, "laptop") sorts below the watermark (30, "phone").
        assertEquals(0, commit("alice", set("prefs", "a", "\"offline edit\"", 30, "laptop")).applied().size(),
                "a write below the watermark is dropped");
        assertEquals(0, commit("alice", delete("prefs", "d", 29, "laptop")).applied().size(), "so is a delete");
        assertEquals(1, commit("alice", set("prefs", "a", "\"new\"", 31, "laptop")).applied().size());

        // A clear and writes in one batch: only the writes above the clear survive.
        commit("alice", set("prefs", "z", "1", 50, "phone"), clearSection("prefs", 55, "phone"), set("prefs", "y", "2", 60, "phone"));
        assertEquals(encode(set("cards", "x", "true", 15, "phone"), clearSection("prefs", 55, "phone"), set("prefs", "y", "2", 60, "phone")),
                foldedState("alice", 2));

        // A newer clear moves the watermark to a new seq; an older one does nothing.
        long before = await(store.head("alice"));
        CommitResult newer = commit("alice", clearSection("prefs", 100, "phone"));
        assertTrue(newer.applied().get(0).seq() > before);
        assertEquals(0, commit("alice", clearSection("prefs", 99, "phone")).applied().size());
        List<Sequenced> after = readAll("alice", 0, 100);
        assertEquals(1, after.stream().filter(q -> q.change() instanceof Change.Clear c && c.isWholeSection()).count());
        assertFalse(after.stream().anyMatch(q -> q.change() instanceof Change.Put p && p.section().equals("prefs")),
                "the newer watermark purged every prefs entry");
        assertEquals(encode(set("cards", "x", "true", 15, "phone"), clearSection("prefs", 100, "phone")), foldedState("alice", 100));
        // another user is untouched
        assertEquals(0, readAll("bob", 0, 10).size());
    }

    @Test
    void aMapSectionIsReadByItselfInPagesInCodePointOrder() throws Exception {
        // keys whose UTF-16 order differs from code point order (U+FF5E sorts after U+1F600 in UTF-16, before it by code point)
        List<String> keys = new ArrayList<>(List.of("b", "a/1", "a/2", "a", "\uff5e", "\ud83d\ude00", "a/10", "ab"));
        List<Change> changes = new ArrayList<>();
        for (int i = 0; i < keys.size(); i++) {
            changes.add(set("prefs", keys.get(i), Integer.toString(i), 10 + i, "phone"));
        }
        changes.add(delete("prefs", "gone", 50, "phone"));
        changes.add(set("cards", "a/1", "true", 5, "phone")); // another section
        commit("alice", changes.toArray(Change[]::new));
        commit("bob", set("prefs", "a/1", "\"bob's\"", 5, "phone")); // another user

        keys.add("gone");
        keys.sort(java.util.Comparator.comparing((String k) -> k.codePoints().boxed().toList(), (x, y) -> {
            for (int i = 0; i < Math.min(x.size(), y.size()); i++) {
                int c = Integer.compare(x.get(i), y.get(i));
                if (c != 0) {
                    return c;
                }
            }
            return Integer.compare(x.size(), y.size());
        }));
        List<ServerStore.MapEntry> all = new ArrayList<>();
        String after = null;
        int pages = 0;
        while (true) {
            ServerStore.MapPage page = await(store.readMap("alice", "prefs", "", after, 3));
            all.addAll(page.entries());
            pages++;
            if (!page.more()) {
                break;
            }
            assertEquals(3, page.entries().size(), "a page that says more is full");
            after = page.entries().get(2).key();
        }
        assertEquals(keys, all.stream().map(ServerStore.MapEntry::key).toList(), "every key once, in code point order, only alice's prefs");
        assertEquals(3, pages);
        assertEquals(new ServerStore.MapEntry("a/1", "1", stamp(11, "phone")), all.stream().filter(e -> e.key().equals("a/1")).findFirst().orElseThrow());
        assertNull(all.stream().filter(e -> e.key().equals("gone")).findFirst().orElseThrow().value(), "a tombstone is read as a null value");

        assertEquals(List.of("a/1", "a/10", "a/2"), await(store.readMap("alice", "prefs", "a/", null, 10)).entries().stream()
                .map(ServerStore.MapEntry::key).toList(), "a key prefix");
        assertEquals(List.of("a/2"), await(store.readMap("alice", "prefs", "a/", "a/10", 10)).entries().stream()
                .map(ServerStore.MapEntry::key).toList(), "a prefix after a key");
        assertFalse(await(store.readMap("alice", "prefs", "a/", null, 3)).more(), "exactly a page: no more");
        assertEquals(List.of(), await(store.readMap("alice", "nope", "", null, 10)).entries());
        assertEquals(List.of(), await(store.readMap("carol", "prefs", "", null, 10)).entries());

        commit("alice", clearSection("prefs", 100, "phone"));
        assertEquals(List.of(), await(store.readMap("alice", "prefs", "", null, 10)).entries(), "a section clear purges what it covers");
        assertEquals(1, await(store.readMap("alice", "cards", "", null, 10)).entries().size());

        for (Future<?> bad : List.<Future<?>>of(store.readMap("", "prefs", "", null, 1), store.readMap("alice", "", "", null, 1),
                store.readMap("alice", "prefs", null, null, 1), store.readMap("alice", "prefs", "", null, 0))) {
            assertTrue(failureOf(bad) instanceof IllegalArgumentException);
        }
    }

    @Test
    void overwrittenKeyMovesToItsNewSeq() throws Exception {
        CommitResult first = commit("alice", set("prefs", "theme", "\"dark\"", 10, "phone"), set("prefs", "lang", "\"en\"", 10, "phone"));
        CommitResult second = commit("alice", set("prefs", "theme", "\"light\"", 11, "laptop"));
        long newSeq = second.applied().get(0).seq();

        List<Sequenced> all = readAll("alice", 0, 100);
        assertEquals(2, all.size(), "catch-up sends current state, not history");
        assertEquals(new Sequenced(newSeq, set("prefs", "theme", "\"light\"", 11, "laptop")), all.get(1));
        assertEquals(first.applied().get(1), all.get(0));

        // A replica that had seen the first commit gets the new value, and nothing else.
        List<Sequenced> since = readAll("alice", first.head(), 100);
        assertEquals(List.of(new Sequenced(newSeq, set("prefs", "theme", "\"light\"", 11, "laptop"))), since);
        // A replica past the new seq gets nothing.
        assertEquals(List.of(), readAll("alice", second.head(), 100));
    }

    @Test
    void pagingWalksEverythingOnceWithCoveringCursors() throws Exception {
        for (int round = 0; round < 6; round++) {
            List<Change> batch = new ArrayList<>();
            for (int k = 0; k < 6; k++) {
                batch.add(set("prefs", "k" + ((round * 3 + k) % 10), "" + round, 100 + round, "phone"));   // overwrites leave gaps
            }
            batch.add(append("chat", "c", "\"m" + round + "\"", 100 + round, "phone"));
            commit("alice", batch.toArray(Change[]::new));
        }
        commit("alice", clear("chat", "c", 102, "phone"));
        List<Sequenced> everything = readAll("alice", 0, 1000);
        long head = await(store.head("alice"));
        for (int pageSize : new int[] {1, 2, 3, 7}) {
            assertEquals(everything, readAll("alice", 0, pageSize), "page size " + pageSize);
        }
        // Resuming from any page's cursor gets exactly the rest.
        for (int i = 0; i < everything.size(); i++) {
            assertEquals(everything.subList(i + 1, everything.size()), readAll("alice", everything.get(i).seq(), 4));
        }
        Page atHead = await(store.readSince("alice", head, 5));
        assertEquals(List.of(), atHead.changes());
        assertFalse(atHead.more());
        assertTrue(atHead.cursor() >= head);
        assertEquals(encodeAll(everything), foldedState("alice", 5));
    }

    @Test
    void usersAreIsolated() throws Exception {
        String[] users = {"al", "alice", "alice ", "ali", "a\u00e9", "bob"};
        for (int i = 0; i < users.length; i++) {
            commit(users[i], set("prefs", "theme", "\"" + users[i] + "\"", 10 + i, "phone"),
                    append("chat", "conv", "\"" + users[i] + "\"", 10 + i, "phone"),
                    clear("consent", "waiver", 10 + i, "phone"));
        }
        commit("alice", clear("chat", "conv", 1000, "phone"));   // purges only alice's entries
        for (int i = 0; i < users.length; i++) {
            String u = users[i];
            List<Sequenced> mine = readAll(u, 0, 2);
            Change[] expected = u.equals("alice")
                    ? new Change[] {set("prefs", "theme", "\"alice\"", 11, "phone"), clear("consent", "waiver", 11, "phone"),
                        clear("chat", "conv", 1000, "phone")}
                    : new Change[] {set("prefs", "theme", "\"" + u + "\"", 10 + i, "phone"),
                        append("chat", "conv", "\"" + u + "\"", 10 + i, "phone"), clear("consent", "waiver", 10 + i, "phone")};
            assertEquals(Set.of(expected), changesOf(mine), "user '" + u + "' sees only its own data");
            assertEquals(u.equals("alice") ? 4 : 3, await(store.head(u)));
        }
    }

    @Test
    void groupCommitOfSeveralUsersAndTwoBatchesOfOneUser() throws Exception {
        commit("bob", set("prefs", "theme", "\"old\"", 1, "phone"));
        Map<String, CommitResult> results = commit(
                new UserBatch("carol", List.of(set("prefs", "theme", "\"dark\"", 10, "phone"), set("prefs", "lang", "\"en\"", 10, "phone"))),
                new UserBatch("bob", List.of(set("prefs", "theme", "\"new\"", 5, "laptop"))),
                new UserBatch("carol", List.of(set("prefs", "theme", "\"light\"", 12, "laptop"), append("chat", "c", "\"hi\"", 12, "laptop"),
                        set("prefs", "lang", "\"fr\"", 9, "laptop"))));   // loses to the first batch's "en"
        assertEquals(Set.of("bob", "carol"), results.keySet());
        results.values().forEach(ServerStoreContract::checkResult);

        CommitResult carol = results.get("carol");
        assertEquals(0, carol.previousHead());
        assertEquals(Set.of(set("prefs", "theme", "\"light\"", 12, "laptop"), set("prefs", "lang", "\"en\"", 10, "phone"),
                append("chat", "c", "\"hi\"", 12, "laptop")), changesOf(carol.applied()), "one winner per key across both batches");
        CommitResult bob = results.get("bob");
        assertEquals(1, bob.previousHead());
        assertEquals(List.of(set("prefs", "theme", "\"new\"", 5, "laptop")), bob.applied().stream().map(Sequenced::change).toList());

        assertEquals(encode(set("prefs", "theme", "\"light\"", 12, "laptop"), set("prefs", "lang", "\"en\"", 10, "phone"),
                append("chat", "c", "\"hi\"", 12, "laptop")), foldedState("carol", 10));
        assertEquals(encode(set("prefs", "theme", "\"new\"", 5, "laptop")), foldedState("bob", 10));
    }

    @Test
    void concurrentCommitsOfOneUserKeepSeqsUniqueAndInCommitOrder() throws Exception {
        int commits = 50;
        List<Future<Map<String, CommitResult>>> pending = new ArrayList<>();
        Map<Change, Integer> written = new HashMap<>();
        for (int i = 0; i < commits; i++) {
            Change put = set("prefs", "k" + i, "" + i, 1000 + i, "r" + i);
            Change entry = append("chat", "conv", "\"m" + i + "\"", 1000 + i, "r" + i);
            written.put(put, i);
            written.put(entry, i);
            UserBatch mine = new UserBatch("alice", List.of(put, entry));
            UserBatch bobs = new UserBatch("bob", List.of(set("prefs", "k", "" + i, 1000 + i, "r1")));
            // Some group commits name both users, in both orders: an adapter must lock them in one order.
            pending.add(store.commit(i % 10 == 0 ? List.of(bobs, mine) : i % 10 == 5 ? List.of(mine, bobs) : List.of(mine)));
            if (i % 10 == 1) {
                pending.add(store.commit(List.of(bobs)));
            }
        }
        // A replica following the cursor while the commits land must never miss one (PROTOCOL.md 4.3).
        Future<?> all = Future.all(pending);
        Map<Long, Change> followed = new TreeMap<>();
        long cursor = 0;
        boolean done = false;
        while (!done) {
            done = all.isComplete();
            Page page = await(store.readSince("alice", cursor, 7));
            for (Sequenced s : page.changes()) {
                assertTrue(s.seq() > cursor);
                assertEquals(null, followed.put(s.seq(), s.change()), "seq " + s.seq() + " delivered twice");
            }
            cursor = page.cursor();
            done &= !page.more();
        }
        await(all);

        Map<Long, Change> applied = new TreeMap<>();
        List<CommitResult> results = new ArrayList<>();
        for (Future<Map<String, CommitResult>> f : pending) {
            CommitResult r = f.result().get("alice");
            if (r == null) {
                continue;
            }
            checkResult(r);
            results.add(r);
            assertEquals(2, r.applied().size());
            for (Sequenced s : r.applied()) {
                assertEquals(null, applied.put(s.seq(), s.change()), "seq " + s.seq() + " given twice");
            }
        }
        assertEquals(2 * commits, applied.size());
        assertEquals(written.keySet(), new HashSet<>(applied.values()));
        // Each commit's reserved range (previousHead, head] is disjoint from every other's.
        results.sort((a, b) -> Long.compare(a.previousHead(), b.previousHead()));
        for (int i = 1; i < results.size(); i++) {
            assertTrue(results.get(i).previousHead() >= results.get(i - 1).head(), "overlapping seq ranges: " + results);
        }
        List<Sequenced> all0 = readAll("alice", 0, 1000);
        Map<Long, Change> read = new TreeMap<>();
        all0.forEach(s -> read.put(s.seq(), s.change()));
        assertEquals(applied, read, "readSince(0) returns every applied change at its seq, in seq order");
        assertEquals(applied, followed, "the follower saw every change exactly once");
    }

    @Test
    void randomChangesConvergeWithTheEngine() throws Exception {
        long base = Long.getLong("cairn.seed", new Random().nextLong());   // -Dcairn.seed=... replays a failure
        for (int run = 0; run < 6; run++) {
            long seed = base + run;
            try {
                convergeOnce(seed, "user-" + run);
            } catch (AssertionError | RuntimeException e) {
                throw new AssertionError("randomized run failed; replay with seed " + seed + "L: " + e.getMessage(), e);
            }
        }
    }

    private static final String[] VALUES = {"1", "2", "\"a\"", "\"b\"", "true", "{\"x\":1}", "[1,2]"};
    private static final String[] REPLICAS = {"r1", "r2", "r10"};

    private static Change randomChange(Random rnd) {
        long hlc = 1 + rnd.nextInt(8);
        String replica = REPLICAS[rnd.nextInt(REPLICAS.length)];
        int op = rnd.nextInt(20);
        if (op < 10) {
            String section = rnd.nextBoolean() ? "prefs" : "cards";
            String value = rnd.nextInt(4) == 0 ? null : VALUES[rnd.nextInt(VALUES.length)];
            return new Change.Put(section, "k" + rnd.nextInt(4), value, stamp(hlc, replica));
        } else if (op < 18) {
            return append(rnd.nextBoolean() ? "chat" : "consent", "s" + rnd.nextInt(2), VALUES[rnd.nextInt(VALUES.length)], hlc, replica);
        }
        return clear(rnd.nextBoolean() ? "chat" : "consent", "s" + rnd.nextInt(2), hlc, replica);
    }

    private void convergeOnce(long seed, String user) throws Exception {
        Random rnd = new Random(seed);
        String other = user + "-other";
        ReplicaState reference = newState();
        ReplicaState otherReference = newState();
        ReplicaState viaApplied = newState();      // only what commits report as applied (what fan-out sends)
        ReplicaState follower = newState();        // a replica catching up after every commit
        long followerCursor = 0;
        List<Change> history = new ArrayList<>();
        for (int round = 0; round < 25; round++) {
            List<UserBatch> batches = new ArrayList<>();
            int batchCount = 1 + rnd.nextInt(3);
            for (int b = 0; b < batchCount; b++) {
                boolean mine = b == 0 || rnd.nextInt(3) > 0;
                List<Change> changes = new ArrayList<>();
                int size = 1 + rnd.nextInt(6);
                for (int c = 0; c < size; c++) {
                    Change change = mine && !history.isEmpty() && rnd.nextInt(5) == 0
                            ? history.get(rnd.nextInt(history.size()))   // a re-sent change
                            : randomChange(rnd);
                    changes.add(change);
                    (mine ? reference : otherReference).apply(change);
                    if (mine) {
                        history.add(change);
                    }
                }
                batches.add(new UserBatch(mine ? user : other, changes));
            }
            Map<String, CommitResult> results = await(store.commit(batches));
            CommitResult mineResult = results.get(user);
            checkResult(mineResult);
            for (Sequenced s : mineResult.applied()) {
                assertTrue(viaApplied.apply(s.change()), "reported as applied but alters nothing: " + s);
            }
            Walk caughtUp = walk(user, followerCursor, 1 + rnd.nextInt(5));
            caughtUp.changes().forEach(s -> follower.apply(s.change()));
            assertTrue(caughtUp.cursor() >= mineResult.head(), "catching up after a commit covers its head");
            followerCursor = caughtUp.cursor();
        }
        String expected = CanonicalJson.encode(reference);
        assertEquals(expected, CanonicalJson.encode(viaApplied), "applied changes rebuild the state");
        assertEquals(expected, CanonicalJson.encode(follower), "a replica following the cursor converges");
        assertEquals(expected, foldedState(user, 1 + rnd.nextInt(10)), "a fresh replica converges");
        assertEquals(CanonicalJson.encode(otherReference), foldedState(other, 10), "the other user converges");

        // Re-sending the whole history alters nothing.
        CommitResult resent = await(store.commit(List.of(new UserBatch(user, history)))).get(user);
        assertEquals(List.of(), resent.applied());
        assertEquals(expected, foldedState(user, 50));
    }

    @Test
    void stateSurvivesCloseAndReopen() throws Exception {
        commit("alice", set("prefs", "theme", "\"dark\"", 10, "phone"), delete("prefs", "font", 10, "phone"),
                append("chat", "c", "\"hi\"", 11, "phone"), append("chat", "c", "\"old\"", 5, "phone"), clear("chat", "c", 6, "phone"));
        commit("bob", set("prefs", "theme", "\"light\"", 10, "phone"));
        List<Sequenced> alice = readAll("alice", 0, 100);
        long head = await(store.head("alice"));

        reopen();
        assertEquals(alice, readAll("alice", 0, 100));
        assertEquals(head, await(store.head("alice")));
        assertEquals(1, readAll("bob", 0, 100).size());
        CommitResult next = commit("alice", set("prefs", "theme", "\"light\"", 20, "phone"));
        assertEquals(head, next.previousHead(), "seqs continue after the persisted head");
        assertEquals(head + 1, next.applied().get(0).seq());
    }

    @Test
    void invalidArgumentsFailWithoutTouchingTheStore() throws Exception {
        assertInstanceOf(IllegalArgumentException.class, failureOf(store.commit(List.of(new UserBatch("a\u0000b",
                List.of(set("prefs", "k", "1", 1, "r1")))))));
        assertInstanceOf(IllegalArgumentException.class, failureOf(store.commit(List.of(new UserBatch("", List.of())))));
        assertInstanceOf(IllegalArgumentException.class, failureOf(store.readSince("alice", 0, 0)));
        assertInstanceOf(IllegalArgumentException.class, failureOf(store.readSince("alice", -1, 10)));
        assertInstanceOf(IllegalArgumentException.class, failureOf(store.head("a\u0000")));
        assertEquals(0L, await(store.head("a")));
    }

    // ---- usage, quota and map history (issue 7)

    protected static long utf8(String s) {
        return s.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
    }

    protected Map<String, CommitResult> commit(ServerStore.Limits limits, UserBatch... batches) throws Exception {
        Map<String, CommitResult> results = await(store.commit(List.of(batches), limits));
        results.values().forEach(ServerStoreContract::checkResult);
        return results;
    }

    protected static UserBatch batch(String user, Change... changes) {
        return new UserBatch(user, List.of(changes));
    }

    protected long usage(String user) throws Exception {
        return await(store.usage(user));
    }

    protected List<ServerStore.HistoryEntry> history(String user, String section, String key) throws Exception {
        return await(store.history(user, section, key, 0, 100));
    }

    @Test
    void usageIsTheUtf8BytesOfLiveMapAndLogEntries() throws Exception {
        assertEquals(0L, usage("alice"));
        commit("alice", set("prefs", "thème", "\"ü€\"", 1, "phone"), delete("prefs", "gone", 1, "phone"),
                append("chat", "c1", "{\"t\":\"hi\"}", 1, "phone"), append("chat", "c1", "{\"t\":\"yo\"}", 2, "phone"));
        long chat = 2 * (utf8("c1") + utf8("{\"t\":\"hi\"}"));
        assertEquals(utf8("thème") + utf8("\"ü€\"") + chat, usage("alice"), "tombstones count nothing");
        commit("alice", set("prefs", "thème", "1", 2, "phone"));
        assertEquals(utf8("thème") + 1 + chat, usage("alice"), "an overwrite counts the new value only");
        commit("alice", set("prefs", "thème", "\"a much longer value that loses\"", 1, "tablet"));
        assertEquals(utf8("thème") + 1 + chat, usage("alice"), "a change that loses counts nothing");
        commit("alice", append("chat", "c1", "{\"t\":\"yo\"}", 2, "phone"));
        assertEquals(utf8("thème") + 1 + chat, usage("alice"), "a re-sent append counts once");
        assertEquals(0L, usage("bob"), "usage is per user");
        commit("alice", delete("prefs", "thème", 3, "phone"), clear("chat", "c1", 3, "phone"));
        assertEquals(0L, usage("alice"), "deletes and clears free everything");
        commit("alice", set("cards", "k", "true", 4, "phone"));
        reopen();
        assertEquals(utf8("k") + 4, usage("alice"), "usage is durable");
        commit("alice", set("cards", "k", "false", 5, "phone"));
        assertEquals(utf8("k") + 5, usage("alice"));
    }

    @Test
    void aCommitThatWouldGoOverQuotaIsRefusedWholeAndChangesNothing() throws Exception {
        ServerStore.Limits quota = new ServerStore.Limits(100, 60_000, 1_000);
        String forty = "\"" + "x".repeat(38) + "\"";
        commit(quota, batch("alice", set("prefs", "a", forty, 1, "phone")));
        assertEquals(41L, usage("alice"));
        long head = await(store.head("alice"));
        String state = foldedState("alice", 100);
        // b and c together (and bob's batch in the same commit) are refused; alone b would fit.
        Throwable failure = failureOf(store.commit(List.of(
                batch("alice", set("prefs", "b", forty, 2, "phone"), set("prefs", "a", "\"" + "y".repeat(38) + "\"", 2, "phone")),
                batch("bob", set("prefs", "theme", "\"dark\"", 1, "laptop")),
                batch("alice", set("prefs", "c", forty, 2, "phone"))), quota));
        QuotaExceededException refused = assertInstanceOf(QuotaExceededException.class, failure);
        assertEquals("alice", refused.user());
        assertEquals(41L, refused.usedBytes());
        assertEquals(123L, refused.wouldUseBytes());
        assertEquals(100L, refused.quotaBytes());
        assertTrue(refused.getMessage().contains("41") && refused.getMessage().contains("123") && refused.getMessage().contains("100"),
                refused.getMessage());
        assertEquals(head, await(store.head("alice")), "nothing of the refused commit is kept");
        assertEquals(state, foldedState("alice", 100));
        assertEquals(41L, usage("alice"));
        assertEquals(List.of(), history("alice", "prefs", "a"), "no history from a refused commit");
        assertEquals(0L, await(store.head("bob")), "the whole commit is refused; the caller retries bob without alice");
        assertEquals(0L, usage("bob"));
        // bob alone, and alice's b alone, fit
        commit(quota, batch("bob", set("prefs", "theme", "\"dark\"", 1, "laptop")));
        commit(quota, batch("alice", set("prefs", "b", forty, 2, "phone")));
        assertEquals(82L, usage("alice"));
        // no limit: anything goes, and afterwards alice is above a smaller quota
        commit(ServerStore.Limits.NONE, batch("alice", set("prefs", "c", forty, 3, "phone")));
        assertEquals(123L, usage("alice"));
        // above the quota, a change that does not grow her usage is accepted, even one that leaves her above it...
        commit(quota, batch("alice", set("prefs", "c", "\"" + "z".repeat(20) + "\"", 4, "phone")));
        assertEquals(105L, usage("alice"));
        // ...and so is a mix that shrinks her usage in all
        commit(quota, batch("alice", delete("prefs", "c", 5, "phone"), set("prefs", "d", "1", 5, "phone")));
        assertEquals(84L, usage("alice"));
        // one byte too many is refused, exactly at the quota is accepted
        String sixteen = "\"" + "q".repeat(14) + "\"";   // "e" + 16 = 17 bytes: 84 + 17 = 101
        assertInstanceOf(QuotaExceededException.class, failureOf(store.commit(List.of(batch("alice", set("prefs", "e", sixteen, 6, "phone"))), quota)));
        commit(quota, batch("alice", set("prefs", "e", "\"" + "q".repeat(13) + "\"", 6, "phone")));
        assertEquals(100L, usage("alice"));
        // deletes always get through
        commit(quota, batch("alice", delete("prefs", "a", 7, "phone"), delete("prefs", "b", 7, "phone")));
        assertEquals(100L - 82L, usage("alice"));
    }

    @Test
    void replacedMapEntriesAreKeptInHistoryNewestFirstAndPruned() throws Exception {
        commit(new ServerStore.Limits(0, 60_000, 1_000), batch("alice", set("prefs", "theme", "\"light\"", 1, "phone"),
                set("prefs", "them", "1", 1, "phone"), set("prefs", "theme2", "1", 1, "phone")));
        commit(new ServerStore.Limits(0, 60_000, 2_000), batch("alice", set("prefs", "theme", "\"dark\"", 2, "laptop"),
                set("prefs", "them", "2", 2, "phone"), set("prefs", "theme2", "2", 2, "phone")));
        commit(new ServerStore.Limits(0, 60_000, 3_000), batch("alice", delete("prefs", "theme", 3, "phone")));
        commit(new ServerStore.Limits(0, 60_000, 3_500), batch("alice", set("prefs", "theme", "\"old\"", 0, "tablet")));
        ServerStore.HistoryEntry dark = new ServerStore.HistoryEntry("\"dark\"", stamp(2, "laptop"), 3_000);
        ServerStore.HistoryEntry light = new ServerStore.HistoryEntry("\"light\"", stamp(1, "phone"), 2_000);
        assertEquals(List.of(dark, light), history("alice", "prefs", "theme"),
                "the entries replaced or deleted, newest first; a change that loses replaces nothing");
        assertEquals(List.of(dark), await(store.history("alice", "prefs", "theme", 0, 1)), "limit");
        assertEquals(List.of(dark), await(store.history("alice", "prefs", "theme", 2_500, 10)), "since");
        assertEquals(List.of(new ServerStore.HistoryEntry("1", stamp(1, "phone"), 2_000)), history("alice", "prefs", "them"),
                "keys that prefix each other keep their own history");
        assertEquals(List.of(), history("bob", "prefs", "theme"));
        assertEquals(List.of(), history("alice", "cards", "theme"));
        // a value written over a deletion: the tombstone is history too
        commit(new ServerStore.Limits(0, 60_000, 4_000), batch("alice", set("prefs", "theme", "\"light\"", 4, "phone")));
        ServerStore.HistoryEntry deleted = new ServerStore.HistoryEntry(null, stamp(3, "phone"), 4_000);
        assertEquals(List.of(deleted, dark, light), history("alice", "prefs", "theme"));
        assertEquals(utf8("theme") + utf8("\"light\"") + utf8("them") + 1 + utf8("theme2") + 1, usage("alice"),
                "history counts nothing toward usage");
        reopen();
        assertEquals(List.of(deleted, dark, light), history("alice", "prefs", "theme"), "history is durable");
        // pruning removes what was replaced before the cutoff, of every user
        commit(new ServerStore.Limits(0, 60_000, 1_500), batch("bob", set("prefs", "x", "1", 1, "r")), batch("bob", set("prefs", "x", "2", 2, "r")));
        commit(new ServerStore.Limits(0, 60_000, 1_500), batch("bob", set("prefs", "x", "3", 3, "r")));
        assertEquals(1, history("bob", "prefs", "x").size());
        assertEquals(4L, await(store.pruneHistory(3_000)), "alice's light, them and theme2 (2,000), bob's x (1,500)");
        assertEquals(List.of(deleted, dark), history("alice", "prefs", "theme"));
        assertEquals(List.of(), history("bob", "prefs", "x"));
        assertEquals(0L, await(store.pruneHistory(3_000)));
        assertEquals(2L, await(store.pruneHistory(Long.MAX_VALUE)));
        assertEquals(List.of(), history("alice", "prefs", "theme"));
        // with history off nothing is kept
        commit(ServerStore.Limits.NONE, batch("alice", set("prefs", "theme", "\"dark\"", 5, "phone")));
        assertEquals(List.of(), history("alice", "prefs", "theme"));
        assertEquals("\"dark\"", ((Change.Put) readAll("alice", 0, 100).stream().map(Sequenced::change)
                .filter(c -> c instanceof Change.Put p && p.key().equals("theme")).findFirst().orElseThrow()).value());
    }

    // ---- more helpers

    protected static Set<Change> changesOf(List<Sequenced> sequenced) {
        Set<Change> out = new HashSet<>();
        for (Sequenced s : sequenced) {
            assertNotNull(s.change());
            assertTrue(out.add(s.change()), "change listed twice: " + s);
        }
        return out;
    }

    protected static String encodeAll(List<Sequenced> sequenced) {
        return encode(sequenced.stream().map(Sequenced::change).toArray(Change[]::new));
    }

    // ---- guards (shared spaces, PROTOCOL.md 8.2)

    private static final String SPACE = "space:s1";

    private static ServerStore.Guard memberGuard(String user, String... roles) {
        return new ServerStore.Guard(SPACE, "members", user, Set.of(roles));
    }

    private static UserBatch guarded(ServerStore.Guard guard, String user, Change... changes) {
        return new UserBatch(user, List.of(changes), guard);
    }

    @Test
    void aBatchWhoseGuardHoldsIsCommitted() throws Exception {
        commit(SPACE, set("members", "bob", "{\"role\":\"editor\"}", 1, "server"));
        Map<String, CommitResult> r = commit(guarded(memberGuard("bob", "owner", "editor"), SPACE, set("cards", "c1", "1", 5, "bob-phone")),
                batch("carol", set("prefs", "theme", "\"dark\"", 1, "laptop")));
        assertEquals(2, r.get(SPACE).applied().size() + r.get("carol").applied().size());
        assertEquals(encode(set("members", "bob", "{\"role\":\"editor\"}", 1, "server"), set("cards", "c1", "1", 5, "bob-phone")),
                foldedState(SPACE, 10));
        // a guard with no changes of its own still commits (a membership call guarded by the actor's role)
        commit(guarded(memberGuard("bob", "editor"), "carol"));
    }

    @Test
    void aFailedGuardNamesItsBatchAndFoundRoleAndKeepsNothingOfTheCommit() throws Exception {
        commit(SPACE, set("members", "bob", "{\"role\":\"viewer\"}", 1, "server"),
                set("members", "dan", "\"not an object\"", 1, "server"));
        long head = await(store.head(SPACE));
        String state = foldedState(SPACE, 10);
        // another role: found, named
        GuardFailedException viewer = assertInstanceOf(GuardFailedException.class, failureOf(store.commit(List.of(
                batch("carol", set("prefs", "theme", "\"dark\"", 1, "laptop")),
                guarded(memberGuard("bob", "owner", "editor"), SPACE, set("cards", "c1", "1", 5, "bob-phone"))))));
        assertEquals(1, viewer.batchIndex());
        assertEquals("viewer", viewer.foundRole());
        assertEquals(memberGuard("bob", "owner", "editor"), viewer.guard());
        assertEquals(head, await(store.head(SPACE)), "nothing of the refused batch");
        assertEquals(state, foldedState(SPACE, 10));
        assertEquals(0L, await(store.head("carol")), "the commit is refused whole; the committer retries the others without it");
        // never a member, a value that is not an object with a role: no role
        for (String user : List.of("eve", "dan")) {
            GuardFailedException none = assertInstanceOf(GuardFailedException.class, failureOf(store.commit(List.of(
                    guarded(memberGuard(user, "owner", "editor", "viewer"), SPACE, set("cards", "c2", "2", 5, "x"))))));
            assertEquals(0, none.batchIndex());
            assertNull(none.foundRole(), user);
        }
        // the others alone commit
        commit(batch("carol", set("prefs", "theme", "\"dark\"", 1, "laptop")));
        assertEquals(state, foldedState(SPACE, 10));
    }

    @Test
    void aDeletedOrClearedEntryFailsAGuardWithNoRole() throws Exception {
        commit(SPACE, set("members", "bob", "{\"role\":\"editor\"}", 1, "server"),
                set("members", "carol", "{\"role\":\"owner\"}", 1, "server"));
        commit(SPACE, delete("members", "bob", 2, "server"));
        GuardFailedException removed = assertInstanceOf(GuardFailedException.class, failureOf(store.commit(List.of(
                guarded(memberGuard("bob", "owner", "editor", "viewer"), SPACE, set("cards", "c1", "1", 5, "bob-phone"))))));
        assertNull(removed.foundRole(), "a deleted entry has no role");
        commit(guarded(memberGuard("carol", "owner"), SPACE, set("cards", "c1", "1", 5, "carol-phone")));
        commit(SPACE, clearSection("members", 3, "server"));
        GuardFailedException cleared = assertInstanceOf(GuardFailedException.class, failureOf(store.commit(List.of(
                guarded(memberGuard("carol", "owner"), SPACE, set("cards", "c1", "2", 6, "carol-phone"))))));
        assertNull(cleared.foundRole(), "an entry a section clear purged has no role");
        // the role read is the one at commit: a member added again passes
        commit(SPACE, set("members", "bob", "{\"role\":\"viewer\"}", 4, "server"));
        commit(guarded(memberGuard("bob", "viewer"), SPACE));
    }

    @Test
    void aGuardWithAnInvalidOwnerFailsWithoutTouchingTheStore() throws Exception {
        assertInstanceOf(IllegalArgumentException.class, failureOf(store.commit(List.of(
                guarded(new ServerStore.Guard("", "members", "bob", Set.of("owner")), "alice", set("prefs", "a", "1", 1, "x"))))));
        assertEquals(0L, await(store.head("alice")));
    }

    /** A push's guard (PROTOCOL.md 8.2): it holds back only a batch that writes something. */
    private static ServerStore.Guard pushGuard(String user) {
        return new ServerStore.Guard(SPACE, "members", user, Set.of("owner", "editor"), true);
    }

    @Test
    void aCommittedBatchSentAgainAfterItsGuardFailsIsCommittedWithNoNewSeq() throws Exception {
        String editor = "{\"role\":\"editor\"}";
        commit(SPACE, set("members", "bob", editor, 1, "server"), set("members", "carol", editor, 1, "server"));
        commit(guarded(pushGuard("carol"), SPACE, set("cards", "c2", "\"carol\"", 6, "carol-phone")));
        // bob's push: c1 applied, c2 superseded by carol's later write; its ack is lost
        UserBatch push = guarded(pushGuard("bob"), SPACE, set("cards", "c1", "1", 5, "bob-phone"),
                set("cards", "c2", "\"bob\"", 5, "bob-phone"), delete("cards", "c0", 5, "bob-phone"));
        assertEquals(2, commit(push).get(SPACE).applied().size());
        List<ServerStore.MapEntry> cards = await(store.readMap(SPACE, "cards", "", null, 10)).entries();
        // bob made a viewer, then removed: the same batch sent again alters nothing and is committed, with no seq
        for (Change membership : List.of(set("members", "bob", "{\"role\":\"viewer\"}", 2, "server"),
                delete("members", "bob", 3, "server"))) {
            long head = commit(SPACE, membership).head();
            CommitResult again = commit(push).get(SPACE);
            checkResult(again);
            assertEquals(List.of(), again.applied(), "a re-sent batch that alters nothing: " + membership);
            assertEquals(head, again.previousHead());
            assertEquals(head, again.head(), "it takes no seq");
            assertEquals(head, await(store.head(SPACE)));
            assertEquals(cards, await(store.readMap(SPACE, "cards", "", null, 10)).entries());
        }
        // the same guard with one new change in the batch: refused whole, nothing of it applied
        long head = await(store.head(SPACE));
        GuardFailedException refused = assertInstanceOf(GuardFailedException.class, failureOf(store.commit(List.of(
                batch("dan", set("prefs", "theme", "\"dark\"", 1, "laptop")),
                guarded(pushGuard("bob"), SPACE, set("cards", "c1", "1", 5, "bob-phone"), set("cards", "c3", "3", 7, "bob-phone"))))));
        assertEquals(1, refused.batchIndex());
        assertNull(refused.foundRole(), "removed: not a member");
        assertEquals(pushGuard("bob"), refused.guard());
        assertEquals(head, await(store.head(SPACE)), "nothing of the refused batch");
        assertEquals(0L, await(store.head("dan")), "the commit is refused whole, as for any failed guard");
        assertEquals(cards, await(store.readMap(SPACE, "cards", "", null, 10)).entries());
        // a viewer's batch that writes: refused with the role found
        commit(SPACE, set("members", "bob", "{\"role\":\"viewer\"}", 4, "server"));
        head = await(store.head(SPACE));
        GuardFailedException viewer = assertInstanceOf(GuardFailedException.class, failureOf(store.commit(List.of(
                guarded(pushGuard("bob"), SPACE, clearSection("cards", 8, "bob-phone"))))));
        assertEquals("viewer", viewer.foundRole());
        assertEquals(head, await(store.head(SPACE)));
        assertEquals(cards, await(store.readMap(SPACE, "cards", "", null, 10)).entries());
    }

    @Test
    void aFailedGuardOfWritesOnlyIsJudgedByWhatTheCommitWritesToItsKey() throws Exception {
        String editor = "{\"role\":\"editor\"}";
        commit(SPACE, set("members", "bob", editor, 1, "server"), set("members", "carol", editor, 1, "server"));
        UserBatch push = guarded(pushGuard("bob"), SPACE, set("cards", "c1", "1", 5, "bob-phone"));
        commit(push);
        commit(SPACE, delete("members", "bob", 2, "server"));
        long head = await(store.head(SPACE));
        // beside another user's writes, the re-send is committed
        Map<String, CommitResult> r = commit(batch("dan", set("prefs", "theme", "\"dark\"", 1, "laptop")), push);
        assertEquals(List.of(), r.get(SPACE).applied());
        assertEquals(1, r.get("dan").applied().size());
        // beside a member's batch that writes the same space, it is refused (the group committer then sends it alone)
        GuardFailedException refused = assertInstanceOf(GuardFailedException.class, failureOf(store.commit(List.of(
                guarded(pushGuard("carol"), SPACE, set("cards", "c2", "2", 6, "carol-phone")), push))));
        assertEquals(1, refused.batchIndex());
        assertEquals(head, await(store.head(SPACE)));
        // a guard that is not of writes only refuses even a batch that writes nothing (a membership change's condition)
        assertInstanceOf(GuardFailedException.class, failureOf(store.commit(List.of(
                guarded(memberGuard("bob", "owner", "editor"), SPACE, set("cards", "c1", "1", 5, "bob-phone"))))));
        assertInstanceOf(GuardFailedException.class, failureOf(store.commit(List.of(guarded(memberGuard("bob", "editor"), SPACE)))));
        // a guard of writes only must be on its batch's key
        assertInstanceOf(IllegalArgumentException.class, failureOf(store.commit(List.of(
                guarded(pushGuard("carol"), "carol", set("prefs", "a", "1", 1, "x"))))));
        assertEquals(0L, await(store.head("carol")));
        assertEquals(head, await(store.head(SPACE)));
    }

    @Test
    void aSpacesBytesCountAgainstItsOwnersQuotaAndMoveWithOwnership() throws Exception {
        ServerStore.Limits quota = new ServerStore.Limits(50, 0, 1_000);
        String owner = "{\"role\":\"owner\"}", editor = "{\"role\":\"editor\"}";
        commit(quota, batch(SPACE, set("members", "alice", owner, 1, "server")));
        long members = utf8("alice") + utf8(owner);
        assertEquals(members, usage(SPACE), "a space's own bytes");
        assertEquals(members, usage("alice"), "the owner is charged the space's bytes");
        commit(quota, batch("alice", set("prefs", "a", "\"" + "x".repeat(8) + "\"", 1, "phone")));   // 1 + 10 bytes
        assertEquals(members + 11, usage("alice"));
        // a push to the space that would take its owner over the quota is refused, whoever pushes
        String twenty = "\"" + "y".repeat(18) + "\"";
        QuotaExceededException refused = assertInstanceOf(QuotaExceededException.class,
                failureOf(store.commit(List.of(batch(SPACE, set("cards", "c", twenty, 2, "bob-phone"))), quota)));
        assertEquals(SPACE, refused.user());
        assertEquals(members + 11, refused.usedBytes());
        assertEquals(members + 11 + 21, refused.wouldUseBytes());
        assertEquals(members, usage(SPACE), "nothing of the refused push");
        // and so is the owner's own growth past it with the space counted
        assertInstanceOf(QuotaExceededException.class, failureOf(store.commit(List.of(batch("alice", set("prefs", "b", twenty, 2, "phone"))), quota)));
        commit(quota, batch(SPACE, set("cards", "c", "1", 2, "bob-phone")));
        long space = members + 2;
        assertEquals(space, usage(SPACE));
        assertEquals(space + 11, usage("alice"));
        // transfer: the whole charge moves to the new owner in the same commit
        commit(quota, batch(SPACE, set("members", "alice", editor, 3, "server"), set("members", "bob", owner, 3, "server")));
        space = utf8("alice") + utf8(editor) + utf8("bob") + utf8(owner) + 2;
        assertEquals(space, usage(SPACE));
        assertEquals(11L, usage("alice"), "the old owner is charged nothing of the space any more");
        assertEquals(space, usage("bob"));
        // deleted (members and data cleared): charged to nobody
        commit(quota, batch(SPACE, clearSection("members", 4, "server"), clearSection("cards", 4, "server")));
        assertEquals(0L, usage(SPACE));
        assertEquals(0L, usage("bob"));
        assertEquals(11L, usage("alice"));
    }

    // ---- the head and the quota over every kind of change in one commit (issue 13: PostgreSQL notes what each statement did)

    @Test
    void theHeadAndTheQuotaAddUpEveryKindOfChangeInOneCommit() throws Exception {
        addUpEveryKindOfChange("alice", 0);
    }

    @Test
    void theHeadAndTheQuotaAddUpEveryKindOfChangeInOneCommitOfASpaceChargedToItsOwner() throws Exception {
        String owner = "{\"role\":\"owner\"}";
        commit(ServerStore.Limits.NONE, batch("alice", set("prefs", "own", "\"" + "o".repeat(8) + "\"", 1, "phone")));
        commit(ServerStore.Limits.NONE, batch(SPACE, set("members", "alice", owner, 1, "server")));
        addUpEveryKindOfChange(SPACE, utf8("own") + 10);
    }

    /**
     * Drives {@code key} (a user, or a space owned by alice, whose own bytes are {@code ownBytes})
     * through commits mixing map section clears, stream clears, appends and puts: the head is the
     * last seq a change that altered something took, whichever statement wrote it, and the quota
     * is checked against the net growth of all of them, charged to whoever the key's bytes count for.
     */
    private void addUpEveryKindOfChange(String key, long ownBytes) throws Exception {
        String account = key.startsWith("space:") ? "alice" : key;
        long start = usage(key);
        String v40 = "\"" + "a".repeat(38) + "\"", v30 = "\"" + "c".repeat(28) + "\"", v20 = "\"" + "k".repeat(18) + "\"";
        commit(ServerStore.Limits.NONE, batch(key, set("prefs", "a", v40, 1, "phone"), append("chat", "c1", v30, 1, "phone"),
                set("cards", "k1", v20, 1, "phone"), set("cards", "k2", v20, 1, "phone")));
        long bytes = start + 41 + 32 + 22 + 22;
        assertEquals(bytes, usage(key));
        assertEquals(bytes + ownBytes, usage(account), "charged to " + account);
        ServerStore.Limits quota = new ServerStore.Limits(bytes + ownBytes + 3, 0, 1_000);

        // a winning append before a losing put: the head stops at the append's seq (and the 3 bytes fill the quota)
        long head = await(store.head(key));
        CommitResult r = commit(quota, batch(key, append("chat", "c2", "1", 2, "phone"), set("prefs", "a", "\"lost\"", 0, "laptop"))).get(key);
        assertEquals(1, r.applied().size());
        assertEquals(head + 1, r.applied().get(0).seq());
        assertEquals(head + 1, r.head(), "the losing put's seq is given back");
        assertEquals(head + 1, (long) await(store.head(key)));
        bytes += utf8("c2") + 1;
        assertEquals(bytes, usage(key));
        assertEquals(bytes + ownBytes, usage(account));

        // above the quota (no limit for this one)
        commit(ServerStore.Limits.NONE, batch(key, set("prefs", "big", v40, 3, "phone")));
        bytes += 3 + 40;
        assertTrue(bytes + ownBytes > quota.quotaBytes());
        head = await(store.head(key));

        // every kind in one commit, the clears freeing more (32 + 44) than the append and the put add (5 + 31):
        // accepted above the quota; the last change loses, so the head is the put's seq
        r = commit(quota, batch(key, clearSection("cards", 4, "phone"), clear("chat", "c1", 4, "phone"),
                append("chat", "c3", "\"x\"", 4, "phone"), set("prefs", "b", v30, 4, "phone"),
                set("prefs", "a", "\"lost\"", 0, "laptop"))).get(key);
        assertEquals(4, r.applied().size(), "all but the losing put: " + r);
        assertEquals(head + 4, r.head());
        assertEquals(head + 4, (long) await(store.head(key)));
        bytes += -44 - 32 + 5 + 31;
        assertEquals(bytes, usage(key));
        assertEquals(bytes + ownBytes, usage(account));
        assertTrue(bytes + ownBytes > quota.quotaBytes(), "still above the quota");
        head = r.head();
        String state = foldedState(key, 100);

        // a clear that frees less (5) than a put adds (21): refused whole, naming the key, nothing kept
        QuotaExceededException refused = assertInstanceOf(QuotaExceededException.class, failureOf(store.commit(List.of(
                batch(key, clear("chat", "c3", 5, "phone"), set("prefs", "c", v20, 5, "phone"))), quota)));
        assertEquals(key, refused.user());
        assertEquals(bytes + ownBytes, refused.usedBytes());
        assertEquals(bytes + ownBytes - 5 + 21, refused.wouldUseBytes());
        assertEquals(quota.quotaBytes(), refused.quotaBytes());
        assertEquals(head, await(store.head(key)));
        assertEquals(state, foldedState(key, 100));
        assertEquals(bytes, usage(key));
        assertEquals(bytes + ownBytes, usage(account));

        // with a delete beside it the same put fits: the seqs continue right after the last head
        r = commit(quota, batch(key, clear("chat", "c3", 5, "phone"), delete("prefs", "big", 5, "phone"),
                set("prefs", "c", v20, 5, "phone"))).get(key);
        assertEquals(List.of(head + 1, head + 2, head + 3), r.applied().stream().map(Sequenced::seq).toList());
        bytes += -5 - 43 + 21;
        assertEquals(bytes, usage(key));
        assertEquals(bytes + ownBytes, usage(account));
    }
}
