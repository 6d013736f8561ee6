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
import dev.cairn.engine.codec.TransferProgress;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

/**
 * The HTTP API of PROTOCOL.md section 5, on the same store, commit path and fan-out as the
 * sockets. Writes are stamped by the server's clock (replica id {@code server}). Every route but
 * /health, /metrics and the dev token requires a bearer token and acts on its user only.
 */
public final class HttpApi {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(HttpApi.class);

    private final Vertx vertx;
    private final ServerStore store;
    private final GroupCommitter committer;
    private final SectionRegistry sections;
    private final HybridClock clock;
    private final TokenAuth auth;
    private final boolean devTokens;
    private final ServerMetrics metrics;
    private final int maxBodyBytes;
    private final int pageSize;
    private final long maxImportBytes;
    /** Streamed exports and imports block a thread each (store pages, file, socket): never an event loop. */
    private WorkerExecutor transfers;
    private final long quotaBytes;
    private final long historyMillis;

    /**
     * @param maxBodyBytes   largest body of every route but import ({@code CAIRN_MAX_FRAME_BYTES})
     * @param pageSize       changes per store read of an export ({@code CAIRN_PAGE_SIZE}, as a catch-up page)
     * @param maxImportBytes largest import document ({@code CAIRN_MAX_IMPORT_BYTES})
     * @param quotaBytes     the per-user quota the committer enforces (0: none), reported by /api/usage
     * @param historyMillis  how long map history is kept (0: none), for /api/history
     */
    public HttpApi(Vertx vertx, ServerStore store, GroupCommitter committer, SectionRegistry sections, HybridClock clock,
                   TokenAuth auth, boolean devTokens, ServerMetrics metrics, int maxBodyBytes, int pageSize, long maxImportBytes,
                   long quotaBytes, long historyMillis) {
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
        this.pageSize = pageSize;
        this.maxImportBytes = maxImportBytes;
    }

    /**
     * The transfer threads, made on first use from a request handler, so on the server verticle's
     * context: Vert.x closes them when that verticle is undeployed. 8 threads: a slow uploader holds
     * one while it sends. Event loop only.
     */
    private WorkerExecutor transfers() {
        if (transfers == null) {
            transfers = vertx.createSharedWorkerExecutor("cairn-transfer", TRANSFER_THREADS, 1, TimeUnit.HOURS);
        }
        return transfers;
    }

    private static final int TRANSFER_THREADS = 8;
    /** A refused import's rest is read and dropped up to this much at least, so the client gets the answer. */
    private static final long DISCARD_AT_LEAST = 16L << 20;
    /** A transfer whose client sends or reads nothing this long is given up. */
    private static final long STALL_MILLIS = 60_000;

    public void mount(Router router) {
        router.get("/health").handler(this::health);
        router.get("/metrics").handler(ctx -> ctx.response().putHeader("content-type", "text/plain; version=0.0.4").end(metrics.scrape()));
        // Import streams its body under its own limit (CAIRN_MAX_IMPORT_BYTES), so it is routed before
        // the BodyHandler that holds every other body in memory under CAIRN_MAX_FRAME_BYTES.
        router.post("/api/import").handler(this::importDocument);
        router.route("/api/*").handler(BodyHandler.create().setBodyLimit(maxBodyBytes).setHandleFileUploads(false));
        router.post("/api/dev/token").handler(this::devToken);
        router.route("/api/*").handler(this::authenticate);
        router.post("/api/persistence/sync").handler(this::sync);
        router.get("/api/export").handler(this::export);
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
        // Anything else under /api is answered in the API's error shape, not Vert.x's HTML page.
        router.route("/api/*").handler(ctx -> {
            boolean known = KNOWN_PATHS.stream().anyMatch(p -> p.endsWith("*") ? ctx.request().path().startsWith(p.substring(0, p.length() - 1))
                    : ctx.request().path().equals(p));
            if (known) {
                error(ctx, 405, "method-not-allowed", ctx.request().method() + " is not allowed on " + ctx.request().path());
            } else {
                error(ctx, 404, "not-found", "no such endpoint: " + ctx.request().method() + " " + ctx.request().path());
            }
        });
    }

    /** The API's paths, for telling a wrong method (405) from an unknown path (404). */
    private static final List<String> KNOWN_PATHS = List.of("/api/import", "/api/dev/token", "/api/persistence/sync", "/api/export",
            "/api/sections/*", "/api/preferences", "/api/progress/onboarding", "/api/progress/assessment", "/api/usage", "/api/history/*");

