package dev.cairn.server;

import dev.cairn.engine.section.SpaceSections;
import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.codec.CanonicalJson;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.server.section.SectionRegistry;
import dev.cairn.server.store.ServerStore;
import dev.cairn.server.store.TestDatabase;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

/**
 * A real {@link SyncServer} verticle for integration tests: its own {@link Vertx}, port 0 on
 * 127.0.0.1, a known JWT secret ({@link #SECRET}) with dev tokens on, and either the embedded
 * store (in a temp dir, deleted on {@link #close}) or PostgreSQL (a URL, e.g. from
 * {@link TestDatabase#url()}).
 *
 * <pre>
 * try (TestServer server = TestServer.embedded().limits(64 &lt;&lt; 10, 10, 50, 100).start()) {
 *     try (RawSocket ws = RawSocket.connect(server.syncUri(), server.token("alice"))) { ... }
 *     server.stop();      // undeploy, keep the data
 *     server.restart();   // same port, same data
 * }
 * </pre>
 *
 * <p>Every method blocks the calling (test) thread with a timeout ({@link #TIMEOUT}); never call
 * them from an event loop.
 */
public final class TestServer implements AutoCloseable {

    /** The HS256 secret every test server signs and checks tokens with (48 characters). */
    public static final String SECRET = "cairn-test-secret-0123456789-abcdefghijklmnopqrs";

    /** How long any blocking helper waits. */
    public static final Duration TIMEOUT = Duration.ofSeconds(30);

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private final ServerConfig config;
    private final Path ownedDir;
    private UnaryOperator<ServerStore> decorateStore = UnaryOperator.identity();
    private Vertx vertx;
    private SyncServer server;
    private String deploymentId;
    private int port;

    private TestServer(ServerConfig config, Path ownedDir) {
        this.config = config;
        this.ownedDir = ownedDir;
    }

    // ------------------------------------------------------------------ construction

    /** A server on the embedded journal store, in a temp dir deleted by {@link #close}. */
    public static Builder embedded() {
        return new Builder(null, null);
    }

    /** A server on the embedded journal store in {@code dataDir} (kept on close). */
    public static Builder embedded(Path dataDir) {
        return new Builder(null, dataDir);
    }

    /** A server on PostgreSQL, e.g. {@code TestServer.postgres(db.url())} with a {@link TestDatabase}. */
    public static Builder postgres(String databaseUrl) {
        return new Builder(databaseUrl, null);
    }

    /** Settings of a test server; every setter maps to a README "Configuration" variable. */
    public static final class Builder {
        private final String databaseUrl;
        private final Path dataDir;
        private final Map<String, String> env = new LinkedHashMap<>();
        private String secret = SECRET;
        private boolean devTokens = true;
        private UnaryOperator<ServerConfig> customize = UnaryOperator.identity();
        private UnaryOperator<ServerStore> decorateStore = UnaryOperator.identity();

        private Builder(String databaseUrl, Path dataDir) {
            this.databaseUrl = databaseUrl;
            this.dataDir = dataDir;
        }

        /** maxFrameBytes (and HTTP body limit), maxBatch, maxFramesPerSecond, pageSize. */
        public Builder limits(int frameBytes, int batch, int framesPerSecond, int page) {
            env.put("CAIRN_MAX_FRAME_BYTES", Integer.toString(frameBytes));
            env.put("CAIRN_MAX_BATCH", Integer.toString(batch));
            env.put("CAIRN_MAX_FRAMES_PER_SECOND", Integer.toString(framesPerSecond));
            env.put("CAIRN_PAGE_SIZE", Integer.toString(page));
            return this;
        }

        public Builder maxAheadMillis(long millis) {
            env.put("CAIRN_MAX_AHEAD_MS", Long.toString(millis));
            return this;
        }

        /** App sections beyond the standard ones, e.g. {@code "notes:map,audit:log"}. */
        public Builder sections(String spec) {
            env.put("CAIRN_SECTIONS", spec);
            return this;
        }

        public Builder nodeId(String nodeId) {
            env.put("CAIRN_NODE_ID", nodeId);
            return this;
        }

        public Builder secret(String value) {
            this.secret = value;
            return this;
        }

        public Builder devTokens(boolean on) {
            this.devTokens = on;
            return this;
        }

        /** A last change to the config (e.g. {@code c -> c.withNodeId("n1")}); the port is set afterwards. */
        public Builder configure(UnaryOperator<ServerConfig> change) {
            this.customize = change;
            return this;
        }

        /** Wraps the server's store (e.g. to count what the server reads). */
        public Builder decorateStore(UnaryOperator<ServerStore> decorator) {
            this.decorateStore = decorator;
            return this;
        }

        /** Any other variable of the README's configuration table. */
        public Builder env(String variable, String value) {
            env.put(variable, value);
            return this;
        }

        /** Deploys the server; fails with a clear message (e.g. PostgreSQL not reachable). */
        public TestServer start() {
            Path ownedDir = null;
            Path dir = dataDir;
            if (databaseUrl == null && dir == null) {
                try {
                    ownedDir = Files.createTempDirectory("cairn-test-server");
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                dir = ownedDir;
            }
            Map<String, String> all = new LinkedHashMap<>(env);
            all.put("CAIRN_HOST", "127.0.0.1");
            ServerConfig config = ServerConfig.fromEnv(all)
                    .withPort(0)
                    .withDatabaseUrl(databaseUrl)
                    .withDataDir(dir == null ? Path.of("unused-cairn-data") : dir)
                    .withJwtSecret(secret, devTokens);
            config = customize.apply(config);
            TestServer server = new TestServer(config, ownedDir);
            server.decorateStore = decorateStore;
            server.vertx = Vertx.vertx();
            try {
                server.deploy(0);
            } catch (RuntimeException | AssertionError e) {
                server.close();
                throw e;
            }
            return server;
        }
    }

