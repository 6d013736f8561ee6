package dev.cairn.server.spaces;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cairn.engine.Cairn;
import dev.cairn.engine.LeftSpaceCopy;
import dev.cairn.engine.RefusedChange;
import dev.cairn.engine.Space;
import dev.cairn.engine.SpaceMembership;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.sync.SpaceSyncState;
import dev.cairn.engine.sync.SpacesClient;
import dev.cairn.engine.sync.SyncClient;
import dev.cairn.server.TestServer;
import dev.cairn.server.space.SpaceKeys;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 18's convergence requirement with the real parts, on both stores: three users with two
 * JVM devices each (durable engines, real {@link SyncClient}s syncing spaces) share a space that
 * alice created over HTTP ({@link SpacesClient}) and added bob and carol to as editors. All six go
 * offline, each edits the same keys and its own keys of the space's map and log sections, all
 * come back: every device's copy of the space and the server's state of it are byte-identical
 * (canonical JSON), and the space's export over HTTP has every device's exported sections. A
 * viewer's offline write is refused with {@code forbidden} when it comes online, stays visible as
 * refused on the viewer's device, and reaches nobody else.
 */
class SpaceConvergenceIT {

    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dirs;

    /** One device: a durable engine in its own directory and its sync client (spaces kept on leaving). */
    private record Device(String user, String name, Cairn cairn, SyncClient sync) implements AutoCloseable {

        static Device open(TestServer server, Path dirs, String user, String name) {
            Cairn cairn = Cairn.builder().dataDir(dirs.resolve(name)).replicaId(name).open();
            SyncClient sync = SyncClient.builder(cairn, server.syncUri(), () -> server.token(user))
                    .syncSpaces(LeftSpaceCopy.KEEP).build();
            sync.start();
            return new Device(user, name, cairn, sync);
        }

        Space space(String id) {
            return cairn.space(id);
        }

        boolean live(String id) {
            return sync.spaceStatus(id) != null && sync.spaceStatus(id).state() == SpaceSyncState.LIVE;
        }

        String describe(String id) {
            return name + "{" + sync.status().state() + ", space=" + sync.spaceStatus(id) + "}";
        }

