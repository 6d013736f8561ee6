package dev.cairn.server.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.ChatMessage;
import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.engine.sync.SyncState;
import dev.cairn.server.TestServer;
import dev.cairn.server.store.TestDatabase;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Restarting the server in the middle of a sync loses nothing that was acknowledged (PROTOCOL.md
 * 4.1) and nothing that was not (the client keeps unacknowledged changes in its outbox and sends
 * them again after it reconnects by itself, 3.3).
 *
 * <p>Device A writes {@value #KEYS} distinct keys (and a chat message every tenth) from a
 * background thread while the test stops the server a quarter of the way in and restarts it on
 * the same port, with the same data, after three quarters. A change the server acknowledged is
 * gone from A's outbox and will never be sent again, so if the server lost one it would be missing
 * at the end.
 */
class ServerRestartIT {

    enum Store { EMBEDDED, POSTGRES }

    private static final int KEYS = 1_000;
    private static final int CHAT_EVERY = 10;

    @ParameterizedTest
    @EnumSource(Store.class)
    void restartMidSyncLosesNothing(Store store, @TempDir Path dir) throws Exception {
        Vertx admin = null;
        TestDatabase db = null;
        TestServer server = null;
        List<Device> devices = new ArrayList<>();
        try {
            if (store == Store.POSTGRES) {
                admin = Vertx.vertx();
                db = TestDatabase.create(admin);
                server = TestServer.postgres(db.url()).sections(Device.SERVER_SECTIONS).start();
            } else {
                server = TestServer.embedded().sections(Device.SERVER_SECTIONS).start();
            }
            String user = "restart-" + store.name().toLowerCase();
            String token = server.token(user);
            long now = System.currentTimeMillis();
            Device a = Device.open("dev-a", dir.resolve("a"), server.syncUri(), token, now);
            devices.add(a);
            List<SyncState> states = new CopyOnWriteArrayList<>();
            a.sync.onStatus(s -> {
                if (states.isEmpty() || states.get(states.size() - 1) != s.state()) {
                    states.add(s.state());
                }
            });
            a.startLive();

            AtomicInteger written = new AtomicInteger();
            AtomicReference<Throwable> writerFailed = new AtomicReference<>();
            Thread writer = new Thread(() -> {
                try {
                    for (int i = 0; i < KEYS; i++) {
                        a.cairn.map("state").put("k-" + i, i);
                        if (i % CHAT_EVERY == 0) {
                            a.cairn.chat().append("conv-restart", "user", "m-" + i);
                        }
                        written.incrementAndGet();
                        Thread.sleep(1); // pacing only, so the restart falls in the middle of the writes
                    }
                } catch (Throwable t) {
                    writerFailed.set(t);
                }
            }, "restart-writer");
            writer.start();

            Poll.until("a quarter of the writes", () -> written.get() >= KEYS / 4 || writerFailed.get() != null, () -> "written " + written);
            server.stop();
            int atStop = written.get();
            Poll.until("three quarters of the writes", () -> written.get() >= KEYS * 3 / 4 || writerFailed.get() != null, () -> "written " + written);
            server.restart();
            int atRestart = written.get();
            writer.join(Duration.ofSeconds(30).toMillis());
            assertFalse(writer.isAlive(), "the writer did not finish");
            if (writerFailed.get() != null) {
                throw new AssertionError("the writer failed", writerFailed.get());
            }
            assertTrue(atStop < KEYS && atRestart > atStop, "the server must be stopped and restarted while A writes: stopped at " + atStop
                    + ", restarted at " + atRestart);

            // The client reconnects by itself (backoff) and drains its outbox without being asked.
            Poll.until("A to reconnect by itself and push everything", Duration.ofSeconds(20),
                    () -> a.sync.status().isLive() && a.cairn.pendingChanges() == 0, a::describe);
            int live = states.indexOf(SyncState.LIVE);
            assertTrue(live >= 0 && states.subList(live, states.size()).contains(SyncState.OFFLINE),
                    "A should have lost the connection during the restart: " + states);
            a.syncNow();

            ReplicaState onServer = server.state(user);
            List<String> missing = new ArrayList<>();
            for (int i = 0; i < KEYS; i++) {
                String value = onServer.map("state").value("k-" + i);
                if (!Integer.toString(i).equals(value)) {
                    missing.add("k-" + i + "=" + value);
                }
            }
            assertEquals(List.of(), missing, "keys A wrote that the server does not have (stopped at " + atStop + ", restarted at " + atRestart + ")");
            assertEquals(KEYS / CHAT_EVERY, onServer.log("chat").size("conv-restart"), "chat messages on the server");
            assertEquals(a.canonical(), server.canonical(user));

            // A device that connects afterwards gets all of it, once.
            Device b = Device.open("dev-b", dir.resolve("b"), server.syncUri(), server.token(user), System.currentTimeMillis());
            devices.add(b);
            b.syncNow();
            Poll.until("B to catch up", () -> b.canonical().equals(a.canonical()), b::describe);
            assertEquals(KEYS, b.cairn.map("state").size());
            List<ChatMessage> chat = b.cairn.chat().history("conv-restart");
            Set<String> texts = new HashSet<>();
            for (ChatMessage m : chat) {
                assertTrue(texts.add(m.text()), "duplicate chat message " + m.text());
            }
            assertEquals(KEYS / CHAT_EVERY, chat.size());
            assertEquals(server.head(user), b.cairn.cursor());
        } finally {
            for (int i = devices.size() - 1; i >= 0; i--) {
                devices.get(i).close();
            }
            try {
                if (server != null) {
                    server.close();
                }
            } finally {
                try {
                    if (db != null) {
                        db.close();
                    }
                } finally {
                    if (admin != null) {
                        TestServer.await(admin.close());
                    }
                }
            }
        }
    }
}
