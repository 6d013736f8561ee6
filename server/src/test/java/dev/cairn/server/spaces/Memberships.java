package dev.cairn.server.spaces;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.section.SpaceSections;
import dev.cairn.server.TestServer;
import dev.cairn.server.space.SpaceKeys;
import dev.cairn.server.store.ServerStore.UserBatch;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Membership written the way the membership service writes it (PROTOCOL.md 8: the space's
 * {@code members} entry and the user's {@code spaces} entry, stamped by the server), through the
 * node's group committer so live sessions hear of it as of any commit. Tests of sessions seed
 * and end memberships of any space id with this (no owner needed, each entry its own commit);
 * the removal race goes through the real service ({@code dev.cairn.server.space.Memberships}).
 */
final class Memberships {

    private static final AtomicInteger COUNTER = new AtomicInteger();

    private final TestServer server;

    Memberships(TestServer server) {
        this.server = server;
    }

    static Stamp stamp() {
        return stampFor("server");
    }

    /** A fresh stamp of a replica at the current time (distinct within this JVM). */
    static Stamp stampFor(String replica) {
        return new Stamp(Stamp.pack(System.currentTimeMillis(), COUNTER.incrementAndGet() & 0xFFFF), replica);
    }

    /** Adds {@code user} to the space with a role (or changes it): the space's entry first, then the user's. */
    void add(String space, String user, String role) {
        commit(SpaceKeys.storeKey(space), new Change.Put(SpaceSections.MEMBERS, user, "{\"role\":\"" + role + "\"}", stamp()));
        commit(user, new Change.Put(SpaceSections.SPACES, space, "{\"name\":\"Trip\",\"role\":\"" + role + "\"}", stamp()));
    }

    /** Ends a membership: the user's entry, then the space's (the cut), then SpaceEvents with the reason. */
    void remove(String space, String user, String reason) {
        commit(user, new Change.Put(SpaceSections.SPACES, space, null, stamp()));
        commit(SpaceKeys.storeKey(space), new Change.Put(SpaceSections.MEMBERS, user, null, stamp()));
        server.node().spaceEvents().ended(user, space, reason);
    }

    /** Writes an invitation the way the service keeps it: in the space, never sent. */
    void invite(String space, String code) {
        commit(SpaceKeys.storeKey(space), new Change.Put(SpaceSections.INVITATIONS, code, "{\"role\":\"editor\"}", stamp()));
    }

    /** True if the store holds a live entry {@code key} in map section {@code section} of a store key. */
    boolean has(String storeKey, String section, String key) {
        return TestServer.await(server.store().readMap(storeKey, section, key, null, 1000)).entries().stream()
                .anyMatch(e -> e.key().equals(key) && e.value() != null);
    }

    void commit(String storeKey, Change... changes) {
        TestServer.await(server.node().committer().submit(new UserBatch(storeKey, List.of(changes))));
    }
}
