package dev.cairn.server.http;

import static dev.cairn.engine.section.SpaceSections.EDITOR;
import static dev.cairn.engine.section.SpaceSections.MEMBERS;
import static dev.cairn.engine.section.SpaceSections.OWNER;
import static dev.cairn.engine.section.SpaceSections.VIEWER;
import static dev.cairn.server.http.ApiErrors.error;

import dev.cairn.server.space.MembershipException;
import dev.cairn.server.space.Memberships;
import dev.cairn.server.space.SpaceKeys;
import dev.cairn.server.store.ServerStore;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.util.Set;
import java.util.function.BiConsumer;

/**
 * The HTTP API of shared spaces (PROTOCOL.md 8.5). Membership calls go to {@link Memberships};
 * a space's export, clearing, history and usage are the user routes' code on the space's store
 * key, after a check of the caller's role (clearing also re-checks it as of its commit).
 * Refusals: 403 {@code forbidden} / {@code not-a-member}, 404 {@code invalid-invitation},
 * 400 {@code bad-request} (ApiErrors maps {@link MembershipException}).
 */
final class SpaceApi {

    private static final Set<String> ANY = Set.of(OWNER, EDITOR, VIEWER);

    private final Memberships memberships;
    private final TransferApi transfer;
    private final StorageApi storage;
    private final HistoryApi history;

    SpaceApi(Memberships memberships, TransferApi transfer, StorageApi storage, HistoryApi history) {
        this.memberships = memberships;
        this.transfer = transfer;
        this.storage = storage;
        this.history = history;
    }

    /** The routes of 8.5 (after the API's body and authentication handlers). */
    void mount(Router router) {
        router.post("/api/spaces").handler(this::create);
        router.get("/api/spaces").handler(this::list);
        router.post("/api/spaces/join").handler(this::join);
        router.get("/api/spaces/:id").handler(this::details);
        router.delete("/api/spaces/:id").handler(this::delete);
        router.post("/api/spaces/:id/invitations").handler(this::invite);
        router.post("/api/spaces/:id/members").handler(this::setRole);
        router.delete("/api/spaces/:id/members/:user").handler(this::remove);
        router.post("/api/spaces/:id/owner").handler(this::transfer);
        router.get("/api/spaces/:id/export").handler(ctx -> asMember(ctx, ANY, transfer::exportSpace));
        router.delete("/api/spaces/:id/sections/:section").handler(ctx -> asMember(ctx, Set.of(OWNER, EDITOR),
                (c, key) -> storage.clearSection(c, key, new ServerStore.Guard(key, MEMBERS, UserStates.user(c), Set.of(OWNER, EDITOR)))));
        router.get("/api/spaces/:id/history/:section/*").handler(ctx -> asMember(ctx, ANY, history::history));
        router.get("/api/spaces/:id/history/*").handler(ctx -> asMember(ctx, ANY, (c, key) -> history.malformed(c)));
        router.get("/api/spaces/:id/usage").handler(ctx -> asMember(ctx, ANY, storage::spaceUsage));
    }

    /** Runs {@code then} with the space's store key once the caller is a member with one of {@code roles}. */
    private void asMember(RoutingContext ctx, Set<String> roles, BiConsumer<RoutingContext, String> then) {
        String id = ctx.pathParam("id");
        memberships.require(UserStates.user(ctx), id, roles).onSuccess(role -> then.accept(ctx, SpaceKeys.storeKey(id))).onFailure(ctx::fail);
    }

    private void create(RoutingContext ctx) {
        JsonObject body = JsonBodies.object(ctx);
        if (body == null || !only(ctx, body, "name")) {
            return;
        }
        String name = text(ctx, body, "name", true);
        if (name != null) {
            answer(ctx, memberships.create(UserStates.user(ctx), name).map(SpaceApi::view));
        }
    }

    private void list(RoutingContext ctx) {
        answer(ctx, memberships.list(UserStates.user(ctx)).map(spaces -> {
            JsonArray out = new JsonArray();
            spaces.forEach(s -> out.add(view(s)));
            return new JsonObject().put("spaces", out);
        }));
    }

