package dev.cairn.server.space;

import static dev.cairn.server.TestFutures.await;
import static dev.cairn.server.TestFutures.failureOf;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import dev.cairn.engine.clock.HybridClock;
import dev.cairn.engine.clock.WallClock;
import dev.cairn.server.commit.GroupCommitter;
import dev.cairn.server.section.SectionRegistry;
import dev.cairn.server.store.JournalServerStore;
import dev.cairn.server.store.ServerStore;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Memberships} on a real (journal) store: the sessions are told of every ended membership
 * ({@link SpaceEvents}), once per user, with the reason, on the committer's home context and only
 * after the commit; a refused call tells nobody.
 */
class MembershipsTest {

    @TempDir
    Path dir;
    private Vertx vertx;
    private ServerStore store;
    private Memberships memberships;
    private Context home;
    private final List<String> told = Collections.synchronizedList(new ArrayList<>());

    @BeforeEach
    void open() throws Exception {
        vertx = Vertx.vertx();
        store = JournalServerStore.open(vertx, dir.resolve("server.journal"));
        await(store.start());
        home = vertx.getOrCreateContext();
        GroupCommitter committer = new GroupCommitter(store, 0, 0, 1, 10_000, r -> { }, n -> { }, home);
        memberships = new Memberships(store, committer, new HybridClock(WallClock.system(), "server", 60_000),
                new SectionRegistry(Map.of()), (user, space, reason) -> {
                    told.add(user + " " + space + " " + reason + (Vertx.currentContext() == home ? "" : " (not on the home context!)"));
                }, home);
    }

    @AfterEach
    void close() throws Exception {
        await(store.close());
        await(vertx.close());
    }

    private String firstKey(String user, String space) {
        try {
            for (ServerStore.MapEntry e : store.readMap(user, "spaces", space, null, 10)
                    .toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS).entries()) {
                if (e.key().equals(space) && e.value() != null) {
                    return e.key();
                }
            }
            return null;
        } catch (Exception e) {
            return "unreadable";
        }
    }

    private void settle() throws Exception {
        CompletableFuture<Void> done = new CompletableFuture<>();
        home.runOnContext(v -> done.complete(null));
        done.get(10, TimeUnit.SECONDS);
    }

    @Test
    void endedMembershipsAreToldWithTheirReason() throws Exception {
        String id = await(memberships.create("olga", "S")).id();
        for (String u : List.of("bob", "carol", "dan")) {
            await(memberships.setRole("olga", id, u, "editor"));
        }
        await(memberships.remove("olga", id, "bob"));
        await(memberships.remove("carol", id, "carol"));
        settle();
        assertEquals(List.of("bob " + id + " removed", "carol " + id + " left"), told);
        assertEquals(null, firstKey("bob", id), "told after the commit that deleted bob's record");
        assertEquals(null, firstKey("carol", id));
        // refused calls tell nobody
        assertInstanceOf(MembershipException.class, failureOf(memberships.remove("dan", id, "olga")));
        assertInstanceOf(MembershipException.class, failureOf(memberships.delete("dan", id)));
        assertEquals(false, await(memberships.remove("olga", id, "bob")));
        settle();
        assertEquals(2, told.size(), told.toString());
        await(memberships.delete("olga", id));
        settle();
        assertEquals(List.of("bob " + id + " removed", "carol " + id + " left", "dan " + id + " deleted", "olga " + id + " deleted"), told);
        assertEquals(null, firstKey("olga", id));
    }
}
