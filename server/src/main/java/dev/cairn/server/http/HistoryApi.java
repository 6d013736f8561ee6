package dev.cairn.server.http;

import static dev.cairn.server.http.ApiErrors.error;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.server.store.ServerStore;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.time.Instant;
import java.util.List;

/** {@code GET /api/history/{section}/{key}}: earlier values of one map key, newest first. */
final class HistoryApi {

    static final int DEFAULT_LIMIT = 100;
    static final int MAX_LIMIT = 1000;

    private final UserStates users;
    private final long historyMillis;

    /** @param historyMillis how long map history is kept (0: none) */
    HistoryApi(UserStates users, long historyMillis) {
        this.users = users;
        this.historyMillis = historyMillis;
    }

    /**
     * Mounted as {@code /api/history/:section/*}: the key is the rest of the path and may hold
     * '/' (e.g. {@code card-intro/isExpanded}), also encoded as {@code %2F}.
     */
    void history(RoutingContext ctx) {
        history(ctx, UserStates.user(ctx));
    }

    /** The history of a map key of a store key (a user's, or a space's: the caller is a member by then). */
    void history(RoutingContext ctx, String storeKey) {
        String section = ctx.pathParam("section");
        String key;
        try {
            String raw = ctx.pathParam("*");
            // Decoded here, not by the router: it leaves the wildcard encoded, and decodes a named
            // parameter's bytes that are not UTF-8 into U+FFFD, another key (HistoryPathDecodingTest).
            key = raw == null ? "" : percentDecode(raw);
            if (section == null || section.isEmpty() || key.isEmpty()) {
                throw new IllegalArgumentException("expected /api/history/{section}/{key}");
            }
            if (users.sections.apply(section) == null) {
                error(ctx, 404, "unknown-section", "unknown section '" + section + "'");
                return;
            }
            if (users.sections.apply(section) != SectionKind.MAP) {
                throw new IllegalArgumentException("section '" + section + "' is a log: history is kept for map sections only");
            }
            users.sections.check(new Change.Put(section, key, null, new Stamp(0, "server"))); // key rules, PROTOCOL.md 1.2
        } catch (IllegalArgumentException e) {
            error(ctx, 400, "bad-request", e.getMessage());
            return;
        }
        int limit = DEFAULT_LIMIT;
        String limitParam = ctx.request().getParam("limit");
        if (limitParam != null) {
            try {
                limit = Integer.parseInt(limitParam);
            } catch (NumberFormatException e) {
                limit = -1;
            }
            if (limit < 1 || limit > MAX_LIMIT) {
                error(ctx, 400, "bad-request", "limit must be between 1 and " + MAX_LIMIT);
                return;
            }
        }
        long since = historyMillis == 0 ? Long.MAX_VALUE : System.currentTimeMillis() - historyMillis;
        Future<List<ServerStore.HistoryEntry>> read = historyMillis == 0 ? Future.succeededFuture(List.of())
                : users.store.history(storeKey, section, key, since, limit);
        read.onSuccess(entries -> {
            JsonArray out = new JsonArray();
            for (ServerStore.HistoryEntry e : entries) {
                out.add(new JsonObject()
                        .put("value", e.value() == null ? null : SpecViews.rawJson(e.value()))
                        .put("deleted", e.value() == null)
                        .put("stamp", e.stamp().toString())
                        .put("replacedAt", Instant.ofEpochMilli(e.replacedAtMillis()).toString())
                        .put("replacedAtMillis", e.replacedAtMillis()));
            }
            ctx.json(new JsonObject().put("section", section).put("key", key).put("historyMillis", historyMillis).put("entries", out));
        }).onFailure(ctx::fail);
    }

    /** Any other path under /api/history/: a 400 naming the shape, not a 404. */
    void malformed(RoutingContext ctx) {
        error(ctx, 400, "bad-request", "expected /api/history/{section}/{key}");
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
}