    // ------------------------------------------------------------------ routes

    private void health(RoutingContext ctx) {
        store.ping().onComplete(ar -> {
            // Anyone may call /health: the answer names no database, driver or error text (those go to the log).
            if (ar.succeeded()) {
                ctx.json(new JsonObject().put("status", "up"));
            } else {
                LOG.warn("health check: the store did not answer: {}", ar.cause().toString());
                ctx.response().setStatusCode(503);
                ctx.json(new JsonObject().put("status", "down").put("reason", "store-unavailable"));
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

    /**
     * The user's export document, streamed: read from the store page by page into sorted runs on
     * disk, then merged into the response in chunks (ExportStream says how, and why the result is
     * the folded state). {@code ?sections=a,b} exports only those. Store failures while reading
     * are answered 503 before anything is sent; a failure after the first chunk cuts the connection,
     * so the client never holds a truncated file it believes complete.
     */
    private void export(RoutingContext ctx) {
        TreeSet<String> chosen = chosenSections(ctx);
        if (chosen == null) {
            return;
        }
        String user = user(ctx);
        Context context = vertx.getOrCreateContext();
        long started = System.nanoTime();
        transfers().<ExportStream.Spill>executeBlocking(() -> ExportStream.spill(store, user, chosen, pageSize), false).onComplete(read -> {
            if (read.failed()) {
                ctx.fail(read.cause());
                return;
            }
            ExportStream.Spill spill = read.result();
            HttpServerResponse response = ctx.response();
            if (response.closed()) {
                closeQuietly(spill);
                return;
            }
            response.setChunked(true)
                    .putHeader("content-type", "application/json")
                    .putHeader("content-disposition", "attachment; filename=\"cairn-export.json\"")
                    // An upper bound of the entries (a key rewritten while reading is counted twice): for progress bars.
                    .putHeader("x-cairn-export-entries", Long.toString(spill.changes));
            ResponseOutput out = new ResponseOutput(context, response, STALL_MILLIS);
            transfers().<Long>executeBlocking(() -> {
                try (spill) {
                    long entries = spill.writeTo(out, chosen, sections, Instant.now());
                    out.flush();
                    return entries;
                }
            }, false).onComplete(written -> {
                if (written.succeeded()) {
                    response.end();
                    LOG.info("export user={} sections={} entries={} bytes={} ms={}", user, chosen.size(), written.result(), out.written(),
                            (System.nanoTime() - started) / 1_000_000);
                } else if (!response.headWritten()) {
                    ctx.fail(written.cause());
                } else {
                    LOG.warn("export user={} cut off after {} bytes: {}", user, out.written(), written.cause().toString());
                    ctx.request().connection().close();
                }
            });
        });
    }

    /** {@code ?sections=a,b}: the named sections, or all; answers 400 and returns null for an unknown one. */
    private TreeSet<String> chosenSections(RoutingContext ctx) {
        try {
            return chosen(ctx);
        } catch (IllegalArgumentException e) {
            error(ctx, 400, "unknown-section", e.getMessage());
            return null;
        }
    }

    private TreeSet<String> chosen(RoutingContext ctx) {
        List<String> params = ctx.queryParam("sections");
        if (params.isEmpty()) {
            return new TreeSet<>(sections.all().keySet());
        }
        TreeSet<String> chosen = new TreeSet<>();
        for (String param : params) {
            for (String name : param.split(",", -1)) {
                String section = name.trim();
                if (section.isEmpty()) {
                    continue;
                }
                if (sections.apply(section) == null) {
                    throw new IllegalArgumentException("unknown section '" + section + "' in ?sections=; known: " + String.join(",", sections.all().keySet()));
                }
                chosen.add(section);
            }
        }
        if (chosen.isEmpty()) {
            throw new IllegalArgumentException("?sections= names no section; known: " + String.join(",", sections.all().keySet()));
        }
        return chosen;
    }

    /**
     * Import: the document streams from the request into the parser on a worker thread (never
     * held as one string or tree) under CAIRN_MAX_IMPORT_BYTES. All or nothing: the whole file is
     * read and every change checked (format and version, sections and kinds, names, values, stamps
     * not too far ahead of the server's clock) before anything is written; then all of it is
     * committed as one batch, which the store applies in one transaction (PostgreSQL: one
     * BEGIN..COMMIT; the embedded journal: one checksummed record). If the store fails midway the
     * transaction is rolled back (a torn journal record is cut off on replay), nothing of the file
     * is kept, and the answer is 503. {@code ?sections=a,b} imports only those sections of the file.
     */
    private void importDocument(RoutingContext ctx) {
        HttpServerRequest request = ctx.request();
        request.pause();    // nothing may be read (and lost) while the token is checked
        RequestInput in = new RequestInput(vertx.getOrCreateContext(), request, STALL_MILLIS);
        String length = request.getHeader("Content-Length");
        long total = -1;
        if (length != null) {
            try {
                total = Long.parseLong(length.trim());
            } catch (NumberFormatException e) {
                refuse(ctx, in, 400, "bad-request", "Content-Length is not a number");
                return;
            }
            if (total > maxImportBytes) {
                refuse(ctx, in, 413, "too-large", tooLarge());
                return;
            }
        }
        long size = total;
        auth.authenticate(TokenAuth.bearer(request.getHeader("Authorization"))).onFailure(e -> {
            ctx.response().putHeader("WWW-Authenticate", "Bearer");
            refuse(ctx, in, 401, "unauthorized", e.getMessage());
        }).onSuccess(user -> {
            ctx.put("user", user);
            TreeSet<String> chosen;
            try {
                chosen = chosen(ctx);
            } catch (IllegalArgumentException e) {
                refuse(ctx, in, 400, "unknown-section", e.getMessage());
                return;
            }
            long started = System.nanoTime();
            transfers().<List<Change>>executeBlocking(() -> ExportDocument.read(in, maxImportBytes, size, sections, TransferProgress.NONE), false)
                    .onComplete(read -> {
                        if (read.failed()) {
                            Throwable e = read.cause();
                            if (in.count() > maxImportBytes) {
                                refuse(ctx, in, 413, "too-large", tooLarge());
                            } else if (e instanceof IllegalArgumentException) {
                                refuse(ctx, in, 400, "invalid-import", e.getMessage());
                            } else {
                                LOG.error("import failed user={}", user, e);
                                refuse(ctx, in, 500, "internal", "the server failed to read the import");
                            }
                            return;
                        }
                        LOG.info("import user={} bytes={} changes={} readMs={}", user, in.count(), read.result().size(),
                                (System.nanoTime() - started) / 1_000_000);
                        importChanges(ctx, read.result(), chosen);
                    });
            in.start();
        });
    }

    private void importChanges(RoutingContext ctx, List<Change> all, TreeSet<String> chosen) {
        List<Change> changes = new ArrayList<>(all.size());
        for (Change c : all) {
            if (!chosen.contains(c.section())) {
                continue;
            }
            try {
                sections.check(c);
                clock.check(c.stamp());
                checkValueSize(c);
            } catch (IllegalArgumentException | ClockSkewException e) { // a stamp too far ahead is bad input, not a store failure
                error(ctx, 400, "invalid-import", "entry '" + c.section() + "/" + c.target() + "' of the import file: " + e.getMessage());
                return;
            }
            changes.add(c);
        }
        long started = System.nanoTime();
        commit(ctx, changes).onSuccess(result -> {
            int applied = result == null ? 0 : result.applied().size();
            LOG.info("import user={} applied={} commitMs={}", user(ctx), applied, (System.nanoTime() - started) / 1_000_000);
            ctx.json(new JsonObject().put("changesRead", changes.size()).put("changesApplied", applied));
        }).onFailure(ctx::fail);
    }

    /** A value no device could receive (larger than a frame) is refused, as a push of it would be. */
    private void checkValueSize(Change c) {
        String value = c instanceof Change.Put put ? put.value() : c instanceof Change.Append a ? a.value() : null;
        if (value == null || value.length() * 3L <= maxBodyBytes) {
            return;
        }
        long bytes = value.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        if (bytes > maxBodyBytes - 1024L) {
            throw new IllegalArgumentException("its value is " + bytes + " bytes; devices sync values up to " + (maxBodyBytes - 1024) + " bytes (CAIRN_MAX_FRAME_BYTES less framing)");
        }
    }

    private String tooLarge() {
        return "import file is larger than the limit of " + maxImportBytes + " bytes (CAIRN_MAX_IMPORT_BYTES)";
    }

    /**
     * Answers an import before its body was read to the end, then swallows the rest (up to twice
     * CAIRN_MAX_IMPORT_BYTES more, at least 16 MiB; past that it is cut) so the client, still sending, reads the answer, and closes
     * the connection: its unread rest must not be taken for the next request.
     */
    private void refuse(RoutingContext ctx, RequestInput in, int status, String code, String message) {
        HttpServerResponse response = ctx.response();
        if (response.ended()) {
            return;
        }
        String body = new JsonObject().put("error", code).put("message", message).encode();
        response.setStatusCode(status).putHeader("content-type", "application/json");
        // Clients send the whole body before they read the answer: swallow at least some megabytes.
        long allowance = Math.max(2 * maxImportBytes, DISCARD_AT_LEAST);
        if (ctx.request().version() == io.vertx.core.http.HttpVersion.HTTP_2) {
            // One stream of a shared connection: swallow the rest, or past the allowance reset the stream only.
            response.end(body).onComplete(v -> in.discardRest(allowance, response::reset));
        } else {
            // close() would wait for this request to end, which a paused upload never does: shut down now.
            response.putHeader("Connection", "close").end(body)
                    .onComplete(v -> in.discardRest(allowance, () -> ctx.request().connection().shutdown(0, TimeUnit.MILLISECONDS)));
        }
    }

    private static void closeQuietly(java.io.Closeable c) {
        try {
            c.close();
        } catch (IOException e) {
            LOG.warn("could not delete an export's temp file: {}", e.toString());
        }
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
            int cleared;
            if (kind == SectionKind.MAP) {
                // The clock lives in memory (a restart or another node starts lower): move it past
                // what it clears, or an entry stamped ahead of it would survive its "clear".
                LwwMap map = state.map(section);
                map.forEach((key, entry) -> clock.advance(entry.stamp()));
                if (map.watermark() != null) {
                    clock.advance(map.watermark());
                }
                cleared = map.liveSize();
                // One watermark for the whole section: it purges values and tombstones everywhere,
                // and keeps out older writes of devices that are offline now (so even an empty
                // section gets it).
                changes.add(Change.Clear.wholeSection(section, clock.tick()));
            } else {
                GrowOnlyLog log = state.log(section);
                for (String stream : log.streams()) {
                    log.entries(stream).forEach(e -> clock.advance(e.stamp()));
                    if (log.size(stream) > 0) {
                        changes.add(new Change.Clear(section, stream, clock.tick()));
                    }
                }
                cleared = changes.size();
            }
            return commit(ctx, changes).map(cleared);
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
                        .put("value", e.value() == null ? null : rawJson(e.value()))
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
        JsonNode body = bodyTree(ctx);
        if (body == null) {
            return;
        }
        List<Change> changes = new ArrayList<>();
        try {
            var fields = body.fields();
            while (fields.hasNext()) {
                var f = fields.next();
                JsonNode v = f.getValue();
                changes.add(new Change.Put(StandardSections.PREFERENCES, f.getKey(), v.isNull() ? null : Json.writeTree(v), clock.tick()));
            }
        } catch (IllegalArgumentException e) {
            error(ctx, 400, "bad-request", e.getMessage());
            return;
        }
        commitThenRespond(ctx, changes, HttpApi::preferences);
    }

    private void postOnboarding(RoutingContext ctx) {
        JsonNode body = bodyTree(ctx);
        if (body == null) {
            return;
        }
        String expected = "expected {\"stepId\":\"...\",\"completed\":true|false} and/or {\"currentStep\":\"...\"}";
        List<Change> changes = new ArrayList<>();
        var names = body.fieldNames();
        while (names.hasNext()) {
            String name = names.next();
            if (!Set.of("stepId", "completed", "currentStep").contains(name)) {
                error(ctx, 400, "bad-request", expected + ": unknown member '" + name + "'");
                return;
            }
        }
        // Types are checked, never coerced: {"stepId":5} is not step "5", and a missing "completed" is not true.
        JsonNode step = body.get("stepId");
        JsonNode completed = body.get("completed");
        JsonNode current = body.get("currentStep");
        if (step != null && !step.isTextual() || completed != null && !completed.isBoolean() || current != null && !current.isTextual() && !current.isNull()) {
            error(ctx, 400, "bad-request", expected + ": 'stepId' and 'currentStep' are strings, 'completed' is true or false");
            return;
        }
        if ((step == null) != (completed == null)) {
            error(ctx, 400, "bad-request", expected + ": 'stepId' and 'completed' go together");
            return;
        }
        try {
            if (step != null) {
                changes.add(new Change.Put(StandardSections.PROGRESS, "onboarding/steps/" + step.textValue(),
                        completed.booleanValue() ? "true" : null, clock.tick()));
            }
            if (current != null) {
                changes.add(new Change.Put(StandardSections.PROGRESS, "onboarding/currentStep", Json.writeTree(current), clock.tick()));
            }
        } catch (IllegalArgumentException e) {
            error(ctx, 400, "bad-request", expected + ": " + e.getMessage()); // our own validation's message (key rules), never a library's
            return;
        }
        if (changes.isEmpty()) {
            error(ctx, 400, "bad-request", "expected {\"stepId\":\"...\",\"completed\":true} or {\"currentStep\":\"...\"}");
            return;
        }
        commitThenRespond(ctx, changes, HttpApi::onboarding);
    }

    private void postAssessment(RoutingContext ctx) {
        JsonNode body = bodyTree(ctx);
        if (body == null) {
            return;
        }
        String expected = "expected {\"answers\":{...}} and/or {\"complete\":true,\"score\":0.8}";
        JsonNode answers = body.get("answers");
        JsonNode complete = body.get("complete");
        JsonNode score = body.get("score");
        if (answers != null && !answers.isObject() && !answers.isNull() || complete != null && !complete.isBoolean()
                || score != null && !score.isNumber() && !score.isNull()) {
            error(ctx, 400, "bad-request", expected + ": 'answers' is an object, 'complete' true or false, 'score' a number");
            return;
        }
        List<Change> changes = new ArrayList<>();
        try {
            if (answers != null && answers.isObject()) {
                var fields = answers.fields();
                while (fields.hasNext()) {
                    var f = fields.next();
                    changes.add(new Change.Put(StandardSections.PROGRESS, "assessment/answers/" + f.getKey(), Json.writeTree(f.getValue()), clock.tick()));
                }
            }
            if (complete != null && complete.booleanValue()) {
                changes.add(new Change.Put(StandardSections.PROGRESS, "assessment/completedAt", Json.write(Instant.now().toString()), clock.tick()));
                if (score != null && !score.isNull()) {
                    changes.add(new Change.Put(StandardSections.PROGRESS, "assessment/score", Json.writeTree(score), clock.tick()));
                }
            }
        } catch (IllegalArgumentException e) {
            error(ctx, 400, "bad-request", expected + ": " + e.getMessage()); // our own validation's message (key rules), never a library's
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
                .put("currentStep", current == null ? null : rawJson(current));
    }

    static JsonObject assessment(ReplicaState state) {
        LwwMap progress = state.map(StandardSections.PROGRESS);
        String completedAt = progress.value("assessment/completedAt");
        String score = progress.value("assessment/score");
        return new JsonObject().put("answers", liveValues(progress, "assessment/answers/"))
                .put("isComplete", completedAt != null)
                .put("completedAt", completedAt == null ? null : rawJson(completedAt))
                .put("score", score == null ? null : rawJson(score));
    }

    /**
     * A stored value for a JSON answer, written as its stored text (never decoded to a Java number
     * and re-encoded, which would change its spelling: PROTOCOL.md 1.2).
     */
    private static Object rawJson(String text) {
        return new com.fasterxml.jackson.databind.util.RawValue(text);
    }

    private static JsonObject liveValues(LwwMap map, String prefix) {
        JsonObject out = new JsonObject();
        map.sorted().forEach((k, e) -> {
            if (!e.isTombstone() && k.startsWith(prefix)) {
                out.put(k.substring(prefix.length()), rawJson(e.value()));
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
            error(ctx, 400, "bad-request", "body is not a JSON object");
            return null;
        }
    }

    private JsonNode bodyTree(RoutingContext ctx) {
        try {
            String text = bodyText(ctx);
            if (text == null && ctx.response().ended()) {
                return null;
            }
            JsonNode node = text == null ? null : Json.readCheckedTree(text);
            if (node == null || !node.isObject()) {
                error(ctx, 400, "bad-request", "expected a JSON object body");
                return null;
            }
            return node;
        } catch (Json.InvalidNumberException e) {
            // PROTOCOL.md 1.2: a number the server cannot give back exactly is refused, not changed.
            error(ctx, 400, "invalid-change", "the body holds a value the server cannot keep exactly: " + Json.describe(e));
            return null;
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
        } else if (status == 405) {
            error(ctx, 405, "method-not-allowed", ctx.request().method() + " is not allowed on " + ctx.request().path());
        } else if (status == 404) {
            error(ctx, 404, "not-found", "no such endpoint: " + ctx.request().path());
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
                LOG.warn("store unavailable path={}: {}", ctx.request().path(), cause.toString());
                error(ctx, 503, "unavailable", "the store failed; try again");
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
