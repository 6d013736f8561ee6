package dev.cairn.engine;

import dev.cairn.engine.persist.Records;
import dev.cairn.engine.section.PersistTo;
import dev.cairn.engine.section.StoragePolicy;
import dev.cairn.engine.sync.internal.SyncPorts;
import static dev.cairn.engine.TestSupport.await;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.section.StandardSections;
import dev.cairn.engine.persist.Tier;
import dev.cairn.engine.store.TieredLocalStore;
import dev.cairn.engine.store.StoreWrite;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The engine façade: builder, sections, the data-directory lock, lifecycle, stats, errors, threads. */
class CairnTest {

    @TempDir
    Path dir;

    // ------------------------------------------------------------------ builder

    @Test
    void openWithoutDataDirOrInMemoryIsRefused() {
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Cairn.builder().open());
        assertTrue(e.getMessage().contains("dataDir") && e.getMessage().contains("inMemory"), e.getMessage());
    }

    @Test
    void eachSettingMayBeGivenOnlyOnceAndTheErrorNamesIt() {
        assertAll(
                () -> assertRepeatRefused("dataDir", b -> b.dataDir(dir), b -> b.dataDir(dir)),
                () -> assertRepeatRefused("inMemory", b -> b.dataDir(dir), Cairn.Builder::inMemory),
                () -> assertRepeatRefused("dataDir", Cairn.Builder::inMemory, b -> b.dataDir(dir)),
                () -> assertRepeatRefused("inMemory", Cairn.Builder::inMemory, Cairn.Builder::inMemory),
                () -> assertRepeatRefused("replicaId", b -> b.replicaId("a"), b -> b.replicaId("b")),
                () -> assertRepeatRefused("wallClock", b -> b.wallClock(new ManualWallClock()), b -> b.wallClock(new ManualWallClock())),
                () -> assertRepeatRefused("maxClockAhead", b -> b.maxClockAhead(Duration.ZERO), b -> b.maxClockAhead(Duration.ofSeconds(1))),
                () -> assertRepeatRefused("section 'notes'", b -> b.section("notes", SectionKind.MAP), b -> b.section("notes", SectionKind.MAP)),
                () -> assertRepeatRefused("section 'ui'", b -> b.section("ui", SectionKind.MAP, StoragePolicy.DEFAULT),
                        b -> b.section("ui", SectionKind.MAP, StoragePolicy.DEFAULT)));
    }

    private static void assertRepeatRefused(String setting, Consumer<Cairn.Builder> first, Consumer<Cairn.Builder> again) {
        Cairn.Builder b = Cairn.builder();
        first.accept(b);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> again.accept(b));
        assertTrue(e.getMessage().contains(setting), "message should name " + setting + ": " + e.getMessage());
    }

    @Test
    void invalidReplicaIdsAreRefusedNamingTheSetting() {
        for (String bad : new String[] {"", "has space", "ümlaut", "a/b", "x".repeat(65), null}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Cairn.builder().replicaId(bad), String.valueOf(bad));
            assertTrue(e.getMessage().contains("replicaId"), e.getMessage());
        }
        assertDoesNotThrow(() -> Cairn.builder().replicaId("Phone_1-" + "x".repeat(56)));
    }

    @Test
    void negativeMaxClockAheadIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Cairn.builder().maxClockAhead(Duration.ofMillis(-1)));
        assertTrue(e.getMessage().contains("maxClockAhead"), e.getMessage());
    }

    // ------------------------------------------------------------------ the number rule at write time (PROTOCOL.md 1.2)

    @Test
    void valuesJsonCannotCarryExactlyAreRefusedAtWriteTimeAndNothingIsWritten() {
        try (Cairn cairn = TestSupport.inMemory("a")) {
            cairn.map(StandardSections.PREFERENCES).put("ok", 1);
            long before = cairn.pendingChanges();
            Object[] refused = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, -0.0, Float.NaN,
                    1L << 62, new java.math.BigInteger("1180591620717411303424"), new java.math.BigDecimal("0.10000000000000001"),
                    new java.math.BigDecimal("1e400"), java.util.Map.of("deep", java.util.List.of(1, Double.NaN))};
            for (Object value : refused) {
                ValidationException e = assertThrows(ValidationException.class,
                        () -> cairn.map(StandardSections.PREFERENCES).put("k", value), String.valueOf(value));
                assertTrue(e.getMessage().contains("value") || e.getMessage().contains("number"), e.getMessage());
                assertThrows(ValidationException.class, () -> cairn.log(StandardSections.CHAT).append("s", value), String.valueOf(value));
            }
            assertFalse(cairn.map(StandardSections.PREFERENCES).contains("k"));
            assertEquals(before, cairn.pendingChanges(), "a refused value reaches no outbox");
        }
    }

    @Test
    void valuesAreStoredInTheirCanonicalSpelling() {
        try (Cairn cairn = TestSupport.inMemory("a")) {
            MapSection prefs = cairn.map(StandardSections.PREFERENCES);
            Object[][] cases = {{1.0, "1.0"}, {100.0, "100.0"}, {0.1, "0.1"}, {2e23, "2.0E23"}, {Double.MIN_VALUE, "5.0E-324"},
                    {9007199254740991L, "9007199254740991"}, {new java.math.BigDecimal("1.50"), "1.5"}, {0.0, "0.0"}, {-2.5f, "-2.5"}};
            for (Object[] c : cases) {
                prefs.put("k", c[0]);
                assertEquals(c[1], cairn.state().map(StandardSections.PREFERENCES).value("k"), String.valueOf(c[0]));
            }
        }
    }

    @Test
    void accessToAnUnknownSectionIsAnUnknownSectionException() {
        try (Cairn cairn = TestSupport.inMemory("a")) {
            assertAll(
                    () -> assertThrows(UnknownSectionException.class, () -> cairn.map("nope")),
                    () -> assertThrows(UnknownSectionException.class, () -> cairn.log("nope")),
                    () -> assertThrows(UnknownSectionException.class, () -> cairn.clear("nope")),
                    () -> assertThrows(UnknownSectionException.class, () -> cairn.clear("nope", "s")),
                    () -> assertThrows(UnknownSectionException.class, () -> cairn.exportData(List.of("nope"))),
                    () -> assertThrows(UnknownSectionException.class,
                            () -> cairn.state("k", Integer.class, 0, StateOptions.<Integer>defaults().section("nope"))));
            UnknownSectionException e = assertThrows(UnknownSectionException.class, () -> cairn.map("nope"));
            assertTrue(e.getMessage().contains("'nope'"), e.getMessage());
        }
    }

    @Test
    void usingASectionAsTheWrongKindIsAnUnknownSectionException() {
        try (Cairn cairn = TestSupport.inMemory("a")) {
            UnknownSectionException e = assertThrows(UnknownSectionException.class, () -> cairn.map("chat"));
            assertTrue(e.getMessage().contains("log"), e.getMessage());
            assertThrows(UnknownSectionException.class, () -> cairn.log("cards"));
            assertThrows(UnknownSectionException.class, () -> cairn.clear("cards", "stream"));
        }
    }

    @Test
    void everyStandardSectionIsRegistered() {
        try (Cairn cairn = TestSupport.inMemory("a")) {
            assertEquals(Set.of("preferences", "ui", "memory", "features", "cards", "components", "progress", "state", "chat", "consent"),
                    cairn.sections().keySet());
            assertEquals(SectionKind.LOG, cairn.sections().get("chat").kind());
            assertEquals(SectionKind.MAP, cairn.sections().get("cards").kind());
        }
    }

    @Test
    void appSectionsOfBothKindsCanBeRegisteredUsedAndReopened() {
        try (Cairn cairn = Cairn.builder().dataDir(dir).replicaId("a")
                .section("notes", SectionKind.MAP)
                .section("events", SectionKind.LOG)
                .open()) {
            cairn.map("notes").put("n1", List.of("x", "y"));
            cairn.log("events").append("audit", "started");
            cairn.log("events").append("audit", "stopped");
            PersistentState<Integer> inNotes = cairn.state("counter", Integer.class, 0, StateOptions.<Integer>defaults().section("notes"));
            inNotes.set(3);
            assertEquals("[\"x\",\"y\"]", cairn.map("notes").json("n1"));
            assertEquals(2, cairn.log("events").size("audit"));
        }
        try (Cairn cairn = Cairn.builder().dataDir(dir)
                .section("notes", SectionKind.MAP)
                .section("events", SectionKind.LOG)
                .open()) {
            assertEquals("[\"x\",\"y\"]", cairn.map("notes").json("n1"));
            assertEquals(3, cairn.map("notes").get("counter", Integer.class));
            assertEquals(List.of("\"started\"", "\"stopped\""),
                    cairn.log("events").entries("audit").stream().map(e -> e.value()).toList());
        }
    }

    @Test
    void reRegisteringAStandardSectionWithTheWrongKindIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Cairn.builder().section("chat", SectionKind.MAP));
        assertTrue(e.getMessage().contains("chat") && e.getMessage().contains("log"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Cairn.builder().section("cards", SectionKind.LOG));
    }

    @Test
    void aStandardSectionsPolicyCanBeChangedKeepingItsKind() {
        StoragePolicy memoryOnly = StoragePolicy.DEFAULT.withPersistTo(PersistTo.CONTEXT).withSync(false);
        try (Cairn cairn = Cairn.builder().dataDir(dir).section("ui", SectionKind.MAP, memoryOnly).open()) {
            cairn.ui().put("sidebar", "open");
            cairn.preferences().setTheme("dark");
            cairn.save().join();
            assertEquals(0, TestSupport.outboxCount(cairn, "ui", "sidebar"));
        }
        try (Cairn cairn = Cairn.builder().dataDir(dir).open()) {
            assertFalse(cairn.ui().contains("sidebar"), "ui was memory-only");
            assertEquals("dark", cairn.preferences().theme());
        }
    }

    @Test
    void invalidSectionNamesAreRefused() {
        for (String bad : new String[] {"", "Upper", "1digit", "has space", "x".repeat(65)}) {
            assertThrows(IllegalArgumentException.class, () -> Cairn.builder().section(bad, SectionKind.MAP), bad);
        }
    }

    // ------------------------------------------------------------------ the data directory

    @Test
    void aSecondEngineOnTheSameDirectoryIsRefusedAndTheFirstKeepsWorking() {
        try (Cairn first = Cairn.builder().dataDir(dir).replicaId("a").open()) {
            first.state("n", Integer.class, 0).set(1);
            StorageException e = assertThrows(StorageException.class, () -> Cairn.builder().dataDir(dir).replicaId("a").open());
            assertTrue(e.getMessage().contains("already open"), e.getMessage());
            first.state("n", Integer.class, 0).set(2);
            first.save().join();
            assertEquals(2, first.state("n", Integer.class, 0).value());
        }
        try (Cairn again = Cairn.builder().dataDir(dir).open()) {
            assertEquals(2, again.state("n", Integer.class, 0).value());
        }
    }

    @Test
    void theSameDirectoryByAnotherPathIsAlsoRefused() {
        try (Cairn first = Cairn.builder().dataDir(dir).open()) {
            Path sameDir = dir.resolve("sub").resolve("..");
            assertThrows(StorageException.class, () -> Cairn.builder().dataDir(sameDir).open());
            assertEquals(first.replicaId(), first.replicaId());
        }
    }

    @Test
    void aRefusedSecondOpenDoesNotReleaseTheFirstEnginesLockForOtherProcesses() throws Exception {
        try (Cairn first = Cairn.builder().dataDir(dir).open()) {
            assertEquals("HELD-BY-OTHER", probeLockFromAnotherProcess(), "before the refused open");
            assertThrows(StorageException.class, () -> Cairn.builder().dataDir(dir).open());
            assertEquals("HELD-BY-OTHER", probeLockFromAnotherProcess(),
                    "after a refused second open, another process must still see the directory as locked");
            first.state("n", Integer.class, 0).set(1);
        }
        assertEquals("ACQUIRED", probeLockFromAnotherProcess(), "after close the lock is free");
    }

    private String probeLockFromAnotherProcess() throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        String classes = Path.of(LockProbe.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        Process p = new ProcessBuilder(java, "-cp", classes, LockProbe.class.getName(), dir.resolve("cairn.lock").toString())
                .redirectErrorStream(true).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "lock probe did not finish");
        return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    }

    @Test
    void afterCloseTheDirectoryCanBeReopened() {
        for (int i = 0; i < 3; i++) {
            try (Cairn cairn = Cairn.builder().dataDir(dir).open()) {
                cairn.state("opens", Integer.class, 0).update(n -> n + 1);
            }
        }
        try (Cairn cairn = Cairn.builder().dataDir(dir).open()) {
            assertEquals(3, cairn.state("opens", Integer.class, 0).value());
        }
    }

    @Test
    void aGeneratedReplicaIdIsValidAndKeptAcrossReopens() {
        String id;
        try (Cairn cairn = Cairn.builder().dataDir(dir).open()) {
            id = cairn.replicaId();
            assertTrue(Stamp.isValidReplicaId(id), id);
        }
        try (Cairn cairn = Cairn.builder().dataDir(dir).open()) {
            assertEquals(id, cairn.replicaId());
        }
        try (Cairn other = TestSupport.inMemory("zz"); Cairn generated = Cairn.builder().inMemory().open()) {
            assertNotEquals(id, generated.replicaId());
            assertEquals("zz", other.replicaId());
        }
    }

    @Test
    void aReplicaIdMismatchOnReopenIsRefusedAndReleasesTheDirectory() {
        try (Cairn cairn = Cairn.builder().dataDir(dir).replicaId("phone").open()) {
            cairn.state("k", String.class, "").set("v");
        }
        StorageException e = assertThrows(StorageException.class, () -> Cairn.builder().dataDir(dir).replicaId("laptop").open());
        assertTrue(e.getMessage().contains("phone") && e.getMessage().contains("laptop"), e.getMessage());
        try (Cairn cairn = Cairn.builder().dataDir(dir).replicaId("phone").open()) {
            assertEquals("v", cairn.state("k", String.class, "").value());
        }
    }

    @Test
    void aDamagedRecordMakesOpenFailWithStoreExceptionAndReleasesTheDirectory() {
        try (Cairn cairn = Cairn.builder().dataDir(dir).replicaId("a").open()) {
            cairn.state("k", String.class, "").set("v");
        }
        TieredLocalStore raw = TieredLocalStore.open(dir);
        raw.commit(List.of(StoreWrite.put(Records.mapKey("state", "broken"), new byte[] {1, 2, 3})));
        raw.close();
        StorageException first = assertThrows(StorageException.class, () -> Cairn.builder().dataDir(dir).open());
        assertTrue(first.getMessage().contains("damaged"), first.getMessage());
        StorageException second = assertThrows(StorageException.class, () -> Cairn.builder().dataDir(dir).open());
        assertTrue(second.getMessage().contains("damaged"), "a failed open must release the lock: " + second.getMessage());
    }

    @Test
    void aDataDirWhoseStoreFileIsNotACairnJournalIsRefusedUntouchedAndReleased() throws Exception {
        assertEquals("cairn.journal", Cairn.DURABLE_FILE);
        Path journal = dir.resolve(Cairn.DURABLE_FILE);
        byte[] garbage = "not a journal\n".repeat(100).getBytes(StandardCharsets.UTF_8);
        Files.write(journal, garbage);
        StorageException e = assertThrows(StorageException.class, () -> Cairn.builder().dataDir(dir).open());
        assertTrue(e.getMessage().contains(journal.toString()), "the message names the file: " + e.getMessage());
        assertArrayEquals(garbage, Files.readAllBytes(journal), "a file that is not a journal is left untouched");
        // The directory lock is released: a second attempt is refused for the same reason, not as "open in another engine".
        StorageException again = assertThrows(StorageException.class, () -> Cairn.builder().dataDir(dir).open());
        assertFalse(again.getMessage().contains("another Cairn engine"), again.getMessage());
        assertEquals(e.getMessage(), again.getMessage());
        assertArrayEquals(garbage, Files.readAllBytes(journal));
    }

    // ------------------------------------------------------------------ close

    @Test
    void closeFlushesPendingWritesWithoutWaitingForTheirSaveDelay() {
        long started = System.nanoTime();
        try (Cairn cairn = Cairn.builder().dataDir(dir).open()) {
            cairn.state("slow", Integer.class, 0, StateOptions.<Integer>defaults().saveDelay(Duration.ofMinutes(10))).set(7);
            cairn.state("manual", Integer.class, 0, StateOptions.<Integer>defaults().autoSave(false)).set(8);
            cairn.chat().append("c", "user", "bye");
        }
        long closedAfter = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
        assertTrue(closedAfter < 8_000, "close took " + closedAfter + " ms: it must not wait for the save delay");
        try (Cairn cairn = Cairn.builder().dataDir(dir).open()) {
            assertEquals(7, cairn.state("slow", Integer.class, 0).value());
            assertEquals(8, cairn.state("manual", Integer.class, 0).value());
            assertEquals("bye", cairn.chat().history("c").get(0).text());
        }
    }

    @Test
    void closeIsIdempotent() {
        Cairn cairn = Cairn.builder().dataDir(dir).open();
        cairn.close();
        assertDoesNotThrow(cairn::close);
    }

    @Test
    void writesAndSavesAfterCloseThrowIllegalStateException() {
        Cairn cairn = Cairn.builder().dataDir(dir).replicaId("a").open();
        PersistentState<Integer> n = cairn.state("n", Integer.class, 0);
        MapSection ui = cairn.ui();
        LogSection chat = cairn.log("chat");
        Card card = cairn.cards().card("x");
        n.set(1);
        cairn.close();
        Change remote = new Change.Put("state", "r", "1", new Stamp(Stamp.pack(1000, 0), "b"));
        assertAll(
                () -> assertThrows(IllegalStateException.class, () -> n.set(2)),
                () -> assertThrows(IllegalStateException.class, () -> n.update(v -> v + 1)),
                () -> assertThrows(IllegalStateException.class, n::reset),
                () -> assertThrows(IllegalStateException.class, n::save),
                () -> assertThrows(IllegalStateException.class, () -> ui.put("k", 1)),
                () -> assertThrows(IllegalStateException.class, () -> chat.append("c", "x")),
                () -> assertThrows(IllegalStateException.class, card::toggle),
                () -> assertThrows(IllegalStateException.class, cairn::save),
                () -> assertThrows(IllegalStateException.class, () -> cairn.clear("ui")),
                () -> assertThrows(IllegalStateException.class, () -> cairn.clear("chat", "c")),
                () -> assertThrows(IllegalStateException.class, () -> SyncPorts.of(cairn).applyRemote(List.of(remote))),
                () -> assertThrows(IllegalStateException.class, () -> cairn.importData("{}")),
                () -> assertThrows(IllegalStateException.class, () -> SyncPorts.of(cairn).acknowledge(List.of(1L))));
        assertEquals(1, n.value(), "reads of the in-memory state still work");
    }

    @Test
    void aWriteRacingCloseIsEitherDurableOrRefused() throws Exception {
        for (int round = 0; round < 8; round++) {
            Path d = dir.resolve("round-" + round);
            Cairn cairn = Cairn.builder().dataDir(d).replicaId("a").open();
            Set<String> written = ConcurrentHashMap.newKeySet();
            List<Throwable> unexpected = new CopyOnWriteArrayList<>();
            CountDownLatch started = new CountDownLatch(3);
            List<Thread> writers = new ArrayList<>();
            for (int t = 0; t < 3; t++) {
                int id = t;
                Thread w = new Thread(() -> {
                    started.countDown();
                    for (int i = 0; i < 4000; i++) {
                        String key = "t" + id + "-" + i;
                        try {
                            cairn.map("state").put(key, i);
                            written.add(key);
                        } catch (IllegalStateException closed) {
                            return;
                        } catch (Throwable other) {
                            unexpected.add(other);
                            return;
                        }
                    }
                });
                writers.add(w);
                w.start();
            }
            started.await();
            await("some writes", () -> written.size() > 20);
            cairn.close();
            for (Thread w : writers) {
                w.join(TestSupport.PATIENCE.toMillis());
                assertFalse(w.isAlive(), "writer still running after close");
            }
            assertEquals(List.of(), unexpected, "a write racing close may only fail with IllegalStateException");
            try (Cairn reopened = Cairn.builder().dataDir(d).open()) {
                List<String> lost = new ArrayList<>();
                for (String key : written) {
                    if (!reopened.map("state").contains(key)) {
                        lost.add(key);
                    }
                }
                Collections.sort(lost);
                assertEquals(List.of(), lost, "round " + round + ": writes that returned normally must survive close");
            }
        }
    }

    // ------------------------------------------------------------------ stats

    @Test
    void statsReportEntriesPerSectionOutboxAndBytesPerTier() {
        try (Cairn cairn = Cairn.builder().dataDir(dir).replicaId("a").open()) {
            Stats empty = cairn.stats();
            assertEquals(0, empty.outboxSize());
            assertEquals(0, empty.entriesPerSection().get("cards"));
            assertEquals(0L, empty.bytesPerTier().get(Tier.MEMORY));

            cairn.cards().card("x").expand();               // isExpanded + lastInteraction
            cairn.memory().remember("name", "Ada");
            cairn.memory().remember("city", "Paris");
            cairn.memory().forget("city");                  // tombstones are not live entries
            cairn.chat().append("c1", "user", "a");
            cairn.chat().append("c2", "user", "b");
            cairn.chat().append("c2", "assistant", "c");
            cairn.state("manual", Integer.class, 0, StateOptions.<Integer>defaults().autoSave(false)).set(1);

            Stats before = cairn.stats();
            assertEquals(2, before.entriesPerSection().get("cards"));
            assertEquals(1, before.entriesPerSection().get("memory"));
            assertEquals(3, before.entriesPerSection().get("chat"));
            assertEquals(1, before.entriesPerSection().get("state"));
            assertEquals(0, before.entriesPerSection().get("consent"));
            assertTrue(before.unsavedRecords() >= 1, before.toString());
            assertEquals(8, before.outboxSize(), "queued outbox changes count before they are committed: " + before);
            assertTrue(before.bytesPerTier().get(Tier.MEMORY) > 0);

            cairn.save().join();
            Stats after = cairn.stats();
            assertEquals(0, after.unsavedRecords());
            assertEquals(8, after.outboxSize());
            assertEquals(8, SyncPorts.of(cairn).outbox(100).size());
            assertTrue(after.bytesPerTier().get(Tier.DURABLE) > 0);
            assertEquals(0L, after.bytesPerTier().get(Tier.SESSION), "nothing uses the session tier by default");

            SyncPorts.of(cairn).acknowledge(SyncPorts.of(cairn).outbox(3).keySet()).join();
            assertEquals(5, cairn.stats().outboxSize());
        }
    }

    // ------------------------------------------------------------------ listeners and errors

    @Test
    void aThrowingChangeListenerIsReportedToErrorListenersAndTheWriteStillHappens() {
        try (Cairn cairn = TestSupport.inMemory("a")) {
            List<Throwable> errors = new CopyOnWriteArrayList<>();
            RuntimeException boom = new RuntimeException("boom");
            cairn.onError(errors::add);
            cairn.onChange(e -> {
                throw boom;
            });
            List<String> laterListener = new ArrayList<>();
            cairn.onChange(e -> laterListener.add(e.target()));
            PersistentState<String> s = cairn.state("k", String.class, "");
            assertDoesNotThrow(() -> s.set("written"));
            assertEquals("written", s.value());
            assertEquals(1, errors.size());
            assertSame(boom, errors.get(0));
            assertEquals(List.of("k"), laterListener, "one throwing listener must not starve the next");
        }
    }

    @Test
    void aThrowingErrorListenerDoesNotHideTheNextOne() {
        try (Cairn cairn = TestSupport.inMemory("a")) {
            List<Throwable> seen = new ArrayList<>();
            cairn.onError(e -> {
                throw new IllegalStateException("error listener broken");
            });
            cairn.onError(seen::add);
            cairn.onChange(e -> {
                throw new RuntimeException("boom");
            });
            cairn.ui().put("k", 1);
            assertEquals(1, seen.size());
            assertEquals("boom", seen.get(0).getMessage());
        }
    }

    @Test
    void closingAnErrorSubscriptionStopsReports() {
        try (Cairn cairn = TestSupport.inMemory("a")) {
            List<Throwable> seen = new ArrayList<>();
            Subscription sub = cairn.onError(seen::add);
            cairn.onChange(e -> {
                throw new RuntimeException("boom");
            });
            cairn.ui().put("k", 1);
            sub.close();
            cairn.ui().put("k", 2);
            assertEquals(1, seen.size());
        }
    }

    // ------------------------------------------------------------------ threads

    @Test
    void concurrentUpdatesOfOneStateLoseNothing() throws Exception {
        try (Cairn cairn = TestSupport.inMemory("a")) {
            PersistentState<Integer> counter = cairn.state("counter", Integer.class, 0);
            runConcurrently(4, t -> {
                for (int i = 0; i < 2000; i++) {
                    counter.update(n -> n + 1);
                }
            });
            assertEquals(8000, counter.value());
            assertEquals(8000, cairn.state("counter", Integer.class, 0).value());
        }
    }

    @Test
    void concurrentWritersOfDifferentKeysAndReadersDoNotInterfere() throws Exception {
        try (Cairn cairn = TestSupport.inMemory("a")) {
            AtomicInteger reads = new AtomicInteger();
            runConcurrently(6, t -> {
                if (t < 4) {
                    PersistentState<Integer> mine = cairn.state("key-" + t, Integer.class, -1);
                    for (int i = 0; i < 1500; i++) {
                        mine.set(i);
                        cairn.chat().append("conv-" + t, "user", "m" + i);
                        if (i % 100 == 0) {
                            cairn.cards().card("c" + t).toggle();
                        }
                    }
                } else {
                    for (int i = 0; i < 300; i++) {
                        cairn.state("key-" + (i % 4), Integer.class, -1).value();
                        cairn.chat().page("conv-" + (i % 4), null, 20);
                        cairn.stats();
                        if (i % 30 == 0) {
                            cairn.canonicalState();
                            cairn.exportData();
                        }
                        reads.incrementAndGet();
                    }
                }
            });
            for (int t = 0; t < 4; t++) {
                assertEquals(1499, cairn.state("key-" + t, Integer.class, -1).value());
                assertEquals(1500, cairn.chat().size("conv-" + t));
            }
            assertEquals(600, reads.get());
        }
    }

    /** Runs {@code body(threadIndex)} on n threads started together; rethrows the first failure. */
    static void runConcurrently(int threads, ThrowingIntConsumer body) throws Exception {
        CountDownLatch go = new CountDownLatch(1);
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        List<Thread> all = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int index = t;
            Thread thread = new Thread(() -> {
                try {
                    go.await();
                    body.accept(index);
                } catch (Throwable e) {
                    failures.add(e);
                }
            });
            all.add(thread);
            thread.start();
        }
        go.countDown();
        for (Thread thread : all) {
            thread.join(60_000);
            assertFalse(thread.isAlive(), "worker did not finish");
        }
        if (!failures.isEmpty()) {
            AssertionError error = new AssertionError(failures.size() + " worker(s) failed", failures.get(0));
            failures.stream().skip(1).forEach(error::addSuppressed);
            throw error;
        }
    }

    @FunctionalInterface
    interface ThrowingIntConsumer {
        void accept(int value) throws Exception;
    }
}
