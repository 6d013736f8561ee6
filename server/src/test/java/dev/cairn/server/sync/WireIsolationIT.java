package dev.cairn.server.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.ChangeEvent;
import dev.cairn.engine.sync.SyncState;
import dev.cairn.server.TestServer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Isolation (PROTOCOL.md 4.4) with real sync clients, which {@code IsolationIT} (raw sockets)
 * does not use: while two devices of user A and one device of user B are live on the same node,
 * B's client never receives any of A's changes and A's clients never receive B's. B's user id
 * extends A's and B's device uses the same replica id as one of A's, so neither a prefix match on
 * the user nor the replica id could route a change to the wrong socket.
 */
class WireIsolationIT {

    private static final String A = "alice";
    private static final String B = "alice.b";

    @Test
    void liveClientsOfAnotherUserReceiveNothing(@TempDir Path dir) {
        List<Device> devices = new ArrayList<>();
        try (TestServer server = TestServer.embedded().sections(Device.SERVER_SECTIONS).start()) {
            long now = System.currentTimeMillis();
            Device a1 = open(devices, "phone", dir.resolve("a1"), server, A, now);
            Device a2 = open(devices, "laptop", dir.resolve("a2"), server, A, now);
            Device b = open(devices, "phone", dir.resolve("b"), server, B, now);
            List<SyncState> bStates = new CopyOnWriteArrayList<>();
            b.sync.onStatus(s -> bStates.add(s.state()));
            a1.startLive();
            a2.startLive();
            b.startLive();

            String secretA = "A-SECRET-wire";
            a1.cairn.state("title", String.class, "").set(secretA + "-title");
            a1.cairn.cards().card("intro").expand();
            a1.cairn.chat().append("conv-1", "user", secretA + "-chat");
            a1.cairn.chat().append("conv-2", "user", secretA + "-chat-2");
            a1.cairn.chat().clear("conv-2");
            a1.cairn.ui().put("panel", secretA + "-ui");
            for (int i = 0; i < 200; i++) {
                a1.cairn.map("memory").put("fact-" + i, secretA + "-" + i);
            }
            a1.cairn.ui().remove("panel");
            String secretB = "B-SECRET-wire";
            b.cairn.state("title", String.class, "").set(secretB + "-title");
            b.cairn.chat().append("conv-1", "user", secretB + "-chat");
            a1.syncNow();
            b.syncNow();

            // Positive control: A's other device got everything live, so the fan-out did happen while B was live.
            Poll.until("A's laptop to receive A's changes", () -> a2.cairn.map("memory").size() == 200
                    && a2.canonical().equals(a1.canonical()), a2::describe);
            a2.syncNow();
            b.syncNow();
            assertEquals(server.canonical(A), a2.canonical());
            assertEquals(server.canonical(B), b.canonical());

            assertEquals(List.of(), b.remote, "B's client received changes it did not write (A's?)");
            assertFalse(b.canonical().contains(secretA), "B's state holds A's data: " + b.canonical());
            assertEquals(server.head(B), b.cairn.cursor());
            for (Device a : List.of(a1, a2)) {
                assertFalse(a.canonical().contains(secretB), a.name + "'s state holds B's data: " + a.canonical());
                for (ChangeEvent e : a.remote) {
                    assertFalse(String.valueOf(e.change()).contains(secretB), a.name + " received B's change " + e);
                }
            }
            assertFalse(server.canonical(A).contains(secretB));
            assertTrue(b.sync.status().isLive());
            int live = bStates.indexOf(SyncState.LIVE);
            assertTrue(live >= 0 && !bStates.subList(live, bStates.size()).contains(SyncState.OFFLINE),
                    "B's client must have stayed connected the whole time: " + bStates);
        } finally {
            for (int i = devices.size() - 1; i >= 0; i--) {
                devices.get(i).close();
            }
        }
    }

    private static Device open(List<Device> devices, String replica, Path dir, TestServer server, String user, long clock) {
        Device d = Device.open(replica, dir, server.syncUri(), server.token(user), clock);
        devices.add(d);
        return d;
    }
}
