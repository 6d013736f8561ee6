package dev.cairn.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.clock.ClockSkewException;
import dev.cairn.engine.clock.HybridClock;
import dev.cairn.engine.codec.CanonicalJson;
import dev.cairn.engine.codec.ExportDocument;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.GrowOnlyLog;
import dev.cairn.engine.crdt.LwwMap;
import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.section.StandardSections;
import dev.cairn.server.SectionRegistry;
import dev.cairn.server.ServerMetrics;
import dev.cairn.server.auth.TokenAuth;
import dev.cairn.server.commit.GroupCommitter;
import dev.cairn.server.store.ServerStore;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * The HTTP API of PROTOCOL.md section 5, on the same store, commit path and fan-out as the
 * sockets. Writes are stamped by the server's clock (replica id {@code server}). Every route but
 * /health, /metrics and the dev token requires a bearer token and acts on its user only.
 */
public final class HttpApi {

    private final Vertx vertx;
    private final ServerStore store;
    private final GroupCommitter committer;
    private final SectionRegistry sections;
    private final HybridClock clock;
    private final TokenAuth auth;
    private final boolean devTokens;
    private final ServerMetrics metrics;
    private final int maxBodyBytes;
    private final long quotaBytes;
    private final long historyMillis;

    public HttpApi(Vertx vertx, ServerStore store, GroupCommitter committer, SectionRegistry sections, HybridClock clock,
                   TokenAuth auth, boolean devTokens, ServerMetrics metrics, int maxBodyBytes) {
        this(vertx, store, committer, sections, clock, auth, devTokens, metrics, maxBodyBytes, 0, 0);
    }

    /**
     * @param quotaBytes    the per-user quota the committer enforces (0: none), reported by /api/usage
     * @param historyMillis how long map history is kept (0: none), for /api/history
     */
    public HttpApi(Vertx vertx, ServerStore store, GroupCommitter committer, SectionRegistry sections, HybridClock clock,
                   TokenAuth auth, boolean devTokens, ServerMetrics metrics, int maxBodyBytes, long quotaBytes, long historyMillis) {
        this.quotaBytes = quotaBytes;
        this.historyMillis = historyMillis;
        this.vertx = vertx;
        this.store = store;
        this.committer = committer;
        this.sections = sections;
        this.clock = clock;
        this.auth = auth;
        this.devTokens = devTokens;
        this.metrics = metrics;
        this.maxBodyBytes = maxBodyBytes;
    }

    public void mount(Router router) {
        router.get("/health").handler(this::health);
        router.get("/metrics").handler(ctx -> ctx.response().putHeader("content-type", "text/plain; version=0.0.4").end(metrics.scrape()));
        router.route("/api/*").handler(BodyHandler.create().setBodyLimit(maxBodyBytes).setHandleFileUploads(false));
        router.post("/api/dev/token").handler(this::devToken);
        router.route("/api/*").handler(this::authenticate);
        router.post("/api/persistence/sync").handler(this::sync);
        router.get("/api/export").handler(this::export);
        router.post("/api/import").handler(this::importDocument);
        router.delete("/api/sections/:section").handler(this::clearSection);
        router.get("/api/preferences").handler(ctx -> respondState(ctx, s -> preferences(s)));
        router.post("/api/preferences").handler(this::postPreferences);
        router.get("/api/progress/onboarding").handler(ctx -> respondState(ctx, HttpApi::onboarding));
        router.post("/api/progress/onboarding").handler(this::postOnboarding);
        router.get("/api/progress/assessment").handler(ctx -> respondState(ctx, HttpApi::assessment));
        router.get("/api/usage").handler(this::usage);
        router.get("/api/history/*").handler(this::history);
        router.post("/api/progress/assessment").handler(this::postAssessment);
        router.route("/api/*").failureHandler(this::failure);
    }

    // ------------------------------------------------------------------ routes

    private void health(RoutingContext ctx) {
        store.ping().onComplete(ar -> {
            JsonObject body = new JsonObject().put("store", store.kind());
            if (ar.succeeded()) {
                ctx.json(body.put("status", "up"));
            } else {
                ctx.response().setStatusCode(503);
                ctx.json(body.put("status", "down").put("reason", String.valueOf(ar.cause().getMessage())));
            }
        });
    }

