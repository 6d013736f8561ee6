package dev.cairn.engine;

import static dev.cairn.engine.TestSupport.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.store.TieredLocalStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * When writes are saved: {@code isDirty}/{@code isSaving}, {@code autoSave}, {@code saveDelay},
 * {@code debounce} and explicit {@code save()}. Timing assertions use lower bounds only (a saver
 * never fires early, however loaded the machine) and polling with a deadline for "eventually".
 */
class SaveSchedulingTest {

    @TempDir
    Path dir;

    private Cairn cairn;

    @BeforeEach
    void open() {
        cairn = Cairn.builder().dataDir(dir.resolve("data")).replicaId("a").open();
    }

    @AfterEach
    void close() {
        cairn.close();
    }

    private static <T> StateOptions<T> delay(long millis, boolean debounce) {
        return StateOptions.<T>defaults().autoSave(true).saveDelay(Duration.ofMillis(millis)).debounce(debounce);
    }

    private static long millisSince(long nanos) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - nanos);
    }

    @Test
    void nothingIsDirtyBeforeAnyWrite() {
        PersistentState<Integer> n = cairn.state("n", Integer.class, 0);
        assertFalse(n.isDirty());
        assertFalse(n.isSaving());
    }

    @Test
    void aWriteIsDirtyAtOnceAndCleanAfterItsSaveDelay() {
        PersistentState<Integer> n = cairn.state("n", Integer.class, 0, delay(300, false));
        long start = System.nanoTime();
        n.set(1);
        assertTrue(n.isDirty(), "dirty right after set");
        while (n.isDirty()) {
            long elapsed = millisSince(start);
            assertTrue(elapsed < TestSupport.PATIENCE.toMillis(), "never saved");
            TestSupport.pause(2);
        }
        assertTrue(millisSince(start) >= 300, "saved before its save delay");
        assertFalse(n.isSaving());
        assertEquals(1, TestSupport.outboxCount(cairn, "state", "n"), "the save committed the change with its outbox entry");
    }

    @Test
    void withoutAutoSaveAWriteStaysDirtyUntilSaved() {
        PersistentState<Integer> manual = cairn.state("manual", Integer.class, 0, StateOptions.<Integer>defaults().autoSave(false));
        PersistentState<Integer> auto = cairn.state("auto", Integer.class, 0, delay(20, false));
        manual.set(1);
        auto.set(1);
        await("the auto-saved key to be saved", () -> !auto.isDirty());
        // The persistence thread has run at least once since the manual write: it is still queued.
        assertTrue(manual.isDirty(), "autoSave=false must wait for save()");
        assertEquals(0, TestSupport.outboxCount(cairn, "state", "manual"));
        manual.save().join();
        assertFalse(manual.isDirty());
        assertEquals(1, TestSupport.outboxCount(cairn, "state", "manual"));
    }

    @Test
    void aKeysSaveSavesThatKeyButNotOtherManualKeysWhileTheEngineSaveSavesAll() {
        StateOptions<Integer> manual = StateOptions.<Integer>defaults().autoSave(false);
        PersistentState<Integer> a = cairn.state("a", Integer.class, 0, manual);
        PersistentState<Integer> b = cairn.state("b", Integer.class, 0, manual);
        a.set(1);
        b.set(2);
        a.save().join();
        assertFalse(a.isDirty());
        assertTrue(b.isDirty(), "saving one key must not save another manual key");
        cairn.save().join();
        assertFalse(b.isDirty());
    }

    @Test
    void saveCompletesOnlyOnceTheValueIsOnDisk() throws Exception {
        PersistentState<String> s = cairn.state("doc", String.class, "", StateOptions.<String>defaults().saveDelay(Duration.ofMinutes(10)));
        s.set("durable text");
        s.save().join();
        assertFalse(s.isDirty());
        assertFalse(s.isSaving());
        // Copy the files of the still-open engine, as a crash would leave them, and open the copy.
        Path copy = dir.resolve("copy");
        TieredLocalStore.copyFiles(dir.resolve("data"), copy);
        try (Stream<Path> files = Files.list(copy)) {
            assertTrue(files.anyMatch(f -> f.getFileName().toString().endsWith(".journal")), "the durable journal was copied");
        }
        try (Cairn crashed = Cairn.builder().dataDir(copy).open()) {
            assertEquals("durable text", crashed.state("doc", String.class, "").value());
            assertEquals("a", crashed.replicaId());
        }
    }

    @Test
    void aSavedValueCanBeReadByAFreshEngineAfterReopen() {
        cairn.state("k", Integer.class, 0).set(123);
        cairn.save().join();
        cairn.close();
        cairn = Cairn.builder().dataDir(dir.resolve("data")).open();
        assertEquals(123, cairn.state("k", Integer.class, 0).value());
    }

    @Test
    void withDebounceABurstIsSavedOnceAndNotBeforeItsLastWritePlusTheDelay() {
        PersistentState<Integer> n = cairn.state("typing", Integer.class, 0, delay(400, true));
        long lastWrite = 0;
        for (int i = 1; i <= 10; i++) {
            lastWrite = System.nanoTime();
            n.set(i);
            TestSupport.pause(10);
        }
        assertTrue(n.isDirty());
        List<Long> cleanSeenAt = new ArrayList<>();
        long deadline = System.nanoTime() + TestSupport.PATIENCE.toNanos();
        while (System.nanoTime() < deadline) {
            boolean dirty = n.isDirty();
            long observed = System.nanoTime();
            if (!dirty) {
                cleanSeenAt.add(observed);
                break;
            }
            TestSupport.pause(2);
        }
        assertFalse(cleanSeenAt.isEmpty(), "never saved");
        long afterLast = TimeUnit.NANOSECONDS.toMillis(cleanSeenAt.get(0) - lastWrite);
        assertTrue(afterLast >= 400, "a debounced key was saved " + afterLast + " ms after its last write (< saveDelay 400 ms)");
        assertEquals(1, TestSupport.outboxCount(cairn, "state", "typing"), "the burst is coalesced into one saved change");
        assertEquals(10, n.value());
    }

    @Test
    void withoutDebounceWritesKeepGettingSavedSaveDelayAfterTheFirstOfEachBatch() {
        PersistentState<Integer> n = cairn.state("ticker", Integer.class, 0, delay(150, false));
        long start = System.nanoTime();
        int i = 0;
        // Keep writing every few ms: without debounce the first save cannot be postponed by them.
        while (TestSupport.outboxCount(cairn, "state", "ticker") == 0) {
            assertTrue(millisSince(start) < TestSupport.PATIENCE.toMillis(), "continuous writes postponed the save forever");
            n.set(++i);
            TestSupport.pause(5);
        }
        assertTrue(millisSince(start) >= 150, "saved before its save delay");
        assertTrue(i > 1, "the save happened while writes kept coming");
        cairn.save().join();
        assertEquals(i, cairn.map("state").get("ticker", Integer.class));
    }

    @Test
    void withDebounceSteadyWritesAreStillSavedWithinTheMaximumWait() {
        PersistentState<Integer> n = cairn.state("steady", Integer.class, 0, delay(100, true));
        long start = System.nanoTime();
        int i = 0;
        while (TestSupport.outboxCount(cairn, "state", "steady") == 0) {
            assertTrue(millisSince(start) < TestSupport.PATIENCE.toMillis(),
                    "debounced writes every 5 ms were never saved: the maximum wait does not hold");
            n.set(++i);
            TestSupport.pause(5);
        }
        assertTrue(millisSince(start) >= 100, "saved before its save delay");
    }

    @Test
    void saveOnAnEngineWithNothingQueuedCompletes() {
        cairn.save().join();
        cairn.state("n", Integer.class, 0).save().join();
        assertEquals(0, cairn.stats().unsavedRecords());
    }

    @Test
    void isSavingIsFalseOnceASaveCompleted() {
        PersistentState<Integer> n = cairn.state("n", Integer.class, 0);
        for (int i = 0; i < 50; i++) {
            n.set(i);
            n.save().join();
            assertFalse(n.isSaving());
            assertFalse(n.isDirty());
        }
        assertEquals(50, TestSupport.outboxCount(cairn, "state", "n"), "one outbox entry per save of a changed key");
    }
}