    private void details(RoutingContext ctx) {
        answer(ctx, memberships.details(UserStates.user(ctx), ctx.pathParam("id")).map(d -> {
            JsonArray members = new JsonArray();
            d.members().forEach(m -> members.add(new JsonObject().put("user", m.user()).put("role", m.role())));
            return view(d.space()).put("members", members);
        }));
    }

    private void invite(RoutingContext ctx) {
        JsonObject body = JsonBodies.object(ctx);
        if (body == null || !only(ctx, body, "role", "expiresInSeconds")) {
            return;
        }
        String role = text(ctx, body, "role", true);
        if (role == null) {
            return;
        }
        long expires = Memberships.DEFAULT_EXPIRY_SECONDS;
        Object e = body.getValue("expiresInSeconds");
        if (e != null) {
            if (!(e instanceof Integer || e instanceof Long)) {
                error(ctx, 400, "bad-request", "'expiresInSeconds' must be a whole number of seconds");
                return;
            }
            expires = ((Number) e).longValue();
        }
        answer(ctx, memberships.invite(UserStates.user(ctx), ctx.pathParam("id"), role, expires)
                .map(i -> new JsonObject().put("code", i.code()).put("role", i.role()).put("expiresAtMillis", i.expiresAtMillis())));
    }

    private void join(RoutingContext ctx) {
        JsonObject body = JsonBodies.object(ctx);
        if (body == null || !only(ctx, body, "code")) {
            return;
        }
        String code = text(ctx, body, "code", true);
        if (code != null) {
            answer(ctx, memberships.join(UserStates.user(ctx), code).map(SpaceApi::view));
        }
    }

    private void setRole(RoutingContext ctx) {
        JsonObject body = JsonBodies.object(ctx);
        if (body == null || !only(ctx, body, "user", "role")) {
            return;
        }
        String user = text(ctx, body, "user", true);
        String role = user == null ? null : text(ctx, body, "role", true);
        if (role != null) {
            answer(ctx, memberships.setRole(UserStates.user(ctx), ctx.pathParam("id"), user, role)
                    .map(m -> new JsonObject().put("user", m.user()).put("role", m.role())));
        }
    }

    private void remove(RoutingContext ctx) {
        answer(ctx, memberships.remove(UserStates.user(ctx), ctx.pathParam("id"), ctx.pathParam("user"))
                .map(removed -> new JsonObject().put("removed", removed)));
    }

    private void transfer(RoutingContext ctx) {
        JsonObject body = JsonBodies.object(ctx);
        if (body == null || !only(ctx, body, "user")) {
            return;
        }
        String user = text(ctx, body, "user", true);
        if (user != null) {
            answer(ctx, memberships.transfer(UserStates.user(ctx), ctx.pathParam("id"), user).map(o -> new JsonObject().put("owner", o)));
        }
    }

    private void delete(RoutingContext ctx) {
        answer(ctx, memberships.delete(UserStates.user(ctx), ctx.pathParam("id")).map(v -> new JsonObject().put("deleted", true)));
    }

    private static JsonObject view(Memberships.SpaceView s) {
        return new JsonObject().put("id", s.id()).put("name", s.name()).put("role", s.role());
    }

    private static void answer(RoutingContext ctx, Future<JsonObject> answer) {
        answer.onSuccess(ctx::json).onFailure(ctx::fail);
    }

    /** A body with a member not in {@code allowed} is a 400 (nothing is guessed). */
    private static boolean only(RoutingContext ctx, JsonObject body, String... allowed) {
        for (String name : body.fieldNames()) {
            if (!Set.of(allowed).contains(name)) {
                error(ctx, 400, "bad-request", "unknown member '" + name + "'; expected " + String.join(", ", allowed));
                return false;
            }
        }
        return true;
    }

    /** A string member (checked by type, never coerced); answers 400 and returns null otherwise. */
    private static String text(RoutingContext ctx, JsonObject body, String name, boolean required) {
        Object v = body.getValue(name);
        if (v instanceof String s) {
            return s;
        }
        if (v == null && !required) {
            return null;
        }
        error(ctx, 400, "bad-request", "'" + name + "' must be a string");
        return null;
    }
}
