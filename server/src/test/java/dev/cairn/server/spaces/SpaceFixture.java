package dev.cairn.server.spaces;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.server.TestServer;
import dev.cairn.server.space.Memberships;
import dev.cairn.server.store.ServerStore.UserBatch;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A test server with its real membership service ({@link Memberships}) for the space ITs: spaces
 * are created, joined, left and removed through the service, one atomic commit each as over HTTP,
 * so the sessions see exactly what it writes; there is no second membership writer. App data is
 * committed through the node's group committer, so live sessions hear of it as of any commit.
 */
final class SpaceFixture implements AutoCloseable {

    private static final AtomicInteger COUNTER = new AtomicInteger();

    final TestServer server;
    private final boolean ownsServer;
    private final Memberships service;
    /** The owner of each space this fixture created: the service's calls are the owner's. */
    private final Map<String, String> owners = new ConcurrentHashMap<>();

    private SpaceFixture(TestServer server, boolean ownsServer) {
        this.server = server;
        this.ownsServer = ownsServer;
        this.service = server.node().memberships();
    }

    /** An embedded server of its own (random port), closed with the fixture. */
    static SpaceFixture embedded() {
        return new SpaceFixture(TestServer.embedded().start(), true);
    }

    /** Over a server the test closes itself. */
    static SpaceFixture over(TestServer server) {
        return new SpaceFixture(server, false);
    }

    static Stamp stamp() {
        return stampFor("server");
    }

    /** A fresh stamp of a replica at the current time (distinct within this JVM). */
    static Stamp stampFor(String replica) {
        return new Stamp(Stamp.pack(System.currentTimeMillis(), COUNTER.incrementAndGet() & 0xFFFF), replica);
    }

    /** Creates a space owned by {@code owner}; returns its id (the service chooses it). */
    String create(String owner) {
        String id = TestServer.await(service.create(owner, "Trip")).id();
        owners.put(id, owner);
        return id;
    }

    /** The owner adds {@code user} with {@code role} (editor or viewer), or changes their role. */
    void add(String space, String user, String role) {
        TestServer.await(service.setRole(owner(space), space, user, role));
    }

    /** The owner removes {@code user}: their sessions get {@code space-left} {@code removed}. */
    void remove(String space, String user) {
        TestServer.await(service.remove(owner(space), space, user));
    }

    /** {@code user} leaves: their sessions get {@code space-left} {@code left}. */
    void leave(String space, String user) {
        TestServer.await(service.remove(user, space, user));
    }

    /** The owner invites an editor: the code, whose secret part the store keeps only hashed. */
    String invite(String space) {
        return TestServer.await(service.invite(owner(space), space, "editor", 3600)).code();
    }

    /** True if the store holds a live entry {@code key} in map section {@code section} of a store key. */
    boolean has(String storeKey, String section, String key) {
        return TestServer.await(server.store().readMap(storeKey, section, key, null, 1000)).entries().stream()
                .anyMatch(e -> e.key().equals(key) && e.value() != null);
    }

    /** Commits app data (not membership: that is the service's) to a store key. */
    void commit(String storeKey, Change... changes) {
        TestServer.await(server.node().committer().submit(new UserBatch(storeKey, List.of(changes))));
    }

    private String owner(String space) {
        String owner = owners.get(space);
        if (owner == null) {
            throw new IllegalArgumentException("space " + space + " was not created by this fixture");
        }
        return owner;
    }

    @Override
    public void close() {
        if (ownsServer) {
            server.close();
        }
    }
}