    private void devToken(RoutingContext ctx) {
        if (!devTokens) {
            error(ctx, 404, "not-found", "dev tokens are disabled on this server (CAIRN_DEV_TOKENS=false)");
            return;
        }
        JsonObject body = bodyObject(ctx);
        if (body == null) {
            return;
        }
        Object requested = body.getValue("user");
        String user = requested instanceof String s ? s : null; // getString would turn {"user":42} into "42"
        try {
            int ttl = 24 * 3600;
            ctx.json(new JsonObject().put("token", auth.mint(user, ttl)).put("user", user).put("expiresIn", ttl));
        } catch (IllegalArgumentException e) {
            error(ctx, 400, "bad-request", e.getMessage());
        }
    }

    private void authenticate(RoutingContext ctx) {
        String token = TokenAuth.bearer(ctx.request().getHeader("Authorization"));
        auth.authenticate(token).onSuccess(user -> {
            ctx.put("user", user);
            ctx.next();
        }).onFailure(e -> {
            ctx.response().putHeader("WWW-Authenticate", "Bearer");
            error(ctx, 401, "unauthorized", e.getMessage());
        });
    }

    /** The original spec's sync: merge the client's sections, answer with the user's merged state. */
    private void sync(RoutingContext ctx) {
        JsonNode root = bodyTree(ctx);
        if (root == null) {
            return;
        }
        List<Change> changes;
        try {
            changes = ExportDocument.readSections(root.get("sections"), sections);
            changes.forEach(c -> clock.check(c.stamp()));
        } catch (IllegalArgumentException | ClockSkewException e) { // a stamp too far ahead is bad input, not a store failure
            error(ctx, 400, "invalid-change", e.getMessage());
            return;
        }
        commit(ctx, changes)
                .compose(v -> loadState(user(ctx)))
                .onSuccess(state -> ctx.response().putHeader("content-type", "application/json")
                        .end("{\"sections\":" + CanonicalJson.encode(state, sections.all().keySet()) + "}"))
                .onFailure(ctx::fail);
    }

    private void export(RoutingContext ctx) {
        loadState(user(ctx)).onSuccess(state -> ctx.response()
                .putHeader("content-type", "application/json")
                .putHeader("content-disposition", "attachment; filename=\"cairn-export.json\"")
                .end(ExportDocument.write("server", Instant.now(), state, sections.all().keySet()))).onFailure(ctx::fail);
    }

    private void importDocument(RoutingContext ctx) {
        String body = bodyText(ctx);
        if (body == null && ctx.response().ended()) {
            return;
        }
        List<Change> changes;
        try {
            changes = ExportDocument.read(body, sections);
            changes.forEach(c -> clock.check(c.stamp()));
        } catch (IllegalArgumentException | ClockSkewException e) { // a stamp too far ahead is bad input, not a store failure
            error(ctx, 400, "invalid-import", e.getMessage());
            return;
        }
        commit(ctx, changes).onSuccess(result -> ctx.json(new JsonObject()
                .put("changesRead", changes.size())
                .put("changesApplied", result == null ? 0 : result.applied().size()))).onFailure(ctx::fail);
    }

    private void clearSection(RoutingContext ctx) {
        String section = ctx.pathParam("section");
        SectionKind kind = sections.apply(section);
        if (kind == null) {
            error(ctx, 404, "unknown-section", "unknown section '" + section + "'");
            return;
        }
        loadState(user(ctx)).compose(state -> {
            List<Change> changes = new ArrayList<>();
            if (kind == SectionKind.MAP) {
                // The clock lives in memory (a restart or another node starts lower): move it past
                // what it clears, or an entry stamped ahead of it would survive its "clear".
                state.map(section).forEach((key, entry) -> clock.advance(entry.stamp()));
                state.map(section).forEach((key, entry) -> {
                    if (!entry.isTombstone()) {
                        changes.add(new Change.Put(section, key, null, clock.tick()));
                    }
                });
            } else {
                GrowOnlyLog log = state.log(section);
                for (String stream : log.streams()) {
                    log.entries(stream).forEach(e -> clock.advance(e.stamp()));
                    if (log.size(stream) > 0) {
                        changes.add(new Change.Clear(section, stream, clock.tick()));
                    }
                }
            }
            return commit(ctx, changes).map(changes.size());
        }).onSuccess(n -> ctx.json(new JsonObject().put("cleared", n))).onFailure(ctx::fail);
    }

    /** Use against quota (issue 7). */
    private void usage(RoutingContext ctx) {
        store.usage(user(ctx)).onSuccess(used -> ctx.json(new JsonObject()
                .put("usedBytes", used)
                .put("quotaBytes", quotaBytes)
                .put("unlimited", quotaBytes == 0)
                .put("overQuota", quotaBytes > 0 && used > quotaBytes)
                .put("historyMillis", historyMillis))).onFailure(ctx::fail);
    }