    private void deploy(int onPort) {
        SyncServer s = new SyncServer(config.withPort(onPort), decorateStore);
        try {
            deploymentId = await(vertx.deployVerticle(s));
        } catch (AssertionError e) {
            String hint = config.embedded() ? "" : " (is PostgreSQL up? " + TestDatabase.NOT_REACHABLE + ")";
            throw new AssertionError("the test server did not start on port " + onPort + hint + ": " + e.getMessage(), e.getCause());
        }
        server = s;
        port = s.port();
    }

    // ------------------------------------------------------------------ lifecycle

    /** Undeploys the server (closing its sockets and store) and keeps the data. */
    public void stop() {
        if (deploymentId != null) {
            String id = deploymentId;
            deploymentId = null;
            server = null;
            await(vertx.undeploy(id));
        }
    }

    /** Starts the server again on the same port with the same data (stopping it first if it runs). */
    public void restart() {
        stop();
        deploy(port);
    }

    public boolean running() {
        return deploymentId != null;
    }

    @Override
    public void close() {
        try {
            if (vertx != null) {
                try {
                    stop();
                } finally {
                    await(vertx.close());
                }
            }
        } finally {
            vertx = null;
            if (ownedDir != null) {
                deleteTree(ownedDir);
            }
        }
    }

    // ------------------------------------------------------------------ what tests use

    public int port() {
        return port;
    }

    public String httpBase() {
        return "http://127.0.0.1:" + port;
    }

    public URI syncUri() {
        return URI.create("ws://127.0.0.1:" + port + "/sync");
    }

    public ServerConfig config() {
        return config.withPort(port);
    }

    public Vertx vertx() {
        return vertx;
    }

    public String secret() {
        return config.jwtSecret();
    }

    /** A valid one-hour token for {@code user}, minted by the server. */
    public String token(String user) {
        return live().mintToken(user);
    }

    /** The running server's store (closed while the server is stopped). */
    public ServerStore store() {
        return live().store();
    }

    /** The running node (its committer and SpaceEvents: what the membership service uses). */
    public SyncServer node() {
        return live();
    }

    private SyncServer live() {
        SyncServer s = server;
        if (s == null) {
            throw new IllegalStateException("the test server is stopped");
        }
        return s;
    }

    /** The user's highest seq in the store. */
    public long head(String user) {
        return await(store().head(user));
    }

    /** The user's whole merged state, read from the store. */
    public ReplicaState state(String user) {
        ReplicaState state = new ReplicaState(new SectionRegistry(config.extraSections()));
        long cursor = 0;
        while (true) {
            ServerStore.Page page = await(store().readSince(user, cursor, 1000));
            page.changes().stream().filter(s -> SpaceSections.clientVisible(s.change().section()))
                    .forEach(s -> state.apply(s.change()));
            if (!page.more()) {
                return state;
            }
            cursor = page.cursor();
        }
    }

    /** The user's state as canonical JSON (byte-identical iff the states are equal). */
    public String canonical(String user) {
        return CanonicalJson.encode(state(user));
    }

    // ------------------------------------------------------------------ HTTP

    /** An HTTP answer; {@link #json()} parses the body. */
    public record Response(int status, String body, Map<String, java.util.List<String>> headers) {
        public JsonNode json() {
            try {
                return Json.MAPPER.readTree(body);
            } catch (IOException e) {
                throw new AssertionError("response body is not JSON (status " + status + "): " + body, e);
            }
        }

        public String header(String name) {
            return headers.entrySet().stream().filter(e -> e.getKey().equalsIgnoreCase(name))
                    .flatMap(e -> e.getValue().stream()).findFirst().orElse(null);
        }

        @Override
        public String toString() {
            return status + " " + body;
        }
    }

    /** Sends a request with an optional bearer token (null = none) and body (null = none). */
    public Response request(String method, String path, String token, String body) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(httpBase() + path)).timeout(TIMEOUT)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        return send(b.build());
    }

    /** Sends a prepared request (for odd headers); the URI must point at this server. */
    public static Response send(HttpRequest request) {
        try {
            HttpResponse<String> r = HTTP.send(request, HttpResponse.BodyHandlers.ofString());
            return new Response(r.statusCode(), r.body(), r.headers().map());
        } catch (IOException e) {
            throw new AssertionError(request.method() + " " + request.uri() + " failed: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    public Response get(String path, String token) {
        return request("GET", path, token, null);
    }

    public Response post(String path, String token, String body) {
        return request("POST", path, token, body);
    }

    public Response delete(String path, String token) {
        return request("DELETE", path, token, null);
    }

    // ------------------------------------------------------------------ plumbing

    /** Waits for a future from the test thread; a failure or timeout is an AssertionError. */
    public static <T> T await(Future<T> future) {
        try {
            return future.toCompletionStage().toCompletableFuture().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            throw new AssertionError(cause.toString(), cause);
        } catch (TimeoutException e) {
            throw new AssertionError("no answer within " + TIMEOUT, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    private static void deleteTree(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // best effort: a temp dir
                }
            });
        } catch (IOException ignored) {
            // best effort
        }
    }
}
