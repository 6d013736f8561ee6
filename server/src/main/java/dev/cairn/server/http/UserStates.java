package dev.cairn.server.http;

import dev.cairn.engine.clock.HybridClock;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.server.SectionRegistry;
import dev.cairn.server.commit.GroupCommitter;
import dev.cairn.server.store.ServerStore;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.util.List;
import java.util.function.Function;

/**
 * The HTTP routes' way to a user's data: writes go through the same group committer as the
 * sockets' pushes, stamped by the server's clock; reads fold the user's state from the store.
 */
final class UserStates {

    final ServerStore store;
    final GroupCommitter committer;
    final SectionRegistry sections;
    final HybridClock clock;

    UserStates(ServerStore store, GroupCommitter committer, SectionRegistry sections, HybridClock clock) {
        this.store = store;
        this.committer = committer;
        this.sections = sections;
        this.clock = clock;
    }

    /** The authenticated user of a request (put there by {@link HttpApi}'s authentication). */
    static String user(RoutingContext ctx) {
        return ctx.get("user");
    }

    /** The whole state of one user, folded from the store. */
    Future<ReplicaState> load(String user) {
        ReplicaState state = new ReplicaState(sections);
        return readAll(user, 0, state).map(state);
    }

    private Future<Void> readAll(String user, long cursor, ReplicaState into) {
        return store.readSince(user, cursor, 5000).compose(page -> {
            page.changes().forEach(s -> into.apply(s.change()));
            return page.more() ? readAll(user, page.cursor(), into) : Future.succeededFuture();
        });
    }

    /** Commits the request user's changes; null result for none. */
    Future<ServerStore.CommitResult> commit(RoutingContext ctx, List<Change> changes) {
        if (changes.isEmpty()) {
            return Future.succeededFuture(null);
        }
        changes.forEach(c -> clock.observe(c.stamp()));
        return committer.submit(new ServerStore.UserBatch(user(ctx), changes));
    }

    void commitThenRespond(RoutingContext ctx, List<Change> changes, Function<ReplicaState, JsonObject> view) {
        commit(ctx, changes).compose(v -> load(user(ctx))).onSuccess(s -> ctx.json(view.apply(s))).onFailure(ctx::fail);
    }

    void respond(RoutingContext ctx, Function<ReplicaState, JsonObject> view) {
        load(user(ctx)).onSuccess(s -> ctx.json(view.apply(s))).onFailure(ctx::fail);
    }
}
