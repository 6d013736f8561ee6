package dev.cairn.engine.sync;

import dev.cairn.engine.sync.internal.SyncPorts;
import static dev.cairn.engine.sync.SyncTestSupport.await;
import static dev.cairn.engine.sync.SyncTestSupport.holds;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.Cairn;
import dev.cairn.engine.PersistentState;
import dev.cairn.engine.StateOptions;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.protocol.Frame;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class SyncClientTest {

    private static final URI SYNC_URI = URI.create("ws://fake.test/sync");
    private static final String USER = "alice";

    private final FakeServer server = new FakeServer();
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        Collections.reverse(closeables);
        for (AutoCloseable c : closeables) {
            c.close();
        }
        server.close();
    }

    // ------------------------------------------------------------------ handshake, pull, cursor

    @Test
    void helloCarriesReplicaIdAndCursor() throws Exception {
        server.commit(USER, changesFrom("tablet-9", "seed", 3));
        Cairn a = engine("phone-1");

        SyncClient first = started(client(a));
        first.syncNow().get(10, TimeUnit.SECONDS);
        assertEquals(3, a.cursor());
        Frame.Hello hello = server.received(Frame.Hello.class).get(0);
        assertEquals(new Frame.Hello(1, "phone-1", 0), hello);
        first.close();

        SyncClient second = started(client(a));
        second.syncNow().get(10, TimeUnit.SECONDS);
        List<Frame.Hello> hellos = server.received(Frame.Hello.class);
        assertEquals(new Frame.Hello(1, "phone-1", 3), hellos.get(hellos.size() - 1), "the second hello resumes from the cursor");
    }

    @Test
    void serverChangesAreAppliedAndTheCursorIsPersisted(@TempDir Path dir) throws Exception {
        server.pageSize = 2; // several catch-up pages
        server.commit(USER, changesFrom("tablet-9", "seed", 5));
        long head = server.head(USER);

        try (Cairn a = Cairn.builder().dataDir(dir).replicaId("phone-1").open();
             SyncClient sync = client(a).build()) {
            sync.start();
            sync.syncNow().get(10, TimeUnit.SECONDS);
            assertEquals(head, a.cursor());
            assertEquals(4, a.map("state").get("seed-4", Integer.class));

            // live: a change committed by another device arrives without asking
            server.commit(USER, changesFrom("tablet-9", "live", 1));
            await("live change applied", () -> a.map("state").contains("live-0"));
            long newHead = server.head(USER);
            await("cursor advanced to the new head", () -> a.cursor() == newHead);
            await("status shows the cursor", () -> sync.status().cursor() == a.cursor());
            head = a.cursor();
        }
        try (Cairn reopened = Cairn.builder().dataDir(dir).open()) {
            assertEquals(head, reopened.cursor(), "the cursor survives a restart");
            assertEquals(0, reopened.map("state").get("live-0", Integer.class));
        }
    }

    @Test
    void headBehindTheCursorResetsItAndCatchesUpFromZero() throws Exception {
        server.commit(USER, changesFrom("tablet-9", "before", 5));
        Cairn a = engine("phone-1");
        SyncClient first = started(client(a));
        first.syncNow().get(10, TimeUnit.SECONDS);
        assertEquals(5, a.cursor());
        first.close();

        server.reset(USER); // restored from an empty database
        server.commit(USER, changesFrom("tablet-9", "after", 2));
        SyncClient second = started(client(a));
        second.syncNow().get(10, TimeUnit.SECONDS);

        assertEquals(2, a.cursor(), "the cursor follows the new server's seqs");
        assertTrue(a.map("state").contains("after-1"));
    }

    @Test
    void statusGoesOfflineConnectingCatchingUpLive() throws Exception {
        server.commit(USER, changesFrom("tablet-9", "seed", 3));
        Cairn a = engine("phone-1");
        List<SyncStatus> seen = new CopyOnWriteArrayList<>();
        SyncClient sync = client(a).build();
        closeables.add(sync);
        sync.onStatus(seen::add);
        await("initial status delivered", () -> !seen.isEmpty());
        assertEquals(SyncState.OFFLINE, seen.get(0).state());

        sync.start();
        await("live", () -> sync.status().isLive());
        assertEquals(List.of(SyncState.OFFLINE, SyncState.CONNECTING, SyncState.CATCHING_UP, SyncState.LIVE), states(seen));
        for (SyncStatus s : seen) {
            if (s.state() != SyncState.LIVE) {
                assertNull(s.lastSyncedAt(), "lastSyncedAt is null until the first caught-up: " + s);
            }
        }
        assertNotNull(sync.status().lastSyncedAt());
        assertEquals(3, sync.status().cursor());

        int before = seen.size();
        server.disconnectAll();
        // a copy: a sublist of the live list fails if a status arrives while it is read
        await("live again after the server went away", () -> {
            List<SyncStatus> now = List.copyOf(seen);
            return states(now.subList(before, now.size()))
                    .equals(List.of(SyncState.OFFLINE, SyncState.CONNECTING, SyncState.CATCHING_UP, SyncState.LIVE));
        },
                () -> states(seen).toString());
    }

    // ------------------------------------------------------------------ push

    @Test
    void outboxIsPushedInBatchesNoLargerThanBatchSizeAndWindow() throws Exception {
        Cairn a = engine("phone-1");
        write(a, "k", 20);
        server.holdAcks = true;
        SyncClient sync = started(client(a).batchSize(3).maxInFlightBatches(2));

        await("two pushes", () -> server.received(Frame.Push.class).size() == 2);
        holds("no third push while two are unacknowledged", 50, () -> server.received(Frame.Push.class).size() == 2);
        assertEquals(20, a.pendingChanges(), "nothing leaves the outbox before its ack");

        server.holdAcks = false;
        server.releaseAcks();
        await("outbox drained", () -> a.pendingChanges() == 0, () -> a.stats().toString());

        List<Frame.Push> pushes = server.received(Frame.Push.class);
        assertTrue(pushes.stream().allMatch(p -> p.changes().size() <= 3), "batches of at most 3");
        assertTrue(server.maxOutstanding() <= 2, "at most 2 batches in flight, was " + server.maxOutstanding());
        List<Stamp> sent = pushes.stream().flatMap(p -> p.changes().stream()).map(Change::stamp).toList();
        assertEquals(20, sent.size(), "every change sent exactly once on one connection");
        assertEquals(20, new HashSet<>(sent).size());
        assertEquals(20, server.committed(USER).size());
        await("status shows nothing pending", () -> sync.status().pendingChanges() == 0);
    }

    @Test
    void batchesRespectTheServersMaxBatch() throws Exception {
        server.maxBatch = 2;
        Cairn a = engine("phone-1");
        write(a, "k", 9);
        SyncClient sync = started(client(a).batchSize(5));
        sync.syncNow().get(10, TimeUnit.SECONDS);
        List<Frame.Push> pushes = server.received(Frame.Push.class);
        assertTrue(pushes.stream().allMatch(p -> p.changes().size() <= 2), "welcome.maxBatch caps the batch");
        assertEquals(5, pushes.size());
        assertEquals(9, server.committed(USER).size());
    }

    @Test
    void onlyAcknowledgedChangesLeaveTheOutboxAndTheRestIsResentAfterReconnect() throws Exception {
        Cairn a = engine("phone-1");
        write(a, "k", 5);
        server.dropAcks = true;
        SyncClient sync = started(client(a).batchSize(2));

        await("all five pushed", () -> pushedChanges(server.received(Frame.Push.class)) == 5);
        server.call(() -> null); // a push is recorded before its ack is dropped: let the last one finish first
        assertEquals(5, SyncPorts.of(a).outbox(100).size(), "committed on the server but never acknowledged: still queued");
        assertEquals(5, a.pendingChanges());

        server.dropAcks = false;
        server.disconnectAll();
        await("outbox drained after reconnect", () -> a.pendingChanges() == 0);
        assertTrue(server.connectAttempts() >= 2);
        List<Frame.Push> resent = server.received(Frame.Push.class, 2);
        assertEquals(5, pushedChanges(resent), "everything unacknowledged went again on the new connection");
        assertEquals(5, server.committed(USER).size(), "re-sent changes are harmless");
        await("status shows nothing pending", () -> sync.status().pendingChanges() == 0);
    }

    @Test
    void anAckOfALaterBatchDoesNotResendAnEarlierOne() throws Exception {
        Cairn a = engine("phone-1");
        write(a, "k", 6);
        server.dropNextAcks.set(1); // the first push is never answered
        SyncClient sync = started(client(a).batchSize(2).maxInFlightBatches(4));
        CompletableFuture<Void> done = sync.syncNow();
        await("two of three batches acknowledged", () -> a.pendingChanges() == 2);
        holds("acks in any order: the unanswered batch is not re-sent on this socket", 100,
                () -> server.received(Frame.Push.class).size() == 3);
        assertFalse(done.isDone());
        server.disconnectAll(); // unacknowledged batches go again after a reconnect
        done.get(10, TimeUnit.SECONDS);
        assertEquals(0, a.pendingChanges());
        assertEquals(4, server.received(Frame.Push.class).size(), "three batches, the first one again on the new socket");
    }

    @Test
    void syncNowCompletesOnlyAfterTheAcks() throws Exception {
        Cairn a = engine("phone-1");
        SyncClient sync = started(client(a));
        await("live", () -> sync.status().isLive());

        server.holdAcks = true;
        a.map("state").put("x", 1); // not saved yet: syncNow saves it
        a.chat().append("c1", "user", "hello");
        CompletableFuture<Void> done = sync.syncNow();
        await("both pushed", () -> pushedChanges(server.received(Frame.Push.class)) == 2);
        assertFalse(done.isDone(), "acks are held, so the changes are not known to be on the server");

        server.holdAcks = false;
        server.releaseAcks();
        done.get(10, TimeUnit.SECONDS);
        assertEquals(0, a.pendingChanges());
        assertEquals(2, server.committed(USER).size());
    }

    @Test
    void syncNowStartsAndPullsWhatTheServerHas() throws Exception {
        server.commit(USER, changesFrom("tablet-9", "seed", 4));
        Cairn a = engine("phone-1");
        a.map("state").put("mine", true);
        SyncClient sync = client(a).build(); // never started
        closeables.add(sync);

        sync.syncNow().get(10, TimeUnit.SECONDS);
        assertTrue(a.map("state").contains("seed-3"), "has the server's changes");
        assertTrue(server.committed(USER).values().stream().anyMatch(c -> c.target().equals("mine")), "the server has mine");
        assertEquals(SyncState.LIVE, sync.status().state());
        // and once live with nothing queued, it completes at once
        sync.syncNow().get(10, TimeUnit.SECONDS);
    }

    @Test
    void twoEnginesConvergeThroughTheServerAfterEditingOffline() throws Exception {
        Cairn a = engine("phone-1");
        Cairn b = engine("laptop-1");
        // offline edits, including a conflict on state/shared
        a.map("state").put("shared", "from phone");
        a.cards().card("intro").toggle();
        a.chat().append("c1", "user", "from phone");
        b.map("state").put("shared", "from laptop");
        b.map("state").put("only-laptop", 1);
        b.chat().append("c1", "assistant", "from laptop");
        write(a, "pa", 30);
        write(b, "pb", 30);
        assertFalse(a.canonicalState().equals(b.canonicalState()));

        SyncClient sa = started(client(a).batchSize(7));
        SyncClient sb = started(client(b).batchSize(7));
        sa.syncNow().get(10, TimeUnit.SECONDS);
        sb.syncNow().get(10, TimeUnit.SECONDS);
        sa.syncNow().get(10, TimeUnit.SECONDS);
        await("converged", () -> a.canonicalState().equals(b.canonicalState()));
        assertEquals(2, a.chat().history("c1").size());

        // and while both are live
        b.map("state").put("later", "x");
        await("live edit reached the other engine", () -> a.map("state").contains("later"));
        await("converged again", () -> a.canonicalState().equals(b.canonicalState()));
    }

    @Test
    void aChangeTheServerRefusesIsDroppedAloneAndReported() throws Exception {
        server.rejectIf = c -> c.target().equals("bad");
        Cairn a = engine("phone-1");
        write(a, "good", 5);
        a.map("state").put("bad", 1);
        write(a, "more", 4);
        a.save().join();
        // Not started: syncNow starts it, so its waiter is in place before the first push is answered
        // (with start() first, the refusal could be handled before syncNow was called).
        SyncClient sync = client(a).build();
        closeables.add(sync);

        ExecutionException failed = assertThrows(ExecutionException.class, () -> sync.syncNow().get(10, TimeUnit.SECONDS));
        assertInstanceOf(SyncException.class, failed.getCause());
        assertTrue(failed.getCause().getMessage().contains("state/bad"), failed.getCause().getMessage());

        await("outbox not blocked", () -> a.pendingChanges() == 0);
        String error = sync.status().lastError();
        assertNotNull(error);
        assertTrue(error.contains("state/bad") && error.contains("refused by the test"), error);
        Set<String> onServer = server.committed(USER).values().stream().map(Change::target).collect(Collectors.toSet());
        assertEquals(9, onServer.size(), "every valid change in the refused batch still went through: " + onServer);
        assertFalse(onServer.contains("bad"));
        // later changes flow normally
        a.map("state").put("after", 1);
        sync.syncNow().get(10, TimeUnit.SECONDS);
        assertTrue(server.committed(USER).values().stream().anyMatch(c -> c.target().equals("after")));
    }

    @Test
    void aBatchTooLargeIsSplitNotDropped() throws Exception {
        server.maxBatch = 10;
        server.enforcedMaxBatch = 3; // announces 10, refuses more than 3
        Cairn a = engine("phone-1");
        write(a, "k", 10);
        SyncClient sync = started(client(a));
        sync.syncNow().get(10, TimeUnit.SECONDS);
        assertEquals(10, server.committed(USER).size());
        assertEquals(0, a.pendingChanges());
    }

    @Test
    void pushFramesStayUnderTheServersMaxFrameBytes() throws Exception {
        server.maxFrameBytes = 256 * 1024;
        Cairn a = engine("phone-1");
        String tenKb = "x".repeat(10 * 1024);
        for (int i = 0; i < 300; i++) {
            a.map("state").put("big-" + i, tenKb + i);
        }
        a.save().join();
        SyncClient sync = started(client(a));

        sync.syncNow().get(20, TimeUnit.SECONDS);
        assertEquals(0, a.pendingChanges());
        assertEquals(300, server.committed(USER).size());
        assertEquals(0, server.tooBigCloses(), "no frame over the limit");
        assertEquals(1, server.connectAttempts());
        assertTrue(server.largestFrameBytes() <= 256 * 1024 * 9 / 10, "frames keep headroom, largest was " + server.largestFrameBytes());
        List<Frame.Push> pushes = server.received(Frame.Push.class);
        assertTrue(pushes.size() >= 12, "3 MB in frames of at most 230 KB takes several batches, was " + pushes.size());
        assertEquals(300, pushedChanges(pushes), "every change sent once");
        assertNull(sync.status().lastError());
    }

    @Test
    void aChangeTooBigForAnyFrameIsDroppedAndTheRestSyncs() throws Exception {
        server.maxFrameBytes = 64 * 1024;
        Cairn a = engine("phone-1");
        write(a, "before", 5);
        a.map("state").put("huge", "y".repeat(100 * 1024));
        write(a, "after", 5);
        SyncClient sync = started(client(a));

        try {
            sync.syncNow().get(10, TimeUnit.SECONDS); // may complete: the change can be dropped before syncNow looks
        } catch (ExecutionException failed) {
            assertInstanceOf(SyncException.class, failed.getCause());
            assertTrue(failed.getCause().getMessage().contains("state/huge"), failed.getCause().getMessage());
        }
        await("outbox drained", () -> a.pendingChanges() == 0);
        String error = sync.status().lastError();
        assertNotNull(error);
        assertTrue(error.contains("state/huge") && error.contains("limit"), error);
        Set<String> onServer = server.committed(USER).values().stream().map(Change::target).collect(Collectors.toSet());
        assertEquals(10, onServer.size(), onServer.toString());
        assertFalse(onServer.contains("huge"));
        assertEquals(0, server.tooBigCloses(), "the oversized change was never sent");
        assertTrue(server.received().stream().noneMatch(r -> r.text().contains("\"huge\"")), "never sent");
        assertEquals(1, server.connectAttempts());
        assertTrue(a.map("state").contains("huge"), "still there locally");
    }

    @Test
    void clockSkewKeepsTheChangesAndSendsThemAgainLater() throws Exception {
        server.skewIf = c -> c.target().startsWith("ahead");
        Cairn a = engine("phone-1");
        write(a, "ahead", 2);
        write(a, "ok", 4);
        SyncClient sync = started(client(a).batchSize(2).clockSkewRetry(Duration.ofMillis(30), Duration.ofMillis(100)));

        await("the other batches went through", () -> server.committed(USER).size() == 4);
        await("reported", () -> sync.status().lastError() != null && sync.status().lastError().contains("clock is ahead"),
                () -> String.valueOf(sync.status().lastError()));
        await("retried while refused", () -> server.received(Frame.Push.class).stream()
                .filter(p -> p.changes().get(0).target().startsWith("ahead")).count() >= 3);
        assertEquals(2, a.pendingChanges(), "refused for skew, but kept");
        assertTrue(SyncPorts.of(a).outbox(10).values().stream().allMatch(c -> c.target().startsWith("ahead")));

        server.skewIf = c -> false; // the server's clock caught up
        sync.syncNow().get(10, TimeUnit.SECONDS);
        assertEquals(0, a.pendingChanges());
        assertEquals(6, server.committed(USER).size());
        assertEquals(1, server.connectAttempts(), "the connection stays open");
    }

    @Test
    void quotaExceededKeepsTheChangesPendingAndRetriesWithGrowingDelay() throws Exception {
        server.quotaIf = c -> c.target().startsWith("big");
        Cairn a = engine("phone-1");
        write(a, "big", 2);
        write(a, "ok", 4);
        SyncClient sync = started(client(a).batchSize(2).quotaRetry(Duration.ofMillis(30), Duration.ofMillis(200)));

        await("the other batches went through", () -> server.committed(USER).size() == 4);
        await("reported", () -> sync.status().lastError() != null && sync.status().lastError().contains("storage quota exceeded")
                        && sync.status().lastError().contains("the quota is 1000 bytes") && sync.status().lastError().contains("stay pending"),
                () -> String.valueOf(sync.status().lastError()));
        await("retried while refused", () -> server.received(Frame.Push.class).stream()
                .filter(p -> p.changes().get(0).target().startsWith("big")).count() >= 3);
        assertEquals(2, a.pendingChanges(), "refused for the quota, but kept");
        assertTrue(SyncPorts.of(a).outbox(10).values().stream().allMatch(c -> c.target().startsWith("big")));
        // a syncNow covering them fails with the reason instead of waiting for space
        java.util.concurrent.ExecutionException refused = org.junit.jupiter.api.Assertions.assertThrows(
                java.util.concurrent.ExecutionException.class, () -> sync.syncNow().get(10, TimeUnit.SECONDS));
        assertTrue(refused.getCause().getMessage().contains("storage quota exceeded"), refused.getCause().getMessage());
        assertEquals(2, a.pendingChanges());

        server.quotaIf = c -> false; // space was freed
        sync.syncNow().get(10, TimeUnit.SECONDS);
        assertEquals(0, a.pendingChanges());
        assertEquals(6, server.committed(USER).size());
        assertEquals(1, server.connectAttempts(), "the connection stays open");
    }

    @Test
    void aFrameTooBigCloseDoesNotCauseATightReconnectLoop() throws Exception {
        server.maxFrameBytes = 64 * 1024;
        server.enforcedMaxFrameBytes = 8 * 1024; // a buggy server: closes with 1009 below what it announced
        Cairn a = engine("phone-1");
        a.map("state").put("big", "z".repeat(20 * 1024));
        a.save().join();
        SyncClient sync = started(client(a, new SyncTestSupport.RecordingRandom(true), Duration.ofMillis(5), Duration.ofSeconds(2)));

        await("closed with 1009", () -> server.tooBigCloses() >= 1);
        SyncTestSupport.pause(1500);
        int connects = server.connectAttempts();
        assertTrue(connects <= 12, "the backoff grows across 1009 closes, but " + connects + " connects in 1.5 s");
        assertTrue(connects >= 3, "and it keeps retrying, " + connects);
        String error = sync.status().lastError();
        assertTrue(error == null || error.contains("1009"), error);
        assertEquals(1, a.pendingChanges(), "kept: it is within the announced limit");
    }

    @Test
    void afterA1009CloseBatchesAreKeptSmaller() throws Exception {
        server.maxFrameBytes = 256 * 1024;
        server.enforcedMaxFrameBytes = 100 * 1024; // a buggy server
        Cairn a = engine("phone-1");
        String tenKb = "x".repeat(10 * 1024);
        for (int i = 0; i < 30; i++) {
            a.map("state").put("big-" + i, tenKb + i);
        }
        a.save().join();
        SyncClient sync = started(client(a));

        sync.syncNow().get(10, TimeUnit.SECONDS);
        assertEquals(30, server.committed(USER).size());
        assertTrue(server.tooBigCloses() >= 1 && server.tooBigCloses() <= 3, "closes: " + server.tooBigCloses());
    }

    @Test
    void unavailableBatchesAreSentAgainAfterADelay() throws Exception {
        server.unavailableNext.set(3);
        Cairn a = engine("phone-1");
        write(a, "k", 4);
        List<String> errors = new CopyOnWriteArrayList<>();
        SyncClient sync = client(a).build();
        closeables.add(sync);
        sync.onStatus(s -> {
            if (s.lastError() != null) {
                errors.add(s.lastError());
            }
        });
        sync.start();
        sync.syncNow().get(10, TimeUnit.SECONDS);
        assertEquals(4, server.committed(USER).size());
        assertEquals(1, server.connectAttempts(), "the connection stays open");
        assertTrue(errors.stream().anyMatch(e -> e.contains("unavailable")), errors.toString());
    }

    @Test
    void localOnlyKeysAreNeverSent() throws Exception {
        Cairn a = engine("phone-1");
        PersistentState<String> secret = a.state("secret-token", String.class, "", StateOptions.<String>defaults().sync(false));
        secret.set("hunter2");
        a.map("state").put("visible", "yes");
        SyncClient sync = started(client(a));
        sync.syncNow().get(10, TimeUnit.SECONDS);

        secret.set("hunter3"); // while live, too
        a.map("state").put("visible-2", "yes");
        sync.syncNow().get(10, TimeUnit.SECONDS);

        for (FakeServer.Received r : server.received()) {
            assertFalse(r.text().contains("secret-token") || r.text().contains("hunter"), "leaked: " + r.text());
        }
        Set<String> onServer = server.committed(USER).values().stream().map(Change::target).collect(Collectors.toSet());
        assertEquals(Set.of("visible", "visible-2"), onServer);
        assertEquals("hunter3", secret.value());
    }

    // ------------------------------------------------------------------ reconnects, errors, keepalive

    @Test
    void anOutageIsLoggedOnceNotOncePerRetry() throws Exception {
        server.refuseConnections = true;
        Cairn a = engine("phone-1");
        SyncClient sync = started(client(a)); // backoff 1 .. 20 ms
        await("several retries", () -> server.connectAttempts() >= 5);
        assertEquals(1, outagesLogged(sync));

        server.refuseConnections = false;
        await("live", () -> sync.status().isLive());
        server.disconnectAll();
        await("live again", () -> server.connectAttempts() >= 7 && sync.status().isLive());
        assertEquals(2, outagesLogged(sync), "a new outage after a welcome is logged again");
    }

    private static int outagesLogged(SyncClient sync) {
        int[] n = new int[1];
        sync.loop.run(() -> n[0] = sync.connection.outagesLogged);
        return n[0];
    }

    @Test
    void backoffDelaysGrowAndAreJitteredWithinBounds() throws Exception {
        server.refuseConnections = true;
        SyncTestSupport.RecordingRandom random = new SyncTestSupport.RecordingRandom(false);
        Cairn a = engine("phone-1");
        SyncClient sync = started(client(a, random, Duration.ofMillis(1), Duration.ofMillis(8)));

        await("six reconnect delays", () -> random.bounds.size() >= 6);
        // delay n is drawn from [0, min(max, min * 2^n)], asked as nextLong(ceiling + 1)
        assertEquals(List.of(2L, 3L, 5L, 9L, 9L, 9L), List.copyOf(random.bounds).subList(0, 6)); // a copy: reconnects go on
        assertTrue(sync.status().lastError().contains("refuses connections"), sync.status().lastError());

        server.refuseConnections = false;
        await("live", () -> sync.status().isLive());
        int before = random.bounds.size();
        server.disconnectAll();
        await("a reconnect delay after the welcome", () -> random.bounds.size() > before);
        assertEquals(2L, random.bounds.get(before), "the welcome reset the backoff");
    }

    @Test
    void aRefusedTokenIsRetriedOnceWithAFreshTokenThenPermanent() throws Exception {
        AtomicReference<String> token = new AtomicReference<>("bad");
        Cairn a = engine("phone-1");
        SyncClient sync = SyncClient.builder(a, SYNC_URI, token::get).transport(server)
                .backoff(Duration.ofMillis(1), Duration.ofMillis(10)).build();
        closeables.add(sync);
        sync.start();
        await("401 reported", () -> sync.status().lastError() != null && sync.status().lastError().contains("401"));
        // a second 401 in a row (the supplier gave a fresh token) is permanent: no retry loop
        await("permanent", () -> server.connectAttempts() == 2 && sync.status().state() == SyncState.OFFLINE);
        assertEquals("unauthorized", sync.status().lastErrorCode());
        holds("no reconnect", 100, () -> server.connectAttempts() == 2);
        token.set(USER);
        sync.syncNow().get(10, TimeUnit.SECONDS); // tries once more
        await("live with the new token", () -> sync.status().isLive());
        assertNull(sync.status().lastError(), "a welcome clears the last error");
    }

    @Test
    void goOfflineStopsReconnectingUntilGoOnline() throws Exception {
        Cairn a = engine("phone-1");
        SyncClient sync = started(client(a));
        await("live", () -> sync.status().isLive());

        sync.goOffline();
        assertEquals(SyncState.OFFLINE, sync.status().state());
        await("socket closed", () -> server.openConnections() == 0);
        int attempts = server.connectAttempts();
        write(a, "offline", 2);
        await("pending shows offline edits", () -> sync.status().pendingChanges() == 2);
        ExecutionException refused = assertThrows(ExecutionException.class, () -> sync.syncNow().get(10, TimeUnit.SECONDS));
        assertInstanceOf(SyncException.class, refused.getCause());
        holds("no reconnect while switched off", 100, () -> server.connectAttempts() == attempts);
        assertEquals(SyncState.OFFLINE, sync.status().state());

        sync.goOnline();
        sync.syncNow().get(10, TimeUnit.SECONDS);
        assertEquals(2, server.committed(USER).size());
        assertEquals(0, sync.status().pendingChanges());
    }

    @Test
    void protocolVersionErrorWaitsTheLongestBackoff() throws Exception {
        server.refuseProtocol = true;
        Cairn a = engine("phone-1");
        SyncClient sync = started(client(a, new Random(1), Duration.ofMillis(1), Duration.ofSeconds(20)));
        await("reported", () -> sync.status().lastError() != null && sync.status().lastError().contains("protocol"));
        assertEquals(SyncState.OFFLINE, sync.status().state());
        holds("no tight reconnect loop", 150, () -> server.connectAttempts() == 1);
    }

    @Test
    void aServerStampFarAheadOfThisDevicesClockIsApplied() throws Exception {
        // The server is the authority on stamps: a device whose clock lags must not stall on them.
        Stamp future = new Stamp(Stamp.pack(System.currentTimeMillis() + Duration.ofHours(1).toMillis(), 0), "fast-clock");
        List<Change> seed = new ArrayList<>(changesFrom("tablet-9", "ok", 2));
        seed.add(new Change.Put("state", "future", "1", future));
        server.commit(USER, seed);
        Cairn a = engine("phone-1");
        SyncClient sync = started(client(a));

        sync.syncNow().get(10, TimeUnit.SECONDS);
        assertEquals(server.head(USER), a.cursor());
        assertTrue(a.map("state").contains("future"));
        assertTrue(a.map("state").contains("ok-1"));
        assertNull(sync.status().lastError());
        assertEquals(1, server.connectAttempts());
        a.map("state").put("after", 1); // the local clock moved past the remote stamp
        sync.syncNow().get(10, TimeUnit.SECONDS);
        assertEquals(1, a.map("state").get("after", Integer.class));
    }

    @Test
    void aPageThatCannotBeAppliedKeepsTheCursorButPushesAndAcksGoOn() throws Exception {
        server.commit(USER, changesFrom("tablet-9", "poison", 1));
        Cairn a = engine("phone-1");
        AtomicBoolean failing = new AtomicBoolean(true);
        List<String> errors = new CopyOnWriteArrayList<>();
        SyncClient sync = client(a, new SyncTestSupport.RecordingRandom(true), Duration.ofMillis(50), Duration.ofMillis(200))
                .applyWith((changes, cursor) -> {
                    if (failing.get() && changes.stream().anyMatch(c -> c.target().startsWith("poison"))) {
                        throw new IllegalStateException("the local store failed (test)");
                    }
                    return SyncPorts.of(a).applyRemote(changes, cursor);
                }).build();
        closeables.add(sync);
        sync.onStatus(st -> {
            if (st.lastError() != null) {
                errors.add(st.lastError());
            }
        });
        sync.start();
        write(a, "mine", 3);

        await("local changes pushed and acknowledged while pages cannot be applied", () -> a.pendingChanges() == 0);
        assertEquals(3, server.committed(USER).values().stream().filter(c -> c.target().startsWith("mine")).count());
        assertEquals(0, a.cursor(), "the cursor did not move past the page it could not apply");
        assertFalse(a.map("state").contains("poison-0"));
        await("reported", () -> errors.stream().anyMatch(e -> e.contains("could not apply")), errors::toString);
        assertFalse(sync.status().isLive(), "not live while the server's changes cannot be applied");

        failing.set(false); // the store recovers
        await("live after pulling again", () -> sync.status().isLive());
        sync.syncNow().get(10, TimeUnit.SECONDS);
        assertEquals(server.head(USER), a.cursor());
        assertTrue(a.map("state").contains("poison-0"));
    }

    @Test
    void aFrameTheClientCannotReadEndsTheSessionWithoutMovingTheCursor() throws Exception {
        server.commit(USER, changesFrom("tablet-9", "seed", 2));
        Cairn a = engine("phone-1");
        SyncClient sync = started(client(a));
        await("live", () -> sync.status().isLive());
        server.sendToAll("{\"type\":\"changes\",\"changes\":[{\"seq\":99,\"change\":{\"op\":\"bogus\"}}],\"cursor\":99}");
        await("reconnected", () -> server.connectAttempts() >= 2 && sync.status().isLive());
        assertEquals(2, a.cursor());
    }

    @Test
    void pingsAreAnsweredAndSilenceIsProbed() throws Exception {
        Cairn a = engine("phone-1");
        List<String> errors = new CopyOnWriteArrayList<>();
        SyncClient sync = client(a).keepAlive(Duration.ofMillis(40)).build();
        closeables.add(sync);
        sync.onStatus(s -> {
            if (s.lastError() != null) {
                errors.add(s.lastError());
            }
        });
        sync.start();
        await("live", () -> sync.status().isLive());

        server.sendToAll(new Frame.Ping());
        await("pong", () -> !server.received(Frame.Pong.class).isEmpty());
        await("keepalive ping after silence", () -> !server.received(Frame.Ping.class).isEmpty());
        assertEquals(1, server.connectAttempts(), "answered pings keep the connection");

        server.answerPings = false;
        await("unanswered ping drops the connection", () -> errors.stream().anyMatch(e -> e.contains("ping")));
        await("reconnected", () -> server.connectAttempts() >= 2);
    }

    @Test
    void closeIsIdempotentAndStopsEverything() throws Exception {
        Cairn a = engine("phone-1");
        SyncClient sync = started(client(a));
        await("live", () -> sync.status().isLive());
        sync.close();
        sync.close();
        assertEquals(SyncState.OFFLINE, sync.status().state());
        await("socket closed", () -> server.openConnections() == 0);
        assertThrows(IllegalStateException.class, sync::start);
        ExecutionException e = assertThrows(ExecutionException.class, () -> sync.syncNow().get(1, TimeUnit.SECONDS));
        assertInstanceOf(SyncException.class, e.getCause());
        a.map("state").put("after-close", 1);
        a.save().join(); // the engine goes on without the client
    }

    // ------------------------------------------------------------------ builder

    @Test
    void builderRejectsBadAndRepeatedSettingsNamingThem() {
        Cairn a = engine("phone-1");
        SyncClient.Builder b = SyncClient.builder(a, SYNC_URI, () -> USER);
        assertMessage(IllegalArgumentException.class, "batchSize must be at least 1, was 0", () -> b.batchSize(0));
        assertMessage(IllegalArgumentException.class, "maxInFlightBatches must be at least 1, was -1", () -> b.maxInFlightBatches(-1));
        assertMessage(IllegalArgumentException.class, "backoff max (PT0.005S) must not be less than backoff min (PT0.01S)",
                () -> b.backoff(Duration.ofMillis(10), Duration.ofMillis(5)));
        assertMessage(IllegalArgumentException.class, "backoff min must be at least 1 ms", () -> b.backoff(Duration.ZERO, Duration.ofMillis(5)));
        assertMessage(IllegalArgumentException.class, "keepAlive must be at least 1 ms", () -> b.keepAlive(Duration.ZERO));
        b.batchSize(5);
        assertMessage(IllegalStateException.class, "batchSize was already set to 5", () -> b.batchSize(6));
        assertMessage(IllegalArgumentException.class, "ws:// or wss://",
                () -> SyncClient.builder(a, URI.create("http://host/sync"), () -> USER));
        assertThrows(NullPointerException.class, () -> SyncClient.builder(null, SYNC_URI, () -> USER));
        assertThrows(NullPointerException.class, () -> SyncClient.builder(a, SYNC_URI, null));
    }

    // ------------------------------------------------------------------ helpers

    private static void assertMessage(Class<? extends Throwable> type, String fragment, org.junit.jupiter.api.function.Executable action) {
        Throwable t = assertThrows(type, action);
        assertTrue(t.getMessage().contains(fragment), "message '" + t.getMessage() + "' lacks '" + fragment + "'");
    }

    private Cairn engine(String replica) {
        Cairn c = Cairn.builder().inMemory().replicaId(replica).open();
        closeables.add(c);
        return c;
    }

    private SyncClient.Builder client(Cairn cairn) {
        return client(cairn, new SyncTestSupport.RecordingRandom(false), Duration.ofMillis(1), Duration.ofMillis(20));
    }

    private SyncClient.Builder client(Cairn cairn, Random random, Duration min, Duration max) {
        return SyncClient.builder(cairn, SYNC_URI, () -> USER).transport(server).backoff(min, max).random(random);
    }

    private SyncClient started(SyncClient.Builder builder) {
        SyncClient sync = builder.build();
        closeables.add(sync);
        sync.start();
        return sync;
    }

    /** {@code n} writes to the state section, committed to the outbox. */
    private static void write(Cairn cairn, String prefix, int n) {
        for (int i = 0; i < n; i++) {
            cairn.map("state").put(prefix + "-" + i, i);
        }
        cairn.save().join();
    }

    /** Changes another replica made, as the server would get them. */
    private static List<Change> changesFrom(String replica, String prefix, int n) {
        try (Cairn other = Cairn.builder().inMemory().replicaId(replica).open()) {
            write(other, prefix, n);
            return new ArrayList<>(SyncPorts.of(other).outbox(Integer.MAX_VALUE).values());
        }
    }

    private static int pushedChanges(List<Frame.Push> pushes) {
        return pushes.stream().mapToInt(p -> p.changes().size()).sum();
    }

    /** The states seen, without consecutive repeats. */
    private static List<SyncState> states(List<SyncStatus> statuses) {
        List<SyncState> out = new ArrayList<>();
        for (SyncStatus s : statuses) {
            if (out.isEmpty() || out.get(out.size() - 1) != s.state()) {
                out.add(s.state());
            }
        }
        return out;
    }
}