        @Override
        public void close() {
            try {
                sync.close();
            } finally {
                cairn.close();
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"embedded", "postgres"})
    void sixDevicesOfThreeUsersConvergeWithTheServerAndAViewersWriteIsRefused(String store) throws Exception {
        try (SpaceServers servers = SpaceServers.start(store)) {
            TestServer server = servers.server;
            URI http = URI.create(server.httpBase());
            SpacesClient aliceHttp = SpacesClient.create(http, "alice", () -> server.token("alice"));
            SpaceMembership created = aliceHttp.createSpace("Trip to Lisbon");
            String id = created.id();
            assertEquals("owner", created.role());
            aliceHttp.space(id).addMember("bob", "editor");
            aliceHttp.space(id).addMember("carol", "editor");
            aliceHttp.space(id).addMember("vic", "viewer");

            List<Device> devices = new ArrayList<>();
            Device viewer = null;
            try {
                for (String user : List.of("alice", "bob", "carol")) {
                    devices.add(Device.open(server, dirs, user, user + "-phone"));
                    devices.add(Device.open(server, dirs, user, user + "-laptop"));
                }
                viewer = Device.open(server, dirs, "vic", "vic-phone");
                List<Device> all = new ArrayList<>(devices);
                all.add(viewer);
                for (Device d : all) {
                    await(d.name + " live in the space", () -> d.live(id), () -> d.describe(id));
                }

                // A common starting point every device has seen: alice's first edits, synced to all.
                Space first = devices.get(0).space(id);
                first.map("state").put("title", "draft");
                first.map("state").put("doomed", "soon removed");
                for (String user : List.of("alice", "bob", "carol")) {
                    first.map("state").put("contested-" + user, "before");
                }
                first.log("chat").append("general", "welcome");
                awaitConverged(id, all, server, "the starting point");

                for (Device d : all) {
                    d.sync.goOffline();
                }
                for (Device d : all) {
                    await(d.name + " offline", () -> d.sync.spaceStatus(id).state() == SpaceSyncState.OFFLINE, () -> d.describe(id));
                }

                // Offline: the same keys (LWW between six replicas), each device's own keys, removals, log appends.
                int n = 0;
                for (Device d : devices) {
                    Space s = d.space(id);
                    n++;
                    s.map("state").put("title", "title by " + d.name);
                    s.map("state").put("budget", 100 * n);
                    s.map("state").put("note-" + d.name, "written offline by " + d.name);
                    s.map("cards").put("card-" + d.name + "/isExpanded", n % 2 == 0);
                    if (n % 3 == 0) {
                        s.map("state").remove("doomed");
                    }
                    // a user's phone rewrites a key and the laptop, later, removes it: the removal wins everywhere
                    if (d.name.endsWith("phone")) {
                        s.map("state").put("contested-" + d.user, "rewritten by " + d.name);
                    } else {
                        s.map("state").remove("contested-" + d.user);
                    }
                    s.log("chat").append("general", d.name + " says hi");
                    s.log("chat").append(d.user, d.name + " in its own stream");
                    assertTrue(s.pendingChanges() > 0, d.name + " has no pending changes");
                    // the next device's stamps are later in wall time, so which of two same-key writes wins is known
                    Thread.sleep(5);
                }
                Space viewerSpace = viewer.space(id);
                viewerSpace.map("state").put("vic-note", "a viewer's offline edit");
                viewerSpace.map("state").put("title", "vic's title");

                for (Device d : all) {
                    d.sync.goOnline();
                }
                // The viewer's two changes are refused with forbidden and kept as refused.
                Device v = viewer;
                await("the viewer's refusal", () -> viewerSpace.refusedChanges().size() == 2, () -> v.describe(id));
                awaitConverged(id, devices, server, "after the offline edits");

                String serverState = server.canonical(SpaceKeys.storeKey(id));
                for (Device d : devices) {
                    assertEquals(serverState, d.space(id).canonicalState(), d.name + "'s copy of the space");
                    assertEquals(0, d.space(id).pendingChanges(), d.name);
                    assertTrue(d.space(id).refusedChanges().isEmpty(), d.name + " had changes refused");
                }
                // The space's export over HTTP holds the same sections as every device's export of its copy, and
                // the membership (a device's export leaves out that read-only section; its canonical state has it).
                TestServer.Response export = server.request("GET", "/api/spaces/" + id + "/export", server.token("bob"), null);
                assertEquals(200, export.status(), export.body());
                ObjectNode served = (ObjectNode) export.json().get("sections");
                JsonNode members = served.remove("members");
                assertEquals(List.of("alice", "bob", "carol", "vic"), iterable(members.get("entries").fieldNames()));
                assertEquals("viewer", members.get("entries").get("vic").get("value").get("role").asText());
                for (Device d : devices) {
                    assertEquals(served, JSON.readTree(d.space(id).exportData()).get("sections"), d.name + "'s export of the space");
                }
                Space any = devices.get(3).space(id);
                String title = any.map("state").get("title", String.class);
                assertTrue(title.startsWith("title by ") && !title.contains("vic"), title);
                assertFalse(any.map("state").contains("doomed"));
                for (Device d : devices) {
                    assertTrue(any.map("state").contains("note-" + d.name), d.name + "'s note");
                    assertFalse(any.map("state").contains("contested-" + d.user), d.user + "'s contested key");
                    assertTrue(any.map("cards").contains("card-" + d.name + "/isExpanded"), d.name + "'s card");
                    assertTrue(any.log("chat").entries("general").stream().anyMatch(e -> e.value().contains(d.name + " says hi")),
                            d.name + "'s chat line");
                }
                assertEquals(7, any.log("chat").entries("general").size());
                // (vic is named in the members section; nothing stamped by his device may be in the space)
                assertFalse(serverState.contains("vic-note") || serverState.contains("@vic-phone"),
                        "the viewer's write reached the server: " + serverState);

                for (RefusedChange r : viewerSpace.refusedChanges()) {
                    assertEquals("forbidden", r.code());
                    assertInstanceOf(Change.Put.class, r.change());
                }
                assertEquals(List.of("vic-note", "title"),
                        viewerSpace.refusedChanges().stream().map(r -> ((Change.Put) r.change()).key()).toList());
                assertEquals(2, viewer.sync.spaceStatus(id).refused());
                assertNull(viewerSpace.leftReason(), "the viewer is still a member");
                // Visible as refused: still in the viewer's copy, which otherwise has everything the others have.
                assertEquals("a viewer's offline edit", viewerSpace.map("state").get("vic-note", String.class));
                await("the viewer has the others' edits", () -> viewerSpace.map("cards").keys().size() == 6, () -> v.describe(id));
                assertEquals(0, viewerSpace.pendingChanges());
                for (Device d : devices) {
                    assertFalse(d.space(id).map("state").contains("vic-note"), d.name + " got the viewer's refused write");
                }
            } finally {
                for (Device d : devices) {
                    d.close();
                }
                if (viewer != null) {
                    viewer.close();
                }
            }
        }
    }

    private static List<String> iterable(Iterator<String> names) {
        List<String> out = new ArrayList<>();
        names.forEachRemaining(out::add);
        return out;
    }

    /** Waits until no device has pending space changes and every device's copy equals the server's state of the space. */
    private static void awaitConverged(String id, List<Device> devices, TestServer server, String when) {
        String key = SpaceKeys.storeKey(id);
        await("convergence " + when, () -> {
            String expected = server.canonical(key);
            for (Device d : devices) {
                Space s = d.space(id);
                if (s.pendingChanges() != 0 || !expected.equals(s.canonicalState())) {
                    return false;
                }
            }
            return true;
        }, () -> {
            StringBuilder seen = new StringBuilder("server: ").append(server.canonical(key));
            for (Device d : devices) {
                seen.append('\n').append(d.describe(id)).append(" pending=").append(d.space(id).pendingChanges())
                        .append(": ").append(d.space(id).canonicalState());
            }
            return seen.toString();
        });
    }

    private static void await(String what, BooleanSupplier condition, Supplier<String> seen) {
        long end = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - end > 0) {
                throw new AssertionError("timed out after " + WAIT.toSeconds() + " s waiting for " + what + "; seen: " + seen.get());
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while waiting for " + what, e);
            }
        }
    }
}