    /**
     * {@code GET /api/history/{section}/{key}}: earlier values of one map key, newest first. The
     * key may hold '/' (e.g. {@code card-intro/isExpanded}); both parts are percent-decoded from
     * the raw path, so an encoded '/' ({@code %2F}) works too.
     */
    private void history(RoutingContext ctx) {
        String rest = ctx.request().path().substring("/api/history/".length());
        int slash = rest.indexOf('/');
        String section;
        String key;
        try {
            if (slash <= 0 || slash == rest.length() - 1) {
                throw new IllegalArgumentException("expected /api/history/{section}/{key}");
            }
            section = percentDecode(rest.substring(0, slash));
            key = percentDecode(rest.substring(slash + 1));
            if (sections.apply(section) == null) {
                error(ctx, 404, "unknown-section", "unknown section '" + section + "'");
                return;
            }
            if (sections.apply(section) != SectionKind.MAP) {
                throw new IllegalArgumentException("section '" + section + "' is a log: history is kept for map sections only");
            }
            sections.check(new Change.Put(section, key, null, new dev.cairn.engine.clock.Stamp(0, "server"))); // key rules, PROTOCOL.md 1.2
        } catch (IllegalArgumentException e) {
            error(ctx, 400, "bad-request", e.getMessage());
            return;
        }
        int limit = 100;
        String limitParam = ctx.request().getParam("limit");
        if (limitParam != null) {
            try {
                limit = Integer.parseInt(limitParam);
            } catch (NumberFormatException e) {
                limit = -1;
            }
            if (limit < 1 || limit > 1000) {
                error(ctx, 400, "bad-request", "limit must be between 1 and 1000");
                return;
            }
        }
        long since = historyMillis == 0 ? Long.MAX_VALUE : System.currentTimeMillis() - historyMillis;
        Future<List<ServerStore.HistoryEntry>> read = historyMillis == 0 ? Future.succeededFuture(List.of())
                : store.history(user(ctx), section, key, since, limit);
        read.onSuccess(entries -> {
            JsonArray out = new JsonArray();
            for (ServerStore.HistoryEntry e : entries) {
                out.add(new JsonObject()
                        .put("value", e.value() == null ? null : io.vertx.core.json.Json.decodeValue(e.value()))
                        .put("deleted", e.value() == null)
                        .put("stamp", e.stamp().toString())
                        .put("replacedAt", Instant.ofEpochMilli(e.replacedAtMillis()).toString())
                        .put("replacedAtMillis", e.replacedAtMillis()));
            }
            ctx.json(new JsonObject().put("section", section).put("key", key).put("historyMillis", historyMillis).put("entries", out));
        }).onFailure(ctx::fail);
    }

