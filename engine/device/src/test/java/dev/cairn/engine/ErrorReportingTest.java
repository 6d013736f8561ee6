package dev.cairn.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.store.InMemoryLocalStore;
import dev.cairn.engine.store.LocalStore;
import dev.cairn.engine.store.StoreException;
import dev.cairn.engine.store.StoreWrite;
import dev.cairn.engine.sync.SyncClient;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiConsumer;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What an app sees when something goes wrong: exceptions of the API package (never the store's or
 * the CRDT layer's), and a listener that throws logged with its stack trace while the other
 * listeners still run.
 */
class ErrorReportingTest {

    /** The durable tier of an engine, refusing commits while {@code failing} is set, as a full or broken disk does. */
    private static final class FailingStore implements LocalStore {
        final LocalStore inner = new InMemoryLocalStore();
        final AtomicBoolean failing = new AtomicBoolean();

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
            if (failing.get()) {
                throw new StoreException("cannot write journal segment: No space left on device");
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
    }

    /** Catches what the engine logs through System.Logger (java.util.logging here), off the console. */
    private static final class Captured extends Handler {
        final List<LogRecord> records = new CopyOnWriteArrayList<>();
        final Logger logger;
        final boolean parentHandlers;

        Captured(String name) {
            logger = Logger.getLogger(name);
            parentHandlers = logger.getUseParentHandlers();
            logger.setUseParentHandlers(false);
            logger.addHandler(this);
        }

        @Override
        public void publish(LogRecord record) {
            records.add(record);
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
            logger.removeHandler(this);
            logger.setUseParentHandlers(parentHandlers);
        }
    }

    private final List<Captured> captures = new CopyOnWriteArrayList<>();

    private Captured capture(String logger) {
        Captured c = new Captured(logger);
        captures.add(c);
        return c;
    }

    @AfterEach
    void releaseLoggers() {
        captures.forEach(Captured::close);
    }

    @Test
    void anUnknownSectionIsTheApiPackagesException() {
        try (Cairn cairn = Cairn.builder().inMemory().open()) {
            UnknownSectionException unknown = assertThrows(UnknownSectionException.class, () -> cairn.map("nope"));
            assertTrue(unknown.getMessage().contains("'nope'"), unknown.getMessage());
            assertThrows(UnknownSectionException.class,
                    () -> cairn.state("k", String.class, "", StateOptions.<String>defaults().section("chat")));
            assertEquals("dev.cairn.engine", UnknownSectionException.class.getPackageName());
            assertInstanceOf(IllegalArgumentException.class, unknown, "a wrong argument, as before");
        }
    }

    @Test
    void aStoreFailureReachesTheAppAsAStorageException() {
        FailingStore store = new FailingStore();
        List<Throwable> errors = new CopyOnWriteArrayList<>();
        try (Cairn cairn = Cairn.builder().durableStore(store).open()) {
            cairn.onError(errors::add);
            PersistentState<String> name = cairn.state("name", String.class, "",
                    StateOptions.<String>defaults().saveDelay(Duration.ofMillis(5)));
            store.failing.set(true);
            name.set("Ada");

            CompletionException viaHandle = assertThrows(CompletionException.class, () -> name.save().join());
            StorageException e = assertInstanceOf(StorageException.class, viaHandle.getCause());
            assertTrue(e.getMessage().contains("No space left on device"), e.getMessage());
            assertInstanceOf(StoreException.class, e.getCause(), "the store's own exception is the cause");
            CompletionException viaEngine = assertThrows(CompletionException.class, () -> cairn.save().join());
            assertInstanceOf(StorageException.class, viaEngine.getCause());

            TestSupport.await("the background save's failure reported", () -> !errors.isEmpty());
            errors.forEach(error -> assertInstanceOf(StorageException.class, error));

            store.failing.set(false);
            cairn.save().join();
            assertEquals("Ada", name.value());
        }
    }

    @Test
    void aThrowingChangeListenerIsLoggedWithItsStackTraceAndTheOthersStillRun() {
        Captured log = capture(Cairn.class.getName());
        RuntimeException boom = new IllegalStateException("listener bug");
        List<ChangeEvent> heard = new CopyOnWriteArrayList<>();
        List<Throwable> errors = new CopyOnWriteArrayList<>();
        try (Cairn cairn = Cairn.builder().inMemory().open()) {
            cairn.onChange(event -> {
                throw boom;
            });
            cairn.onChange(heard::add);
            PersistentState<Integer> count = cairn.state("count", Integer.class, 0);
            count.set(1);
            assertEquals(1, heard.size(), "the listener after the throwing one still ran");
            assertEquals(1, log.records.size(), "logged once, with no onError listener");

            cairn.onError(errors::add);
            count.set(2);
            assertEquals(2, heard.size());
            assertEquals(List.of(boom), errors, "onError listeners hear it");
            assertEquals(2, log.records.size(), "and it is logged even so");
        }
        for (LogRecord record : log.records) {
            assertEquals(Level.WARNING, record.getLevel());
            assertSame(boom, record.getThrown(), "logged with the exception, so its stack trace is in the log");
            assertTrue(record.getMessage().contains("listener bug"), record.getMessage());
        }
    }

    @Test
    void aThrowingStatusListenerIsLoggedWithItsStackTrace() {
        Captured log = capture(SyncClient.class.getName());
        RuntimeException boom = new IllegalStateException("status listener bug");
        List<String> heard = new CopyOnWriteArrayList<>();
        try (Cairn cairn = Cairn.builder().inMemory().open();
             SyncClient sync = SyncClient.builder(cairn, URI.create("ws://127.0.0.1:9/sync"), () -> "token").build()) {
            sync.onStatus(status -> {
                throw boom;
            });
            sync.onStatus(status -> heard.add(status.state().name()));
            TestSupport.await("the other status listener told", () -> !heard.isEmpty());
            TestSupport.await("the failure logged", () -> log.records.stream().anyMatch(r -> r.getThrown() == boom));
        }
        LogRecord record = log.records.stream().filter(r -> r.getThrown() == boom).findFirst().orElseThrow();
        assertEquals(Level.WARNING, record.getLevel());
        assertTrue(record.getMessage().contains("status listener"), record.getMessage());
    }
}
