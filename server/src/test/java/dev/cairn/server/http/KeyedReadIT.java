package dev.cairn.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.server.TestServer;
import dev.cairn.server.store.ServerStore;
import dev.cairn.server.store.TestDatabase;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The original spec's GET and POST routes read only the rows they answer: a user with 100,000
 * card entries and three preferences costs a preferences read three rows, counted at the store
 * port, on both stores. The time of a GET is logged next to the full fold it replaced (BENCHMARKS.md).
 */
class KeyedReadIT {

    private static final int BIG = 100_000;
    private static Vertx admin;
    private static TestDatabase database;

    @BeforeAll
    static void createDatabase() {
        admin = Vertx.vertx();
        database = TestDatabase.create(admin);
    }

    @AfterAll
    static void dropDatabase() {
        try {
            database.close();
        } finally {
            TestServer.await(admin.close());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"embedded", "postgres"})
    void oneSectionCostsItsOwnRows(String kind) {
        Counting counting = new Counting();
        TestServer.Builder builder = kind.equals("embedded") ? TestServer.embedded() : TestServer.postgres(database.url());
        try (TestServer server = builder.decorateStore(s -> counting.wrap(s)).start()) {
            String user = "big-" + kind;
            ServerStore store = server.store();
            for (int from = 0; from < BIG; from += 5_000) {
                List<Change> batch = new ArrayList<>();
                for (int i = from; i < from + 5_000; i++) {
                    batch.add(new Change.Put("cards", "card-" + i + "/isExpanded", "true", new Stamp(1_000 + i, "dev")));
                }
                TestServer.await(store.commit(List.of(new ServerStore.UserBatch(user, batch))));
            }
            String token = server.token(user);
            assertEquals(200, server.post("/api/preferences", token, "{\"theme\":\"dark\",\"lang\":\"en\",\"size\":3}").status());
            assertEquals(200, server.post("/api/progress/onboarding", token, "{\"stepId\":\"welcome\",\"completed\":true}").status());

            counting.reset();
            long started = System.nanoTime();
            TestServer.Response prefs = server.get("/api/preferences", token);
            long getMicros = (System.nanoTime() - started) / 1_000;
            assertEquals(200, prefs.status());
            assertEquals("{\"lang\":\"en\",\"size\":3,\"theme\":\"dark\"}", prefs.json().toString());
            assertEquals(0, counting.changesRead.get(), "no fold of the user's state");
            assertEquals(3, counting.entriesRead.get(), "the three preferences, nothing else");

            counting.reset();
            TestServer.Response onboarding = server.get("/api/progress/onboarding", token);
            assertEquals("[\"welcome\"]", onboarding.json().get("completedSteps").toString());
            assertEquals(0, counting.changesRead.get());
            assertEquals(1, counting.entriesRead.get(), "the onboarding keys only");

            counting.reset();
            assertEquals(200, server.post("/api/preferences", token, "{\"theme\":\"light\"}").status());
            assertEquals(0, counting.changesRead.get(), "a write answers from the keys it shows too");
            assertEquals(3, counting.entriesRead.get());

            // what the GET did before: fold the user's whole state from the store
            counting.reset();
            started = System.nanoTime();
            long cursor = 0;
            while (true) {
                ServerStore.Page page = TestServer.await(store.readSince(user, cursor, 5000));
                cursor = page.cursor();
                if (!page.more()) {
                    break;
                }
            }
            long foldMicros = (System.nanoTime() - started) / 1_000;
            assertTrue(counting.changesRead.get() > BIG, "the fold reads every entry");
            System.out.printf("KeyedReadIT %s: GET /api/preferences of a user with %,d entries: %,d µs, %d store rows;"
                    + " folding the user's state (the read it replaced): %,d µs, %,d rows%n",
                    kind, BIG + 4, getMicros, 3, foldMicros, counting.changesRead.get());
        }
    }

    /** Counts what the server reads through the store port. */
    static final class Counting {
        final AtomicLong changesRead = new AtomicLong();
        final AtomicLong entriesRead = new AtomicLong();
        /** Store reads, and the most rows one of them returned. */
        final AtomicLong reads = new AtomicLong();
        final AtomicLong largestRead = new AtomicLong();

        void reset() {
            changesRead.set(0);
            entriesRead.set(0);
            reads.set(0);
            largestRead.set(0);
        }

        private void read(AtomicLong rows, int n) {
            rows.addAndGet(n);
            reads.incrementAndGet();
            largestRead.accumulateAndGet(n, Math::max);
        }

        @SuppressWarnings("unchecked")
        ServerStore wrap(ServerStore store) {
            return (ServerStore) java.lang.reflect.Proxy.newProxyInstance(ServerStore.class.getClassLoader(), new Class<?>[] {ServerStore.class},
                    (proxy, method, args) -> {
                        Object out;
                        try {
                            out = method.invoke(store, args);
                        } catch (java.lang.reflect.InvocationTargetException e) {
                            throw e.getCause();
                        }
                        if (method.getName().equals("readSince")) {
                            return ((Future<ServerStore.Page>) out).onSuccess(p -> read(changesRead, p.changes().size()));
                        }
                        if (method.getName().equals("readMap")) {
                            return ((Future<ServerStore.MapPage>) out).onSuccess(p -> read(entriesRead, p.entries().size()));
                        }
                        return out;
                    });
        }
    }
}
