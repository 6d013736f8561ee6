package dev.cairn.server.http;

import static dev.cairn.server.http.ApiErrors.error;

import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.GrowOnlyLog;
import dev.cairn.engine.crdt.LwwMap;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.server.section.SectionRegistry;
import dev.cairn.server.store.ServerStore;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.util.ArrayList;
import java.util.List;

/** What a user keeps on the server: {@code GET /api/usage} against the quota, {@code DELETE /api/sections/{section}}. */
final class StorageApi {

    private final UserStates users;
    private final long quotaBytes;
    private final long historyMillis;

    /**
     * @param quotaBytes    the per-user quota the committer enforces (0: none)
     * @param historyMillis how long map history is kept (0: none)
     */
    StorageApi(UserStates users, long quotaBytes, long historyMillis) {
        this.users = users;
        this.quotaBytes = quotaBytes;
        this.historyMillis = historyMillis;
    }

    /** {@code DELETE /api/sections/{section}}: clears the section on every device, devices that are offline now included. */
    void clearSection(RoutingContext ctx) {
        clearSection(ctx, UserStates.user(ctx), null);
    }

    /**
     * Clears a section of a store key (a user's, or a space's under {@code guard}: the caller's
     * role as of the commit). The server-written sections ({@code spaces}, {@code members}) are
     * refused with 403 {@code forbidden}.
     */
    void clearSection(RoutingContext ctx, String storeKey, ServerStore.Guard guard) {
        String section = ctx.pathParam("section");
        SectionKind kind = users.sections.apply(section);
        if (kind == null || (guard != null && section.equals(dev.cairn.engine.section.SpaceSections.SPACES))) {
            error(ctx, 404, "unknown-section", "unknown section '" + section + "'");
            return;
        }
        if (SectionRegistry.serverWritten(section)) {
            error(ctx, 403, "forbidden", "section '" + section + "' is written by the server only (PROTOCOL.md 8)");
            return;
        }
        users.load(storeKey).compose(state -> {
            List<Change> changes = new ArrayList<>();
            int cleared;
            if (kind == SectionKind.MAP) {
                // The clock lives in memory (a restart or another node starts lower): move it past
                // what it clears, or an entry stamped ahead of it would survive its "clear".
                LwwMap map = state.map(section);
                map.forEach((key, entry) -> users.clock.advance(entry.stamp()));
                if (map.watermark() != null) {
                    users.clock.advance(map.watermark());
                }
                cleared = map.liveSize();
                // One watermark for the whole section: it purges values and tombstones everywhere,
                // and keeps out older writes of devices that are offline now (so even an empty
                // section gets it).
                changes.add(Change.Clear.wholeSection(section, users.clock.tick()));
            } else {
                GrowOnlyLog log = state.log(section);
                for (String stream : log.streams()) {
                    log.entries(stream).forEach(e -> users.clock.advance(e.stamp()));
                    if (log.size(stream) > 0) {
                        changes.add(new Change.Clear(section, stream, users.clock.tick()));
                    }
                }
                cleared = changes.size();
            }
            return users.commit(storeKey, changes, guard).map(cleared);
        }).onSuccess(n -> ctx.json(new JsonObject().put("cleared", n))).onFailure(ctx::fail);
    }

    /** {@code GET /api/spaces/{id}/usage}: the space's own bytes (they count against its owner's quota). */
    void spaceUsage(RoutingContext ctx, String storeKey) {
        users.store.usage(storeKey).onSuccess(used -> ctx.json(new JsonObject().put("usedBytes", used))).onFailure(ctx::fail);
    }

    /** {@code GET /api/usage}: use against quota (the user's data plus every space they own, PROTOCOL.md 8.5). */
    void usage(RoutingContext ctx) {
        users.store.usage(UserStates.user(ctx)).onSuccess(used -> ctx.json(new JsonObject()
                .put("usedBytes", used)
                .put("quotaBytes", quotaBytes)
                .put("unlimited", quotaBytes == 0)
                .put("overQuota", quotaBytes > 0 && used > quotaBytes)
                .put("historyMillis", historyMillis))).onFailure(ctx::fail);
    }
}
