package dev.cairn.server.http;

import dev.cairn.engine.clock.HybridClock;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.engine.section.SpaceSections;
import dev.cairn.server.commit.GroupCommitter;
import dev.cairn.server.section.SectionRegistry;
import dev.cairn.server.space.MembershipException;
import dev.cairn.server.store.ServerStore;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * The HTTP routes' way to a user's data: writes go through the same group committer as the
 * sockets' pushes, stamped by the server's clock; a view reads only its map section or key prefix, and
 * the original spec's sync answer and clearing fold the whole state.
 */
final class UserStates {

    final ServerStore store;
    final GroupCommitter committer;
    final SectionRegistry sections;
    final HybridClock clock;
    /** Entries per store read of a view. */
    private static final int PAGE = 1000;

    UserStates(ServerStore store, GroupCommitter committer, SectionRegistry sections, HybridClock clock) {
        this.store = store;
        this.committer = committer;
        this.sections = sections;
        this.clock = clock;
    }

    /** The authenticated user of a request (set by {@link HttpApi}'s authentication handler). */
    static String user(RoutingContext ctx) {
        return ctx.user().subject();
    }

    /** The whole state of one user, folded from the store. */
    Future<ReplicaState> load(String user) {
        ReplicaState state = new ReplicaState(sections);
        return readAll(user, 0, state).map(state);
    }

    private Future<Void> readAll(String user, long cursor, ReplicaState into) {
        return store.readSince(user, cursor, 5000).compose(page -> {
            page.changes().forEach(s -> {
                if (SpaceSections.clientVisible(s.change().section())) {
                    into.apply(s.change());
                }
            });
            return page.more() ? readAll(user, page.cursor(), into) : Future.succeededFuture();
        });
    }

    /**
     * The live values (key to JSON text) of one map section of a user, or of its keys under
     * {@code prefix}, read page by page: what a view of them costs is their rows, not the user's.
     */
    Future<SortedMap<String, String>> liveValues(String user, String section, String prefix) {
        return readMap(user, section, prefix, null, new TreeMap<>());
    }

    private Future<SortedMap<String, String>> readMap(String user, String section, String prefix, String after, SortedMap<String, String> into) {
        return store.readMap(user, section, prefix, after, PAGE).compose(page -> {
            for (ServerStore.MapEntry e : page.entries()) {
                if (e.value() != null) {
                    into.put(e.key(), e.value());
                }
            }
            return page.more() ? readMap(user, section, prefix, page.entries().get(page.entries().size() - 1).key(), into)
                    : Future.succeededFuture(into);
        });
    }

    /** Answers with a view of one section's live values (after committing {@code changes}, if any). */
    void commitThenRespond(RoutingContext ctx, List<Change> changes, String section, String prefix,
                           Function<SortedMap<String, String>, JsonObject> view) {
        commit(ctx, changes).compose(v -> liveValues(user(ctx), section, prefix)).onSuccess(s -> ctx.json(view.apply(s))).onFailure(ctx::fail);
    }

    /** Commits the request user's changes; null result for none. */
    Future<ServerStore.CommitResult> commit(RoutingContext ctx, List<Change> changes) {
        return commit(user(ctx), changes, null);
    }

    /**
     * Commits changes of a store key (a user's, or a space's) under {@code guard} (null: none);
     * null result for no changes. A failed guard fails the future with a
     * {@link dev.cairn.server.space.MembershipException} (not-a-member or forbidden).
     */
    Future<ServerStore.CommitResult> commit(String storeKey, List<Change> changes, ServerStore.Guard guard) {
        if (changes.isEmpty()) {
            return Future.succeededFuture(null);
        }
        changes.forEach(c -> clock.observe(c.stamp()));
        return committer.submit(new ServerStore.UserBatch(storeKey, changes, guard)).recover(e -> {
            if (e instanceof dev.cairn.server.store.GuardFailedException g) {
                return Future.failedFuture(g.foundRole() == null
                        ? new MembershipException(MembershipException.Kind.NOT_A_MEMBER, "not a member of this space (or no such space)")
                        : new MembershipException(MembershipException.Kind.FORBIDDEN, "a space's " + g.foundRole() + " may not do this"));
            }
            return Future.failedFuture(e);
        });
    }
}
