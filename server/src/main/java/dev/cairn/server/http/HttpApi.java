package dev.cairn.server.http;

import static dev.cairn.server.http.ApiErrors.error;

import dev.cairn.engine.clock.HybridClock;
import dev.cairn.server.auth.TokenAuth;
import dev.cairn.server.commit.GroupCommitter;
import dev.cairn.server.monitoring.ServerMetrics;
import dev.cairn.server.section.SectionRegistry;
import dev.cairn.server.space.Memberships;
import dev.cairn.server.space.SpaceEvents;
import dev.cairn.server.store.ServerStore;
import io.vertx.core.Vertx;
import io.vertx.ext.auth.User;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.handler.AuthenticationHandler;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.handler.SimpleAuthenticationHandler;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * The HTTP API of PROTOCOL.md section 5, on the same store, commit path and fan-out as the
 * sockets: the route table, authentication and the answers for unknown paths. The routes
 * themselves live by concern: {@link SpecApi} (the original spec's sync, preferences and
 * progress), {@link TransferApi} (export, import), {@link StorageApi} (usage, clearing a
 * section), {@link HistoryApi}, {@link SpaceApi} (shared spaces, PROTOCOL.md 8.5) and {@link AdminApi}
 * (health, metrics, dev token). Writes are
 * stamped by the server's clock (replica id {@code server}). Every route but /health, /metrics and
 * the dev token requires a bearer token and acts on its user only.
 */
public final class HttpApi {

    private final AuthenticationHandler authentication;
    private final int maxBodyBytes;
    private final AdminApi admin;
    private final SpecApi spec;
    private final TransferApi transfer;
    private final StorageApi storage;
    private final HistoryApi history;
    private final SpaceApi spaces;

    /**
     * @param maxBodyBytes   largest body of every route but import ({@code CAIRN_MAX_FRAME_BYTES})
     * @param pageSize       changes per store read of an export ({@code CAIRN_PAGE_SIZE}, as a catch-up page)
     * @param maxImportBytes largest import document ({@code CAIRN_MAX_IMPORT_BYTES})
     * @param quotaBytes     the per-user quota the committer enforces (0: none), reported by /api/usage
     * @param historyMillis  how long map history is kept (0: none), for /api/history
     * @param fanoutListening whether this node hears other nodes' commits, for /health/ready
     */
    public HttpApi(Vertx vertx, ServerStore store, GroupCommitter committer, SectionRegistry sections, HybridClock clock,
                   TokenAuth auth, boolean devTokens, ServerMetrics metrics, int maxBodyBytes, int pageSize, long maxImportBytes,
                   long quotaBytes, long historyMillis, BooleanSupplier fanoutListening) {
        this(vertx, store, committer, sections, clock, auth, devTokens, metrics, maxBodyBytes, pageSize, maxImportBytes, quotaBytes,
                historyMillis, fanoutListening, new Memberships(store, committer, clock, sections, SpaceEvents.NONE, null));
    }

    /** @param memberships the node's membership service (it tells the sessions when a membership ends) */
    public HttpApi(Vertx vertx, ServerStore store, GroupCommitter committer, SectionRegistry sections, HybridClock clock,
                   TokenAuth auth, boolean devTokens, ServerMetrics metrics, int maxBodyBytes, int pageSize, long maxImportBytes,
                   long quotaBytes, long historyMillis, BooleanSupplier fanoutListening, Memberships memberships) {
        this.authentication = authentication(auth);
        this.maxBodyBytes = maxBodyBytes;
        UserStates users = new UserStates(store, committer, sections, clock);
        this.admin = new AdminApi(new Readiness(vertx, store, fanoutListening), metrics, auth, devTokens);
        this.spec = new SpecApi(users);
        this.transfer = new TransferApi(vertx, users, maxBodyBytes, pageSize, maxImportBytes);
        this.storage = new StorageApi(users, quotaBytes, historyMillis);
        this.history = new HistoryApi(users, historyMillis);
        this.spaces = new SpaceApi(memberships, transfer, storage, history);
    }

    public void mount(Router router) {
        router.route().handler(RequestIds::assign);
        router.get("/health").handler(admin::ready);
        router.get("/health/live").handler(admin::live);
        router.get("/health/ready").handler(admin::ready);
        router.get("/metrics").handler(admin::metrics);
        // Import streams its body under its own limit (CAIRN_MAX_IMPORT_BYTES), so it is routed before
        // the BodyHandler that holds every other body in memory under CAIRN_MAX_FRAME_BYTES. Its token
        // is checked first; a refusal swallows the unread body (TransferApi.failed).
        router.post("/api/import").handler(authentication).handler(transfer::importDocument).failureHandler(transfer::failed);
        router.route("/api/*").handler(BodyHandler.create().setBodyLimit(maxBodyBytes).setHandleFileUploads(false));
        router.post("/api/dev/token").handler(admin::devToken);
        router.route("/api/*").handler(authentication);
        router.post("/api/persistence/sync").handler(spec::sync);
        router.get("/api/export").handler(transfer::export);
        router.delete("/api/sections/:section").handler(storage::clearSection);
        router.get("/api/preferences").handler(spec::getPreferences);
        router.post("/api/preferences").handler(spec::postPreferences);
        router.get("/api/progress/onboarding").handler(spec::getOnboarding);
        router.post("/api/progress/onboarding").handler(spec::postOnboarding);
        router.get("/api/progress/assessment").handler(spec::getAssessment);
        router.post("/api/progress/assessment").handler(spec::postAssessment);
        router.get("/api/usage").handler(storage::usage);
        router.get("/api/history/:section/*").handler(history::history);
        router.get("/api/history/*").handler(history::malformed);
        spaces.mount(router);
        router.route("/api/*").failureHandler(ctx -> ApiErrors.failure(ctx, maxBodyBytes));
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
            "/api/sections/*", "/api/preferences", "/api/progress/onboarding", "/api/progress/assessment", "/api/usage", "/api/history/*",
            "/api/spaces", "/api/spaces/*");

    /**
     * The router's authentication: a valid bearer token (TokenAuth's rules: HS256, {@code sub} a
     * user id, {@code exp} required) makes its {@code sub} the request's user
     * ({@link UserStates#user}); anything else fails the request with 401, answered in the API's
     * shape by {@link ApiErrors#failure}. Not vertx-web's JWTAuthHandler: it would answer a
     * correctly signed token with a string {@code exp} with 500 (the library throws), accept a
     * token without {@code exp} or with any {@code sub}, and not say why a token was refused.
     */
    private static AuthenticationHandler authentication(TokenAuth auth) {
        return SimpleAuthenticationHandler.create()
                .authenticate(ctx -> auth.authenticate(TokenAuth.bearer(ctx.request().getHeader("Authorization"))).map(User::fromName));
    }
}
