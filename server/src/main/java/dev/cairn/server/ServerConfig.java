package dev.cairn.server;

import dev.cairn.engine.crdt.Names;
import dev.cairn.engine.crdt.SectionKind;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;

/**
 * Server settings, read from environment variables (README "Configuration" lists them). A bad
 * value is an {@link IllegalArgumentException} naming the variable.
 *
 * @param databaseUrl    PostgreSQL URL; null selects the embedded journal store in {@code dataDir} (file {@code server.journal})
 * @param jwtSecret      HS256 key for bearer tokens; null means dev mode with a random key
 * @param devTokens      whether {@code POST /api/dev/token} mints tokens (demo sign-in)
 * @param extraSections  app sections besides the standard ones, name to kind
 * @param slowConsumerMillis how long a socket's write queue may stay full before it is closed as a slow consumer
 * @param outbound       the node's bounds on text queued to sockets
 * @param userData       per-user quota and how long map history is kept
 * @param transfer       limits of export and import over HTTP
 * @param eventLoops     event loops that serve sockets and HTTP (one server instance each; default: the cores)
 */
public record ServerConfig(
        String host,
        int port,
        String databaseUrl,
        int dbPoolSize,
        Path dataDir,
        String jwtSecret,
        boolean devTokens,
        int maxFrameBytes,
        int maxBatch,
        long maxAheadMillis,
        int maxFramesPerSecond,
        int pageSize,
        int maxPendingWriteBytes,
        String nodeId,
        Map<String, SectionKind> extraSections,
        Path webRoot,
        Security security,
        long slowConsumerMillis,
        Outbound outbound,
        UserData userData,
        Transfer transfer,
        int eventLoops) {

    public ServerConfig {
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(dataDir, "dataDir");
        Objects.requireNonNull(nodeId, "nodeId");
        extraSections = Map.copyOf(extraSections);
        Objects.requireNonNull(security, "security");
        Objects.requireNonNull(outbound, "outbound");
        Objects.requireNonNull(userData, "userData");
        Objects.requireNonNull(transfer, "transfer");
        positive(port, "CAIRN_PORT", true);
        positive(dbPoolSize, "CAIRN_DB_POOL_SIZE", false);
        positive(maxFrameBytes, "CAIRN_MAX_FRAME_BYTES", false);
        positive(maxBatch, "CAIRN_MAX_BATCH", false);
        positive(maxFramesPerSecond, "CAIRN_MAX_FRAMES_PER_SECOND", false);
        positive(pageSize, "CAIRN_PAGE_SIZE", false);
        positive(eventLoops, "CAIRN_EVENT_LOOPS", false);
        positive(maxPendingWriteBytes, "CAIRN_MAX_PENDING_WRITE_BYTES", false);
        if (slowConsumerMillis <= 0) {
            throw new IllegalArgumentException("CAIRN_SLOW_CONSUMER_MS must be > 0, got " + slowConsumerMillis);
        }
        if (maxAheadMillis < 0) {
            throw new IllegalArgumentException("CAIRN_MAX_AHEAD_MS must be >= 0, got " + maxAheadMillis);
        }
        if (jwtSecret != null && jwtSecret.length() < 32) {
            throw new IllegalArgumentException("CAIRN_JWT_SECRET must be at least 32 characters for HS256");
        }
        if (security.maxChangesPerSecond() < maxBatch) {
            // otherwise a full batch could never be accepted
            throw new IllegalArgumentException("CAIRN_MAX_CHANGES_PER_SECOND (" + security.maxChangesPerSecond()
                    + ") must be at least CAIRN_MAX_BATCH (" + maxBatch + ")");
        }
    }

    /**
     * Who may connect and how much (README "Configuration").
     *
     * @param maxSocketsPerUser   open sockets one user may have on this node; more are refused with HTTP 429
     * @param maxSockets          open sockets on this node in all; more are refused with HTTP 503
     * @param maxChangesPerSecond pushed changes per socket and second; more get {@code rate-limited}
     * @param allowedOrigins      browser origins (scheme://host[:port]) besides the server's own; "*" allows any
     * @param tls                 certificate to serve https/wss with; null serves plain http/ws
     */
    public record Security(int maxSocketsPerUser, int maxSockets, int maxChangesPerSecond, List<String> allowedOrigins, Tls tls) {
        public Security {
            allowedOrigins = List.copyOf(allowedOrigins);
            positive(maxSocketsPerUser, "CAIRN_MAX_SOCKETS_PER_USER", false);
            positive(maxSockets, "CAIRN_MAX_SOCKETS", false);
            positive(maxChangesPerSecond, "CAIRN_MAX_CHANGES_PER_SECOND", false);
        }

        public Security withTls(Tls value) {
            return new Security(maxSocketsPerUser, maxSockets, maxChangesPerSecond, allowedOrigins, value);
        }
    }

    /**
     * What the server may hold for sockets that read slower than it writes (RELIABILITY.md).
     *
     * @param maxBytes     text queued to all sockets of this node and not yet written to the network;
     *                     above it catch-ups wait and sockets with a full queue are closed as slow
     *                     consumers early ({@code CAIRN_MAX_OUTBOUND_BYTES}, default a quarter of the heap)
     * @param maxPageBytes most text in one {@code changes} frame of a catch-up; a page read from the
     *                     store is sent in several frames if it is larger ({@code CAIRN_MAX_PAGE_BYTES}, 1 MiB)
     */
    public record Outbound(long maxBytes, int maxPageBytes) {
        public Outbound {
            if (maxBytes <= 0) {
                throw new IllegalArgumentException("CAIRN_MAX_OUTBOUND_BYTES must be > 0, got " + maxBytes);
            }
            positive(maxPageBytes, "CAIRN_MAX_PAGE_BYTES", false);
        }

        public static Outbound defaults() {
            return new Outbound(Runtime.getRuntime().maxMemory() / 4, 1 << 20);
        }
    }

    /**
     * What the server keeps of each user's data (issue 7).
     *
     * @param quotaBytes    most bytes of state one user may hold on the server (keys and values of live
     *                      map entries and log entries); a push or import beyond it is refused with
     *                      {@code quota-exceeded} ({@code CAIRN_USER_QUOTA_BYTES}, default 100 MiB; 0 is no limit)
     * @param historyMillis how long earlier values of map keys are kept for history and restore
     *                      ({@code CAIRN_HISTORY_MS}, default 7 days; 0 keeps none)
     */
    public record UserData(long quotaBytes, long historyMillis) {
        public UserData {
            if (quotaBytes < 0) {
                throw new IllegalArgumentException("CAIRN_USER_QUOTA_BYTES must be >= 0 (0: no limit), got " + quotaBytes);
            }
            if (historyMillis < 0) {
                throw new IllegalArgumentException("CAIRN_HISTORY_MS must be >= 0 (0: no history), got " + historyMillis);
            }
        }

        public boolean unlimited() {
            return quotaBytes == 0;
        }
    }

    /**
     * Export and import over HTTP (issue 7). An export streams from the store page by page and has
     * no size limit; an import is held in memory while it is checked, so it has its own.
     *
     * @param maxImportBytes largest document {@code POST /api/import} reads; a larger one is refused
     *                       with 413 and changes nothing ({@code CAIRN_MAX_IMPORT_BYTES}, default 64 MiB)
     */
    public record Transfer(long maxImportBytes) {
        public static final long DEFAULT_MAX_IMPORT_BYTES = 64L << 20;

        public Transfer {
            if (maxImportBytes <= 0) {
                throw new IllegalArgumentException("CAIRN_MAX_IMPORT_BYTES must be > 0, got " + maxImportBytes);
            }
        }

        public static Transfer defaults() {
            return new Transfer(DEFAULT_MAX_IMPORT_BYTES);
        }
    }

    /**
     * The server's certificate: PEM files ({@code cert} and {@code key}, an unencrypted PKCS#8 or
     * PKCS#1 key) or a PKCS#12 keystore ({@code keystore} and its password).
     */
    public record Tls(Path cert, Path key, Path keystore, String keystorePassword) {
        public Tls {
            boolean pem = cert != null || key != null;
            if (pem && (cert == null || key == null)) {
                throw new IllegalArgumentException("CAIRN_TLS_CERT and CAIRN_TLS_KEY must be set together");
            }
            if (pem && keystore != null) {
                throw new IllegalArgumentException("set either CAIRN_TLS_CERT and CAIRN_TLS_KEY or CAIRN_TLS_KEYSTORE, not both");
            }
            if (!pem && keystore == null) {
                throw new IllegalArgumentException("TLS needs CAIRN_TLS_CERT and CAIRN_TLS_KEY, or CAIRN_TLS_KEYSTORE");
            }
            for (Map.Entry<String, Path> f : files(cert, key, keystore).entrySet()) {
                if (!java.nio.file.Files.isReadable(f.getValue())) {
                    throw new IllegalArgumentException(f.getKey() + " is not a readable file: " + f.getValue());
                }
            }
        }

        public static Tls pem(Path cert, Path key) {
            return new Tls(cert, key, null, null);
        }

        public static Tls pkcs12(Path keystore, String password) {
            return new Tls(null, null, keystore, password);
        }

        private static Map<String, Path> files(Path cert, Path key, Path keystore) {
            Map<String, Path> out = new LinkedHashMap<>();
            if (cert != null) {
                out.put("CAIRN_TLS_CERT", cert);
                out.put("CAIRN_TLS_KEY", key);
            }
            if (keystore != null) {
                out.put("CAIRN_TLS_KEYSTORE", keystore);
            }
            return out;
        }
    }

    /** Defaults: embedded store in ./cairn-data, dev tokens on, port 8080. */
    public static ServerConfig defaults() {
        return fromEnv(Map.of());
    }

    public static ServerConfig fromEnv(Map<String, String> env) {
        String secret = blankToNull(env.get("CAIRN_JWT_SECRET"));
        boolean devTokens = bool(env, "CAIRN_DEV_TOKENS", secret == null);
        return new ServerConfig(
                bindHost(env, devTokens),
                integer(env, "CAIRN_PORT", 8080),
                blankToNull(env.get("CAIRN_DATABASE_URL")),
                integer(env, "CAIRN_DB_POOL_SIZE", 8),
                Path.of(env.getOrDefault("CAIRN_DATA_DIR", "cairn-data")),
                secret,
                devTokens,
                integer(env, "CAIRN_MAX_FRAME_BYTES", 1 << 20),
                integer(env, "CAIRN_MAX_BATCH", 1000),
                longValue(env, "CAIRN_MAX_AHEAD_MS", 60_000),
                integer(env, "CAIRN_MAX_FRAMES_PER_SECOND", 500),
                integer(env, "CAIRN_PAGE_SIZE", 1000),
                integer(env, "CAIRN_MAX_PENDING_WRITE_BYTES", 8 << 20),
                env.getOrDefault("CAIRN_NODE_ID", UUID.randomUUID().toString().substring(0, 8)),
                sections(env.get("CAIRN_SECTIONS")),
                env.containsKey("CAIRN_WEB_ROOT") ? Path.of(env.get("CAIRN_WEB_ROOT")) : null,
                new Security(
                        integer(env, "CAIRN_MAX_SOCKETS_PER_USER", 32),
                        integer(env, "CAIRN_MAX_SOCKETS", 20_000),
                        integer(env, "CAIRN_MAX_CHANGES_PER_SECOND", 10_000),
                        origins(env.get("CAIRN_ALLOWED_ORIGINS")),
                        tls(env)),
                longValue(env, "CAIRN_SLOW_CONSUMER_MS", 30_000),
                new Outbound(
                        longValue(env, "CAIRN_MAX_OUTBOUND_BYTES", Outbound.defaults().maxBytes()),
                        integer(env, "CAIRN_MAX_PAGE_BYTES", Outbound.defaults().maxPageBytes())),
                new UserData(
                        longValue(env, "CAIRN_USER_QUOTA_BYTES", 100L << 20),
                        longValue(env, "CAIRN_HISTORY_MS", 7L * 24 * 3600 * 1000)),
                new Transfer(longValue(env, "CAIRN_MAX_IMPORT_BYTES", Transfer.DEFAULT_MAX_IMPORT_BYTES)),
                integer(env, "CAIRN_EVENT_LOOPS", Runtime.getRuntime().availableProcessors()));
    }

    private static Tls tls(Map<String, String> env) {
        String cert = blankToNull(env.get("CAIRN_TLS_CERT"));
        String key = blankToNull(env.get("CAIRN_TLS_KEY"));
        String keystore = blankToNull(env.get("CAIRN_TLS_KEYSTORE"));
        if (cert == null && key == null && keystore == null) {
            return null;
        }
        return new Tls(cert == null ? null : Path.of(cert), key == null ? null : Path.of(key),
                keystore == null ? null : Path.of(keystore), env.getOrDefault("CAIRN_TLS_KEYSTORE_PASSWORD", ""));
    }

    /** "https://app.example, http://localhost:5173" or "*"; each origin is scheme://host[:port], no path. */
    private static List<String> origins(String spec) {
        List<String> out = new ArrayList<>();
        if (spec == null || spec.isBlank()) {
            return out;
        }
        for (String item : spec.split(",")) {
            String origin = item.trim();
            if (origin.isEmpty()) {
                continue;
            }
            if (!origin.equals("*") && !origin.matches("(?i)https?://([a-z0-9.\\-]+|\\[[0-9a-f:.]+\\])(:[0-9]{1,5})?")) {
                throw new IllegalArgumentException("CAIRN_ALLOWED_ORIGINS item '" + origin
                        + "' must be scheme://host[:port] (no path, no trailing slash) or *");
            }
            out.add(origin.toLowerCase(java.util.Locale.ROOT));
        }
        return out;
    }

    public boolean embedded() {
        return databaseUrl == null;
    }

    public ServerConfig withPort(int value) {
        return new ServerConfig(host, value, databaseUrl, dbPoolSize, dataDir, jwtSecret, devTokens, maxFrameBytes, maxBatch,
                maxAheadMillis, maxFramesPerSecond, pageSize, maxPendingWriteBytes, nodeId, extraSections, webRoot, security, slowConsumerMillis, outbound, userData, transfer, eventLoops);
    }

    public ServerConfig withDatabaseUrl(String value) {
        return new ServerConfig(host, port, value, dbPoolSize, dataDir, jwtSecret, devTokens, maxFrameBytes, maxBatch,
                maxAheadMillis, maxFramesPerSecond, pageSize, maxPendingWriteBytes, nodeId, extraSections, webRoot, security, slowConsumerMillis, outbound, userData, transfer, eventLoops);
    }

    public ServerConfig withDataDir(Path value) {
        return new ServerConfig(host, port, databaseUrl, dbPoolSize, value, jwtSecret, devTokens, maxFrameBytes, maxBatch,
                maxAheadMillis, maxFramesPerSecond, pageSize, maxPendingWriteBytes, nodeId, extraSections, webRoot, security, slowConsumerMillis, outbound, userData, transfer, eventLoops);
    }

    public ServerConfig withJwtSecret(String value, boolean devTokensOn) {
        return new ServerConfig(host, port, databaseUrl, dbPoolSize, dataDir, value, devTokensOn, maxFrameBytes, maxBatch,
                maxAheadMillis, maxFramesPerSecond, pageSize, maxPendingWriteBytes, nodeId, extraSections, webRoot, security, slowConsumerMillis, outbound, userData, transfer, eventLoops);
    }

    public ServerConfig withLimits(int frameBytes, int batch, int framesPerSecond, int page) {
        return new ServerConfig(host, port, databaseUrl, dbPoolSize, dataDir, jwtSecret, devTokens, frameBytes, batch,
                maxAheadMillis, framesPerSecond, page, maxPendingWriteBytes, nodeId, extraSections, webRoot, security, slowConsumerMillis, outbound, userData, transfer, eventLoops);
    }

    public ServerConfig withSecurity(Security value) {
        return new ServerConfig(host, port, databaseUrl, dbPoolSize, dataDir, jwtSecret, devTokens, maxFrameBytes, maxBatch,
                maxAheadMillis, maxFramesPerSecond, pageSize, maxPendingWriteBytes, nodeId, extraSections, webRoot, value, slowConsumerMillis, outbound, userData, transfer, eventLoops);
    }

    public ServerConfig withNodeId(String value) {
        return new ServerConfig(host, port, databaseUrl, dbPoolSize, dataDir, jwtSecret, devTokens, maxFrameBytes, maxBatch,
                maxAheadMillis, maxFramesPerSecond, pageSize, maxPendingWriteBytes, value, extraSections, webRoot, security, slowConsumerMillis, outbound, userData, transfer, eventLoops);
    }

    public ServerConfig withOutbound(Outbound value) {
        return new ServerConfig(host, port, databaseUrl, dbPoolSize, dataDir, jwtSecret, devTokens, maxFrameBytes, maxBatch,
                maxAheadMillis, maxFramesPerSecond, pageSize, maxPendingWriteBytes, nodeId, extraSections, webRoot, security, slowConsumerMillis,
                value, userData, transfer, eventLoops);
    }

    public ServerConfig withUserData(UserData value) {
        return new ServerConfig(host, port, databaseUrl, dbPoolSize, dataDir, jwtSecret, devTokens, maxFrameBytes, maxBatch,
                maxAheadMillis, maxFramesPerSecond, pageSize, maxPendingWriteBytes, nodeId, extraSections, webRoot, security, slowConsumerMillis,
                outbound, value, transfer, eventLoops);
    }

    public ServerConfig withEventLoops(int value) {
        return new ServerConfig(host, port, databaseUrl, dbPoolSize, dataDir, jwtSecret, devTokens, maxFrameBytes, maxBatch,
                maxAheadMillis, maxFramesPerSecond, pageSize, maxPendingWriteBytes, nodeId, extraSections, webRoot, security, slowConsumerMillis,
                outbound, userData, transfer, value);
    }

    public ServerConfig withTransfer(Transfer value) {
        return new ServerConfig(host, port, databaseUrl, dbPoolSize, dataDir, jwtSecret, devTokens, maxFrameBytes, maxBatch,
                maxAheadMillis, maxFramesPerSecond, pageSize, maxPendingWriteBytes, nodeId, extraSections, webRoot, security, slowConsumerMillis,
                outbound, userData, value, eventLoops);
    }

    private static Map<String, SectionKind> sections(String spec) {
        Map<String, SectionKind> out = new LinkedHashMap<>();
        if (spec == null || spec.isBlank()) {
            return out;
        }
        for (String item : spec.split(",")) {
            String[] parts = item.trim().split(":");
            if (parts.length != 2) {
                throw new IllegalArgumentException("CAIRN_SECTIONS item '" + item + "' must be name:map or name:log");
            }
            try {
                out.put(Names.checkSection(parts[0].trim()), SectionKind.fromWire(parts[1].trim()));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("CAIRN_SECTIONS: " + e.getMessage(), e);
            }
        }
        return out;
    }

    private static int integer(Map<String, String> env, String name, int fallback) {
        long v = longValue(env, name, fallback);
        if (v > Integer.MAX_VALUE || v < Integer.MIN_VALUE) {
            throw new IllegalArgumentException(name + " is out of range: " + v);
        }
        return (int) v;
    }

    private static long longValue(Map<String, String> env, String name, long fallback) {
        String v = blankToNull(env.get(name));
        if (v == null) {
            return fallback;
        }
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " must be a number, got '" + v + "'");
        }
    }

    /**
     * Dev tokens let anyone who reaches the server mint any user's token, so with them on the
     * server binds to loopback by default and refuses any other address unless
     * {@code CAIRN_DEV_TOKENS_PUBLIC=true} says so explicitly.
     */
    private static String bindHost(Map<String, String> env, boolean devTokens) {
        String host = blankToNull(env.get("CAIRN_HOST"));
        if (host == null) {
            return devTokens ? "127.0.0.1" : "0.0.0.0";
        }
        host = host.trim();
        if (devTokens && !isLoopback(host) && !bool(env, "CAIRN_DEV_TOKENS_PUBLIC", false)) {
            throw new IllegalArgumentException("CAIRN_HOST=" + host + " with dev tokens on would let anyone on the network mint"
                    + " any user's token: set CAIRN_JWT_SECRET (dev tokens are then off), or CAIRN_DEV_TOKENS=false, or,"
                    + " for a demo only, CAIRN_DEV_TOKENS_PUBLIC=true");
        }
        return host;
    }

    private static boolean isLoopback(String host) {
        if (host.equalsIgnoreCase("localhost")) {
            return true;
        }
        try {
            return java.net.InetAddress.getByName(host).isLoopbackAddress();
        } catch (java.net.UnknownHostException e) {
            return false;
        }
    }

    private static boolean bool(Map<String, String> env, String name, boolean fallback) {
        String v = blankToNull(env.get(name));
        if (v == null) {
            return fallback;
        }
        return switch (v.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "true", "1", "yes", "on" -> true;
            case "false", "0", "no", "off" -> false;
            default -> throw new IllegalArgumentException(name + " must be true or false, got '" + v + "'");
        };
    }

    private static void positive(int value, String name, boolean zeroOk) {
        if (value < 0 || (!zeroOk && value == 0)) {
            throw new IllegalArgumentException(name + " must be " + (zeroOk ? ">= 0" : "> 0") + ", got " + value);
        }
    }

    private static String blankToNull(String v) {
        return v == null || v.isBlank() ? null : v;
    }
}