    /** RFC 3986 percent-decoding as UTF-8 ('+' stays '+': this is a path, not a form). */
    static String percentDecode(String s) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '%') {
                if (i + 2 >= s.length()) {
                    throw new IllegalArgumentException("bad percent-encoding in the path");
                }
                int hi = Character.digit(s.charAt(i + 1), 16);
                int lo = Character.digit(s.charAt(i + 2), 16);
                if (hi < 0 || lo < 0) {
                    throw new IllegalArgumentException("bad percent-encoding in the path");
                }
                out.write(hi * 16 + lo);
                i += 2;
            } else {
                byte[] b = String.valueOf(c).getBytes(java.nio.charset.StandardCharsets.UTF_8);
                out.write(b, 0, b.length);
            }
        }
        try {
            return java.nio.charset.StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(out.toByteArray())).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new IllegalArgumentException("the path is not valid UTF-8 after percent-decoding");
        }
    }

    private void postPreferences(RoutingContext ctx) {
        JsonObject body = bodyObject(ctx);
        if (body == null) {
            return;
        }
        List<Change> changes = new ArrayList<>();
        try {
            for (String field : body.fieldNames()) {
                Object v = body.getValue(field);
                changes.add(new Change.Put(StandardSections.PREFERENCES, field, v == null ? null : Json.write(v instanceof JsonObject o ? o.getMap()
                        : v instanceof JsonArray a ? a.getList() : v), clock.tick()));
            }
        } catch (IllegalArgumentException e) {
            error(ctx, 400, "bad-request", e.getMessage());
            return;
        }
        commitThenRespond(ctx, changes, HttpApi::preferences);
    }

    private void postOnboarding(RoutingContext ctx) {
        JsonObject body = bodyObject(ctx);
        if (body == null) {
            return;
        }
        List<Change> changes = new ArrayList<>();
        try {
            String step = body.getString("stepId");
            if (step != null) {
                boolean completed = body.getBoolean("completed", true);
                changes.add(new Change.Put(StandardSections.PROGRESS, "onboarding/steps/" + step, completed ? "true" : null, clock.tick()));
            }
            if (body.containsKey("currentStep")) {
                changes.add(new Change.Put(StandardSections.PROGRESS, "onboarding/currentStep", Json.write(body.getString("currentStep")), clock.tick()));
            }
        } catch (ClassCastException | IllegalArgumentException e) {
            error(ctx, 400, "bad-request", "expected {\"stepId\":\"...\",\"completed\":true} or {\"currentStep\":\"...\"}: " + e.getMessage());
            return;
        }
        if (changes.isEmpty()) {
            error(ctx, 400, "bad-request", "expected {\"stepId\":\"...\",\"completed\":true} or {\"currentStep\":\"...\"}");
            return;
        }
        commitThenRespond(ctx, changes, HttpApi::onboarding);
    }

    private void postAssessment(RoutingContext ctx) {
        JsonObject body = bodyObject(ctx);
        if (body == null) {
            return;
        }
        List<Change> changes = new ArrayList<>();
        try {
            JsonObject answers = body.getJsonObject("answers");
            if (answers != null) {
                for (String q : answers.fieldNames()) {
                    Object v = answers.getValue(q);
                    changes.add(new Change.Put(StandardSections.PROGRESS, "assessment/answers/" + q,
                            Json.write(v instanceof JsonObject o ? o.getMap() : v instanceof JsonArray a ? a.getList() : v), clock.tick()));
                }
            }
            if (body.getBoolean("complete", false)) {
                changes.add(new Change.Put(StandardSections.PROGRESS, "assessment/completedAt", Json.write(Instant.now().toString()), clock.tick()));
                if (body.getValue("score") != null) {
                    changes.add(new Change.Put(StandardSections.PROGRESS, "assessment/score", Json.write(body.getDouble("score")), clock.tick()));
                }
            }
        } catch (ClassCastException | IllegalArgumentException e) {
            error(ctx, 400, "bad-request", "expected {\"answers\":{...}} and/or {\"complete\":true,\"score\":0.8}: " + e.getMessage());
            return;
        }
        if (changes.isEmpty()) {
            error(ctx, 400, "bad-request", "expected {\"answers\":{...}} and/or {\"complete\":true,\"score\":0.8}");
            return;
        }
        commitThenRespond(ctx, changes, HttpApi::assessment);
    }

    // ------------------------------------------------------------------ views of the state

    static JsonObject preferences(ReplicaState state) {
        return liveValues(state.map(StandardSections.PREFERENCES), "");
    }

    static JsonObject onboarding(ReplicaState state) {
        LwwMap progress = state.map(StandardSections.PROGRESS);
        TreeSet<String> steps = new TreeSet<>();
        progress.forEach((k, e) -> {
            if (k.startsWith("onboarding/steps/") && "true".equals(e.value())) {
                steps.add(k.substring("onboarding/steps/".length()));
            }
        });
        String current = progress.value("onboarding/currentStep");
        return new JsonObject().put("completedSteps", new JsonArray(new ArrayList<>(steps)))
                .put("currentStep", current == null ? null : io.vertx.core.json.Json.decodeValue(current));
    }

    static JsonObject assessment(ReplicaState state) {
        LwwMap progress = state.map(StandardSections.PROGRESS);
        String completedAt = progress.value("assessment/completedAt");
        String score = progress.value("assessment/score");
        return new JsonObject().put("answers", liveValues(progress, "assessment/answers/"))
                .put("isComplete", completedAt != null)
                .put("completedAt", completedAt == null ? null : io.vertx.core.json.Json.decodeValue(completedAt))
                .put("score", score == null ? null : io.vertx.core.json.Json.decodeValue(score));
    }

    private static JsonObject liveValues(LwwMap map, String prefix) {
        JsonObject out = new JsonObject();
        map.sorted().forEach((k, e) -> {
            if (!e.isTombstone() && k.startsWith(prefix)) {
                out.put(k.substring(prefix.length()), io.vertx.core.json.Json.decodeValue(e.value()));
            }
        });
        return out;
    }

    // ------------------------------------------------------------------ plumbing

    /** The whole state of one user, folded from the store (used by the HTTP views). */
    Future<ReplicaState> loadState(String user) {
        ReplicaState state = new ReplicaState(sections);
        return readAll(user, 0, state).map(state);
    }

    private Future<Void> readAll(String user, long cursor, ReplicaState into) {
        return store.readSince(user, cursor, 5000).compose(page -> {
            page.changes().forEach(s -> into.apply(s.change()));
            return page.more() ? readAll(user, page.cursor(), into) : Future.succeededFuture();
        });
    }

    private Future<ServerStore.CommitResult> commit(RoutingContext ctx, List<Change> changes) {
        if (changes.isEmpty()) {
            return Future.succeededFuture(null);
        }
        changes.forEach(c -> clock.observe(c.stamp()));
        return committer.submit(new ServerStore.UserBatch(user(ctx), changes));
    }

    private void commitThenRespond(RoutingContext ctx, List<Change> changes, java.util.function.Function<ReplicaState, JsonObject> view) {
        commit(ctx, changes).compose(v -> loadState(user(ctx))).onSuccess(s -> ctx.json(view.apply(s))).onFailure(ctx::fail);
    }

    private void respondState(RoutingContext ctx, java.util.function.Function<ReplicaState, JsonObject> view) {
        loadState(user(ctx)).onSuccess(s -> ctx.json(view.apply(s))).onFailure(ctx::fail);
    }

    private static String user(RoutingContext ctx) {
        return ctx.get("user");
    }

    private JsonObject bodyObject(RoutingContext ctx) {
        // Parse with the protocol's depth-limited parser first: Vert.x's own JSON codec accepts far
        // deeper values, which would then be stored and break every client that reads them.
        if (bodyTree(ctx) == null) {
            return null;
        }
        try {
            JsonObject body = ctx.body().asJsonObject();
            if (body == null) {
                error(ctx, 400, "bad-request", "expected a JSON object body");
            }
            return body;
        } catch (RuntimeException e) {
            error(ctx, 400, "bad-request", "body is not a JSON object: " + e.getMessage());
            return null;
        }
    }

    private JsonNode bodyTree(RoutingContext ctx) {
        try {
            String text = bodyText(ctx);
            if (text == null && ctx.response().ended()) {
                return null;
            }
            JsonNode node = text == null ? null : Json.MAPPER.readTree(text);
            if (node == null || !node.isObject()) {
                error(ctx, 400, "bad-request", "expected a JSON object body");
                return null;
            }
            return node;
        } catch (IOException e) {
            error(ctx, 400, "bad-request", "body is not valid JSON: " + Json.describe(e));
            return null;
        }
    }

    /**
     * The body as text, or null if there is none. JSON is UTF-8 (RFC 8259): a body that is not is
     * answered 400 here (and null returned), rather than decoded with U+FFFD in place of the bad
     * bytes and stored.
     */
    private static String bodyText(RoutingContext ctx) {
        io.vertx.core.buffer.Buffer body = ctx.body().buffer();
        if (body == null) {
            return null;
        }
        try {
            return java.nio.charset.StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(body.getBytes())).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            error(ctx, 400, "bad-request", "request body is not valid UTF-8");
            return null;
        }
    }

    private void failure(RoutingContext ctx) {
        if (ctx.response().ended()) {
            return;
        }
        int status = ctx.statusCode();
        if (status == 413) {
            error(ctx, 413, "too-large", "request body is larger than " + maxBodyBytes + " bytes");
        } else if (status >= 400 && status < 500) {
            error(ctx, status, "bad-request", "request refused");
        } else {
            Throwable cause = ctx.failure();
            if (cause instanceof dev.cairn.server.store.QuotaExceededException quota) {
                // 413: with what the user already holds, the content is more than the server will keep for them.
                ctx.response().setStatusCode(413).putHeader("content-type", "application/json")
                        .end(new JsonObject().put("error", "quota-exceeded").put("message", quota.getMessage())
                                .put("usedBytes", quota.usedBytes()).put("wouldUseBytes", quota.wouldUseBytes())
                                .put("quotaBytes", quota.quotaBytes()).encode());
            } else if (cause instanceof dev.cairn.server.store.StoreUnavailableException) {
                error(ctx, 503, "unavailable", "the store failed; try again: " + cause.getMessage());
            } else {
                org.slf4j.LoggerFactory.getLogger(HttpApi.class).error("request failed path={}", ctx.request().path(), cause);
                error(ctx, 500, "internal", "the server failed to handle the request");
            }
        }
    }

    static void error(RoutingContext ctx, int status, String code, String message) {
        if (ctx.response().ended()) {
            return;
        }
        ctx.response().setStatusCode(status).putHeader("content-type", "application/json")
                .end(new JsonObject().put("error", code).put("message", message).encode());
    }
}
