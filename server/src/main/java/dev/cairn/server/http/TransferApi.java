package dev.cairn.server.http;

import static dev.cairn.server.http.ApiErrors.error;

import dev.cairn.engine.clock.ClockSkewException;
import dev.cairn.engine.codec.ExportDocument;
import dev.cairn.engine.codec.TransferProgress;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.section.SpaceSections;
import dev.cairn.server.section.SectionRegistry;
import dev.cairn.server.space.SpaceKeys;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Export and import of a user's data over HTTP (PROTOCOL.md section 5), streamed on worker threads. */
final class TransferApi {

    private static final Logger LOG = LoggerFactory.getLogger(TransferApi.class);

    private final Vertx vertx;
    private final UserStates users;
    private final int maxBodyBytes;
    private final int pageSize;
    private final long maxImportBytes;
    /** Streamed exports and imports block a thread each (store pages, file, socket): never an event loop. */
    private WorkerExecutor transfers;

    /**
     * @param maxBodyBytes   the frame limit: an imported value larger than a device could receive is refused
     * @param pageSize       changes per store read of an export ({@code CAIRN_PAGE_SIZE}, as a catch-up page)
     * @param maxImportBytes largest import document ({@code CAIRN_MAX_IMPORT_BYTES})
     */
    TransferApi(Vertx vertx, UserStates users, int maxBodyBytes, int pageSize, long maxImportBytes) {
        this.vertx = vertx;
        this.users = users;
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

    /**
     * The user's export document, streamed: read from the store page by page into sorted runs on
     * disk, then merged into the response in chunks (ExportStream says how, and why the result is
     * the folded state). {@code ?sections=a,b} exports only those. Store failures while reading
     * are answered 503 before anything is sent; a failure after the first chunk cuts the connection,
     * so the client never holds a truncated file it believes complete.
     */
    void export(RoutingContext ctx) {
        TreeSet<String> chosen = chosenSections(ctx);
        if (chosen == null) {
            return;
        }
        String user = UserStates.user(ctx);
        // PROTOCOL.md 8.5: the document's "spaces" holds every space the user belongs to (their own
        // "spaces" section says which and with what role), each with the chosen sections but "spaces".
        users.liveValues(user, SpaceSections.SPACES, "").onSuccess(memberOf -> {
            List<SpaceRef> spaces = new ArrayList<>();
            memberOf.forEach((id, value) -> {
                JsonObject v = new JsonObject(value);
                if (v.getValue("name") instanceof String name && v.getValue("role") instanceof String role) {
                    spaces.add(new SpaceRef(id, name, role));
                }
            });
            exportOf(ctx, user, chosen, spaces);
        }).onFailure(ctx::fail);
    }

    private record SpaceRef(String id, String name, String role) {
    }

    /**
     * {@code GET /api/spaces/{id}/export}: the export document of a space's sections (the caller
     * is a member by then): every section but {@code spaces}; {@code members} included, read-only.
     */
    void exportSpace(RoutingContext ctx, String storeKey) {
        TreeSet<String> chosen = new TreeSet<>(users.sections.all().keySet());
        chosen.remove(SpaceSections.SPACES);
        exportOf(ctx, storeKey, chosen, List.of());
    }

    private void exportOf(RoutingContext ctx, String user, TreeSet<String> chosen, List<SpaceRef> spaceRefs) {
        Context context = vertx.getOrCreateContext();
        long started = System.nanoTime();
        TreeSet<String> spaceSections = new TreeSet<>(chosen);
        spaceSections.remove(SpaceSections.SPACES);
        List<ExportStream.SpaceSpill> spaces = new ArrayList<>();
        transfers().<ExportStream.Spill>executeBlocking(() -> {
            try {
                for (SpaceRef ref : spaceRefs) {
                    spaces.add(new ExportStream.SpaceSpill(ref.id(), ref.name(), ref.role(), spaceSections,
                            ExportStream.spill(users.store, SpaceKeys.storeKey(ref.id()), spaceSections, pageSize)));
                }
                return ExportStream.spill(users.store, user, chosen, pageSize);
            } catch (IOException | RuntimeException e) {
                spaces.forEach(TransferApi::closeQuietly);
                throw e;
            }
        }, false).onComplete(read -> {
            if (read.failed()) {
                ctx.fail(read.cause());
                return;
            }
            ExportStream.Spill spill = read.result();
            HttpServerResponse response = ctx.response();
            if (response.closed()) {
                closeQuietly(spill);
                spaces.forEach(TransferApi::closeQuietly);
                return;
            }
            long spaceChanges = 0;
            for (ExportStream.SpaceSpill s : spaces) {
                spaceChanges += s.spill().changes;
            }
            response.setChunked(true)
                    .putHeader("content-type", "application/json")
                    .putHeader("content-disposition", "attachment; filename=\"cairn-export.json\"")
                    // An upper bound of the entries (a key rewritten while reading is counted twice): for progress bars.
                    .putHeader("x-cairn-export-entries", Long.toString(spill.changes + spaceChanges));
            ResponseOutput out = new ResponseOutput(context, response, STALL_MILLIS);
            transfers().<Long>executeBlocking(() -> {
                try (spill) {
                    long entries = spill.writeTo(out, chosen, users.sections, Instant.now(), spaces);
                    out.flush();
                    return entries;
                } finally {
                    spaces.forEach(TransferApi::closeQuietly);
                }
            }, false).onComplete(written -> {
                if (written.succeeded()) {
                    response.end();
                    RequestIds.fields(LOG.atInfo(), ctx).log("export sections={} entries={} bytes={} ms={}", chosen.size(), written.result(), out.written(),
                            (System.nanoTime() - started) / 1_000_000);
                } else if (!response.headWritten()) {
                    ctx.fail(written.cause());
                } else {
                    RequestIds.fields(LOG.atWarn(), ctx).log("export cut off after {} bytes: {}", out.written(), written.cause().toString());
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
            return new TreeSet<>(users.sections.all().keySet());
        }
        TreeSet<String> chosen = new TreeSet<>();
        for (String param : params) {
            for (String name : param.split(",", -1)) {
                String section = name.trim();
                if (section.isEmpty()) {
                    continue;
                }
                if (users.sections.apply(section) == null) {
                    throw new IllegalArgumentException("unknown section '" + section + "' in ?sections=; known: " + String.join(",", users.sections.all().keySet()));
                }
                chosen.add(section);
            }
        }
        if (chosen.isEmpty()) {
            throw new IllegalArgumentException("?sections= names no section; known: " + String.join(",", users.sections.all().keySet()));
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
    void importDocument(RoutingContext ctx) {
        HttpServerRequest request = ctx.request();
        request.pause();    // nothing may be read (and lost) before the reader is in place
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
        TreeSet<String> chosen;
        try {
            chosen = chosen(ctx);
        } catch (IllegalArgumentException e) {
            refuse(ctx, in, 400, "unknown-section", e.getMessage());
            return;
        }
        long started = System.nanoTime();
        transfers().<List<Change>>executeBlocking(() -> ExportDocument.read(in, maxImportBytes, size, users.sections, TransferProgress.NONE), false)
                .onComplete(read -> {
                    if (read.failed()) {
                        Throwable e = read.cause();
                        if (in.count() > maxImportBytes) {
                            refuse(ctx, in, 413, "too-large", tooLarge());
                        } else if (e instanceof IllegalArgumentException) {
                            refuse(ctx, in, 400, "invalid-import", e.getMessage());
                        } else {
                            RequestIds.fields(LOG.atError(), ctx).setCause(e).log("import failed");
                            refuse(ctx, in, 500, "internal", "the server failed to read the import");
                        }
                        return;
                    }
                    RequestIds.fields(LOG.atInfo(), ctx).log("import bytes={} changes={} readMs={}", in.count(), read.result().size(),
                            (System.nanoTime() - started) / 1_000_000);
                    importChanges(ctx, read.result(), chosen);
                });
        in.start();
    }

    /**
     * The import route's failure handler. A refused token comes before its body was read: it is
     * answered like the import's other refusals (the rest swallowed, then the connection closed),
     * so a client still sending reads the answer. Other failures get the API's usual answers.
     */
    void failed(RoutingContext ctx) {
        if (ctx.statusCode() != 401 || ctx.request().isEnded()) {
            ApiErrors.failure(ctx, maxBodyBytes);
            return;
        }
        ctx.request().pause();
        ctx.response().putHeader("WWW-Authenticate", "Bearer");
        refuse(ctx, new RequestInput(vertx.getOrCreateContext(), ctx.request(), STALL_MILLIS), 401, "unauthorized",
                ApiErrors.refusedToken(ctx.failure()));
    }

    private void importChanges(RoutingContext ctx, List<Change> all, TreeSet<String> chosen) {
        List<Change> changes = new ArrayList<>(all.size());
        for (Change c : all) {
            // spaces and members are the server's record of memberships (PROTOCOL.md 8): an import,
            // like a push, never writes them; an export holds them, so they are skipped, not refused.
            if (!chosen.contains(c.section()) || SectionRegistry.serverWritten(c.section())) {
                continue;
            }
            try {
                users.sections.check(c);
                users.clock.check(c.stamp());
                checkValueSize(c);
            } catch (IllegalArgumentException | ClockSkewException e) { // a stamp too far ahead is bad input, not a store failure
                error(ctx, 400, "invalid-import", "entry '" + c.section() + "/" + c.target() + "' of the import file: " + e.getMessage());
                return;
            }
            changes.add(c);
        }
        long started = System.nanoTime();
        users.commit(ctx, changes).onSuccess(result -> {
            int applied = result == null ? 0 : result.applied().size();
            RequestIds.fields(LOG.atInfo(), ctx).log("import applied={} commitMs={}", applied, (System.nanoTime() - started) / 1_000_000);
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
}
