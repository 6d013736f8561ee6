package dev.cairn.engine.persist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.section.PersistTo;
import dev.cairn.engine.section.StoragePolicy;
import dev.cairn.engine.store.InMemoryLocalStore;
import dev.cairn.engine.store.LocalStore;
import dev.cairn.engine.store.StoreException;
import dev.cairn.engine.store.StoreWrite;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.NavigableMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The persistence thread on its own: queueing, coalescing, tiers, the outbox, clears, failures, load. */
class PersisterTest {

    /** A store that records its commits and can be told to fail the next ones. */
    static final class RecordingStore implements LocalStore {
        final InMemoryLocalStore inner = new InMemoryLocalStore();
        final List<List<StoreWrite>> commits = new CopyOnWriteArrayList<>();
        final AtomicInteger failNext = new AtomicInteger();
        /** When set, the next commit announces itself on {@code entered} and waits for {@code release}: a slow fsync. */
        volatile CountDownLatch entered;
        volatile CountDownLatch release;

        @Override
        public void scan(byte[] prefix, BiConsumer<byte[], byte[]> visitor) {
            inner.scan(prefix, visitor);
        }

        @Override
        public byte[] get(byte[] key) {
            return inner.get(key);
        }

        @Override
        public void commit(List<StoreWrite> writes) {
            CountDownLatch gate = release;
            if (gate != null) {
                release = null;
                entered.countDown();
                try {
                    gate.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            if (failNext.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                throw new StoreException("injected failure");
            }
            if (!writes.isEmpty()) {
                commits.add(List.copyOf(writes));
            }
            inner.commit(writes);
        }

        @Override
        public long sizeBytes() {
            return inner.sizeBytes();
        }

        @Override
        public long count() {
            return inner.count();
        }

        @Override
        public void close() {
            inner.close();
        }

        List<String> keys(byte type) {
            List<String> out = new ArrayList<>();
            inner.scan(Records.prefix(type), (k, v) -> out.add(HexFormat.of().formatHex(k)));
            return out;
        }
    }

    private static final StoragePolicy MANUAL = StoragePolicy.DEFAULT.withAutoSave(false);

    private final AtomicLong clockHigh = new AtomicLong(Stamp.pack(1_750_000_000_000L, 0));
    private final List<Throwable> errors = new CopyOnWriteArrayList<>();
    private RecordingStore durable;
    private RecordingStore session;
    private Persister persister;
    private long hlc = Stamp.pack(1_750_000_000_000L, 0);

    @BeforeEach
    void open() {
        durable = new RecordingStore();
        session = new RecordingStore();
        persister = new Persister(durable, session, clockHigh::get, errors::add);
        persister.load(c -> fail("an empty store has nothing to load: " + c));
    }

    @AfterEach
    void close() {
        persister.close();
    }

    private Stamp next() {
        return new Stamp(++hlc, "a");
    }

    private Change.Put put(String key, String json) {
        return new Change.Put("state", key, json, next());
    }

    private static void await(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out waiting for: " + what);
            }
            try {
                Thread.sleep(2);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
    }

    @Test
    void aStateRecordAndItsOutboxEntryAreCommittedTogether() {
        Change.Put change = put("k", "1");
        persister.record(change, MANUAL, true);
        assertTrue(persister.isDirty(Persister.pendingKey(change)));
        assertEquals(1, persister.pendingCount());
        assertEquals(1, persister.pendingOutboxCount());
        persister.flush().join();

        assertFalse(persister.isDirty(Persister.pendingKey(change)));
        assertEquals(1, durable.commits.size(), "one atomic commit");
        List<StoreWrite> commit = durable.commits.get(0);
        assertTrue(commit.stream().anyMatch(w -> w.key()[0] == Records.MAP));
        assertTrue(commit.stream().anyMatch(w -> w.key()[0] == Records.OUTBOX));
        assertEquals(change, Records.read(Records.mapKey("state", "k"), durable.get(Records.mapKey("state", "k"))));
        assertEquals(List.of(change), new ArrayList<>(persister.outbox(10).values()));
        assertEquals(0, persister.pendingOutboxCount());
    }

    @Test
    void theClockHighWaterMarkIsSavedWithEveryCommit() {
        persister.record(put("k", "1"), MANUAL, false);
        clockHigh.set(Stamp.pack(1_800_000_000_000L, 7));
        persister.flush().join();
        assertEquals(clockHigh.get(), ByteBuffer.wrap(durable.get(Records.metaKey("clock"))).getLong());
    }

    @Test
    void repeatedWritesOfOneKeyAreCoalescedIntoOneRecordAndOneOutboxEntry() {
        persister.record(put("k", "1"), MANUAL, true);
        persister.record(put("k", "2"), MANUAL, true);
        Change.Put last = put("k", "3");
        persister.record(last, MANUAL, true);
        assertEquals(1, persister.pendingCount());
        persister.flush().join();
        assertEquals(List.of(last), new ArrayList<>(persister.outbox(10).values()));
    }

    @Test
    void appendsAreNeverCoalesced() {
        for (int i = 0; i < 3; i++) {
            persister.record(new Change.Append("chat", "c", "\"m" + i + "\"", next()), MANUAL, true);
        }
        persister.flush().join();
        assertEquals(3, persister.outboxSize());
        assertEquals(3, durable.keys(Records.LOG).size());
    }

    @Test
    void aLocalOnlyChangeIsSavedButNotQueuedForTheServer() {
        persister.record(put("k", "1"), MANUAL, false);
        persister.flush().join();
        assertEquals(0, persister.outboxSize());
        assertNotNull(durable.get(Records.mapKey("state", "k")));
    }

    @Test
    void aMemoryOnlyLocalOnlyChangeIsNotQueuedAtAll() {
        Change.Put change = put("k", "1");
        persister.record(change, MANUAL.withPersistTo(PersistTo.CONTEXT), false);
        assertFalse(persister.isDirty(Persister.pendingKey(change)));
        assertEquals(0, persister.pendingCount());
        persister.flush().join();
        assertNull(durable.get(Records.mapKey("state", "k")));
    }

    @Test
    void eachTierGetsOnlyTheRecordsItsPolicyNames() {
        persister.record(put("session-only", "1"), MANUAL.withPersistTo(PersistTo.SESSION_STORAGE), false);
        persister.record(put("durable-only", "1"), MANUAL.withPersistTo(PersistTo.LOCAL_STORAGE), false);
        persister.record(put("both", "1"), MANUAL.withPersistTo(PersistTo.ALL), false);
        persister.record(put("outbox-only", "1"), MANUAL.withPersistTo(PersistTo.CONTEXT), true);
        persister.flush().join();
        assertNotNull(session.get(Records.mapKey("state", "session-only")));
        assertNull(durable.get(Records.mapKey("state", "session-only")));
        assertNotNull(durable.get(Records.mapKey("state", "durable-only")));
        assertNull(session.get(Records.mapKey("state", "durable-only")));
        assertNotNull(durable.get(Records.mapKey("state", "both")));
        assertNotNull(session.get(Records.mapKey("state", "both")));
        assertNull(durable.get(Records.mapKey("state", "outbox-only")));
        assertNull(session.get(Records.mapKey("state", "outbox-only")));
        assertEquals(1, persister.outboxSize());
    }

    @Test
    void anAutoSavedChangeIsCommittedAfterItsDelayByTheBackgroundThread() {
        Change.Put change = put("k", "1");
        long start = System.nanoTime();
        persister.record(change, StoragePolicy.DEFAULT.withSaveDelay(Duration.ofMillis(100)), true);
        await("the auto save", () -> !persister.isDirty(Persister.pendingKey(change)));
        assertTrue(System.nanoTime() - start >= Duration.ofMillis(100).toNanos(), "committed before its delay");
        assertEquals(1, persister.outboxSize());
    }

    @Test
    void flushWithSavesOneManualKeyAndTheAutoSavedOnesButNotOtherManualKeys() {
        Change.Put mine = put("mine", "1");
        Change.Put other = put("other", "1");
        Change.Put auto = put("auto", "1");
        persister.record(mine, MANUAL, false);
        persister.record(other, MANUAL, false);
        persister.record(auto, StoragePolicy.DEFAULT.withSaveDelay(Duration.ofHours(1)), false);
        persister.flushWith(Persister.pendingKey(mine)).join();
        assertFalse(persister.isDirty(Persister.pendingKey(mine)));
        assertFalse(persister.isDirty(Persister.pendingKey(auto)));
        assertTrue(persister.isDirty(Persister.pendingKey(other)));
    }

    @Test
    void aClearPurgesTheEntriesItHidesFromBothTiersAndDropsQueuedOnes() {
        StoragePolicy all = MANUAL.withPersistTo(PersistTo.ALL);
        Change.Append saved1 = new Change.Append("chat", "c", "\"1\"", next());
        Change.Append saved2 = new Change.Append("chat", "c", "\"2\"", next());
        Change.Append otherStream = new Change.Append("chat", "d", "\"other\"", next());
        persister.record(saved1, all, false);
        persister.record(saved2, all, false);
        persister.record(otherStream, all, false);
        persister.flush().join();
        Change.Append queued = new Change.Append("chat", "c", "\"queued\"", next());
        persister.record(queued, all, false);
        Change.Clear clear = new Change.Clear("chat", "c", next());
        Change.Append after = new Change.Append("chat", "c", "\"after\"", next());
        persister.record(clear, all, false);
        persister.record(after, all, false);
        assertFalse(persister.isDirty(Persister.pendingKey(queued)), "a queued append hidden by a clear is dropped");
        persister.flush().join();

        for (RecordingStore tier : List.of(durable, session)) {
            List<Change> log = new ArrayList<>();
            tier.inner.scan(Records.prefix(Records.LOG), (k, v) -> log.add(Records.read(k, v)));
            assertEquals(List.of(after, otherStream), log);
            assertNotNull(tier.get(Records.watermarkKey("chat", "c")));
        }
        assertTrue(durable.commits.stream().flatMap(List::stream)
                        .noneMatch(w -> !w.isDelete() && w.key()[0] == Records.LOG && new String(w.value()).contains("queued")),
                "the dropped append was never written");
    }

    @Test
    void loadRestoresStateOutboxAndClockAndSequencesContinue() {
        Change.Put p = put("k", "1");
        Change.Append a = new Change.Append("chat", "c", "\"m\"", next());
        Change.Append hidden = new Change.Append("chat", "c", "\"hidden\"", next());
        Change.Clear clear = new Change.Clear("chat", "c", next());
        persister.record(p, MANUAL, true);
        persister.record(a, MANUAL, true);
        persister.flush().join();
        persister.record(hidden, MANUAL, true);
        persister.flush().join();
        // a stored entry the watermark hides (as after a crash between writes): load must not resurrect it
        durable.inner.commit(List.of(Records.write(clear)));
        NavigableMap<Long, Change> outboxBefore = persister.outbox(100);
        persister.close();

        Persister reloaded = new Persister(durable, session, clockHigh::get, errors::add);
        try {
            List<Change> applied = new ArrayList<>();
            long high = reloaded.load(applied::add);
            assertEquals(clockHigh.get(), high);
            assertTrue(applied.contains(p) && applied.contains(a) && applied.contains(clear), applied.toString());
            assertTrue(applied.indexOf(clear) < applied.indexOf(a), "watermarks load before log entries, so hidden entries stay hidden");
            assertEquals(outboxBefore, reloaded.outbox(100));
            reloaded.record(put("k2", "2"), MANUAL, true);
            reloaded.flush().join();
            assertEquals(outboxBefore.lastKey() + 1, reloaded.outbox(100).lastKey());
        } finally {
            reloaded.close();
        }
    }

    @Test
    void acknowledgedEntriesLeaveTheOutboxAndTheStore() {
        for (int i = 0; i < 3; i++) {
            persister.record(put("k" + i, "1"), MANUAL, true);
        }
        persister.flush().join();
        NavigableMap<Long, Change> outbox = persister.outbox(10);
        persister.acknowledge(List.of(outbox.firstKey(), outbox.lastKey())).join();
        assertEquals(1, persister.outboxSize());
        assertEquals(1, durable.keys(Records.OUTBOX).size());
    }

    @Test
    void aFailedCommitKeepsTheRecordsQueuedReportsTheErrorAndIsRetriedWithoutDuplicates() {
        durable.failNext.set(1);
        Change.Put change = put("k", "1");
        persister.record(change, StoragePolicy.DEFAULT.withSaveDelay(Duration.ZERO), true);
        await("the error report", () -> !errors.isEmpty());
        assertInstanceOf(StoreException.class, errors.get(0));
        assertTrue(persister.isDirty(Persister.pendingKey(change)) || persister.outboxSize() == 1);
        await("the retry", () -> !persister.isDirty(Persister.pendingKey(change)));
        assertEquals(1, persister.outboxSize(), "a retried commit must not duplicate outbox entries");
        assertEquals(1, durable.keys(Records.OUTBOX).size());
        assertNotNull(durable.get(Records.mapKey("state", "k")));
    }

    @Test
    void anOutboxEntryIsPushableWhileItsCommitRunsAndItsAckWaitsForThatCommit() throws Exception {
        durable.entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        durable.release = release;
        List<NavigableMap<Long, Change>> told = new CopyOnWriteArrayList<>();
        persister.onOutboxGrew(() -> told.add(persister.outbox(10)));
        Change.Put change = put("k", "1");
        persister.record(change, MANUAL, true);
        CompletableFuture<Void> saved = persister.flush();
        assertTrue(durable.entered.await(10, TimeUnit.SECONDS));

        // The commit is being forced to disk: the entry is already in the outbox, and the listener was told.
        assertEquals(1, told.size());
        NavigableMap<Long, Change> outbox = persister.outbox(10);
        assertEquals(List.of(change), new ArrayList<>(outbox.values()));
        assertEquals(outbox, told.get(0));
        assertTrue(persister.isDirty(Persister.pendingKey(change)), "not saved yet");
        assertEquals(1, persister.unacknowledgedCount(), "counted once, not as queued and in the outbox");
        // The server acknowledges it before the local commit completed.
        CompletableFuture<Void> acked = persister.acknowledge(outbox.keySet());
        Thread.sleep(50);
        assertFalse(acked.isDone(), "the removal waits for the commit that inserted the entry");
        assertFalse(saved.isDone());
        assertEquals(1, persister.outboxSize());

        release.countDown();
        saved.get(10, TimeUnit.SECONDS);
        acked.get(10, TimeUnit.SECONDS);
        assertEquals(2, durable.commits.size(), "the insert's commit, then the delete's: " + durable.commits);
        byte[] outboxKey = Records.outboxKey(outbox.firstKey());
        assertTrue(durable.commits.get(0).stream().anyMatch(w -> java.util.Arrays.equals(w.key(), outboxKey) && w.value() != null));
        assertTrue(durable.commits.get(1).stream().anyMatch(w -> java.util.Arrays.equals(w.key(), outboxKey) && w.value() == null));
        assertNotNull(durable.get(Records.mapKey("state", "k")), "the ack does not replace the change's own durable record");
        assertEquals(List.of(), durable.keys(Records.OUTBOX));
        assertEquals(0, persister.outboxSize());
        assertEquals(0, persister.unacknowledgedCount());
    }

    @Test
    void aPushedEntryWhoseCommitFailsIsQueuedAgainUnderANewSeqAndTheCursorWaitsForIt() {
        durable.failNext.set(1);
        List<Long> told = new CopyOnWriteArrayList<>();
        persister.onOutboxGrew(() -> told.add(persister.outbox(10).lastKey()));
        Change.Put change = put("k", "1");
        persister.record(change, MANUAL, true);
        assertThrows(CompletionException.class, () -> persister.flush().join());
        assertEquals(1, told.size(), "pushable while the (failing) commit ran");
        assertEquals(0, persister.outboxSize(), "not saved: out of the outbox again");
        assertEquals(1, persister.unacknowledgedCount(), "queued again");
        // The server acked the pushed copy and echoed it; its page's cursor is saved: the change must come with it.
        persister.acknowledge(List.of(told.get(0))).join();
        persister.recordCursor(7);
        persister.flushAutoSaved().join();
        assertEquals(7, persister.storedCursor());
        assertNotNull(durable.get(Records.mapKey("state", "k")), "a saved cursor never covers a change this device lost");
        NavigableMap<Long, Change> outbox = persister.outbox(10);
        assertEquals(List.of(change), new ArrayList<>(outbox.values()), "re-pushed; the server keeps one copy per stamp");
        assertTrue(outbox.firstKey() > told.get(0), "a seq is never given twice");
    }

    @Test
    void aPageIsOneCommitWithItsCursor() {
        StoragePolicy policy = StoragePolicy.DEFAULT;
        persister.recordRemotePage(List.of(put("a", "1"), put("b", "2")), List.of(policy, policy), 9);
        persister.flush().join();
        assertEquals(1, durable.commits.size(), "records, cursor and clock in one commit: " + durable.commits);
        assertNotNull(durable.get(Records.mapKey("state", "a")));
        assertNotNull(durable.get(Records.mapKey("state", "b")));
        assertEquals(9, persister.storedCursor());
        assertEquals(0, persister.pendingCount());
    }

    @Test
    void aPageNeverCommitsQueuedLocalWritesAheadOfTheirTurn() {
        StoragePolicy policy = StoragePolicy.DEFAULT.withSaveDelay(Duration.ofMinutes(1)); // both local writes stay queued
        Change.Put first = put("a", "1");
        Change.Put older = put("b", "0");
        Change.Put second = put("b", "2");
        persister.record(first, policy, true);
        persister.record(second, policy, true);
        persister.coverRemote(older); // a page brought an older write of b: the queued b now stands for it
        persister.recordRemotePage(List.of(put("r", "1")), List.of(policy), 7);
        await("the page's commit", () -> durable.get(Records.mapKey("state", "r")) != null);
        assertNull(durable.get(Records.mapKey("state", "b")), "b is not committed ahead of the older write of a");
        assertNull(durable.get(Records.mapKey("state", "a")));
        assertEquals(0, persister.storedCursor(), "the cursor waits for b, which stands for a change it covers");
        persister.flush().join();
        assertNotNull(durable.get(Records.mapKey("state", "a")));
        assertNotNull(durable.get(Records.mapKey("state", "b")));
        assertEquals(7, persister.storedCursor());
    }

    @Test
    void aPageWhoseCommitFailsIsQueuedAgainWithItsCursor() {
        durable.failNext.set(1);
        StoragePolicy policy = StoragePolicy.DEFAULT;
        persister.recordRemotePage(List.of(put("a", "1")), List.of(policy), 4);
        await("the error report", () -> !errors.isEmpty());
        persister.flush().join();
        assertNotNull(durable.get(Records.mapKey("state", "a")));
        assertEquals(4, persister.storedCursor());
        assertEquals(0, persister.pendingCount());
    }

    @Test
    void recordsQueuedAfterAPageAreWrittenAfterItAndANewerCursorWins() throws Exception {
        durable.entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        durable.release = release;
        persister.record(put("local", "1"), MANUAL, false);
        CompletableFuture<Void> first = persister.flush();
        assertTrue(durable.entered.await(10, TimeUnit.SECONDS)); // the persistence thread is busy: what follows queues up
        StoragePolicy policy = StoragePolicy.DEFAULT;
        persister.recordRemotePage(List.of(put("k", "\"page\"")), List.of(policy), 5);
        Change.Put newer = put("k", "\"newer\"");
        persister.recordRemote(newer, policy); // a later page that took the one-by-one path (it had a clear)
        persister.recordCursor(0);             // then a resync reset the cursor
        assertEquals(4, persister.pendingCount(), "the local record, the page's record, the newer record, the cursor");
        release.countDown();
        first.get(10, TimeUnit.SECONDS);
        persister.flush().join();
        assertEquals("\"newer\"", Records.read(Records.mapKey("state", "k"), durable.get(Records.mapKey("state", "k"))) instanceof Change.Put p
                ? p.value() : null, "the newer record is written after the page's");
        assertEquals(0, persister.storedCursor(), "the page's cursor does not overwrite the newer reset");
    }

    @Test
    void anExplicitFlushOfAFailingStoreCompletesExceptionallyAndKeepsTheRecords() {
        durable.failNext.set(1);
        Change.Put change = put("k", "1");
        persister.record(change, MANUAL, true);
        CompletionException e = assertThrows(CompletionException.class, () -> persister.flush().join());
        assertInstanceOf(StoreException.class, e.getCause());
        assertTrue(persister.isDirty(Persister.pendingKey(change)));
        assertEquals(0, persister.outboxSize());
        persister.flush().join();
        assertFalse(persister.isDirty(Persister.pendingKey(change)));
        assertEquals(1, persister.outboxSize());
    }

    @Test
    void closeCommitsEverythingQueuedAndLaterFlushesAreRefused() {
        persister.record(put("manual", "1"), MANUAL, true);
        persister.record(put("slow", "1"), StoragePolicy.DEFAULT.withSaveDelay(Duration.ofHours(1)), true);
        long start = System.nanoTime();
        persister.close();
        assertTrue(System.nanoTime() - start < Duration.ofSeconds(8).toNanos(), "close must not wait for a save delay");
        assertNotNull(durable.get(Records.mapKey("state", "manual")));
        assertNotNull(durable.get(Records.mapKey("state", "slow")));
        CompletionException e = assertThrows(CompletionException.class, () -> persister.flush().join());
        assertInstanceOf(IllegalStateException.class, e.getCause());
    }

    @Test
    void metadataIsStoredAsText() {
        assertNull(persister.meta("replica"));
        persister.putMeta("replica", "phone-1");
        assertEquals("phone-1", persister.meta("replica"));
    }
}
