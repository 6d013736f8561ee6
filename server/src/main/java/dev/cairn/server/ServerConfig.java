package dev.cairn.server;

import dev.cairn.engine.crdt.Names;
import dev.cairn.engine.crdt.SectionKind;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;

/**
 * Server settings, read from environment variables (README "Configuration" lists them). A bad
 * value is an {@link IllegalArgumentException} naming the variable.
 *
 * @param databaseUrl    PostgreSQL URL; null selects the embedded MapDB store in {@code dataDir}
 * @param jwtSecret      HS256 key for bearer tokens; null means dev mode with a random key
 * @param devTokens      whether {@code POST /api/dev/token} mints tokens (demo sign-in)
 * @param extraSections  app sections besides the standard ones, name to kind
 * @param slowConsumerMillis how long a socket's write queue may stay full before it is closed as a slow consumer
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
        long slowConsumerMillis) {

    public ServerConfig {
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(dataDir, "dataDir");
        Objects.requireNonNull(nodeId, "nodeId");
        extraSections = Map.copyOf(extraSections);
        positive(port, "CAIRN_PORT", true);
        positive(dbPoolSize, "CAIRN_DB_POOL_SIZE", false);
        positive(maxFrameBytes, "CAIRN_MAX_FRAME_BYTES", false);
        positive(maxBatch, "CAIRN_MAX_BATCH", false);
        positive(maxFramesPerSecond, "CAIRN_MAX_FRAMES_PER_SECOND", false);
        positive(pageSize, "CAIRN_PAGE_SIZE", false);
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
    }

    /** Defaults: embedded store in ./cairn-data, dev tokens on, port 8080. */
    public static ServerConfig defaults() {
        return fromEnv(Map.of());
    }

    public static ServerConfig fromEnv(Map<String, String> env) {
        String secret = blankToNull(env.get("CAIRN_JWT_SECRET"));
        return new ServerConfig(
                env.getOrDefault("CAIRN_HOST", "0.0.0.0"),
                integer(env, "CAIRN_PORT", 8080),
                blankToNull(env.get("CAIRN_DATABASE_URL")),
                integer(env, "CAIRN_DB_POOL_SIZE", 8),
                Path.of(env.getOrDefault("CAIRN_DATA_DIR", "cairn-data")),
                secret,
                bool(env, "CAIRN_DEV_TOKENS", secret == null),
                integer(env, "CAIRN_MAX_FRAME_BYTES", 1 << 20),
                integer(env, "CAIRN_MAX_BATCH", 1000),
                longValue(env, "CAIRN_MAX_AHEAD_MS", 60_000),
                integer(env, "CAIRN_MAX_FRAMES_PER_SECOND", 500),
                integer(env, "CAIRN_PAGE_SIZE", 1000),
                integer(env, "CAIRN_MAX_PENDING_WRITE_BYTES", 8 << 20),
                env.getOrDefault("CAIRN_NODE_ID", UUID.randomUUID().toString().substring(0, 8)),
                sections(env.get("CAIRN_SECTIONS")),
                env.containsKey("CAIRN_WEB_ROOT") ? Path.of(env.get("CAIRN_WEB_ROOT")) : null,
                longValue(env, "CAIRN_SLOW_CONSUMER_MS", 30_000));
    }

    public boolean embedded() {
        return databaseUrl == null;
    }

    public ServerConfig withPort(int value) {
        return new ServerConfig(host, value, databaseUrl, dbPoolSize, dataDir, jwtSecret, devTokens, maxFrameBytes, maxBatch,
                maxAheadMillis, maxFramesPerSecond, pageSize, maxPendingWriteBytes, nodeId, extraSections, webRoot, slowConsumerMillis);
    }

    public ServerConfig withDatabaseUrl(String value) {
        return new ServerConfig(host, port, value, dbPoolSize, dataDir, jwtSecret, devTokens, maxFrameBytes, maxBatch,
                maxAheadMillis, maxFramesPerSecond, pageSize, maxPendingWriteBytes, nodeId, extraSections, webRoot, slowConsumerMillis);
    }

    public ServerConfig withDataDir(Path value) {
        return new ServerConfig(host, port, databaseUrl, dbPoolSize, value, jwtSecret, devTokens, maxFrameBytes, maxBatch,
                maxAheadMillis, maxFramesPerSecond, pageSize, maxPendingWriteBytes, nodeId, extraSections, webRoot, slowConsumerMillis);
    }

    public ServerConfig withJwtSecret(String value, boolean devTokensOn) {
        return new ServerConfig(host, port, databaseUrl, dbPoolSize, dataDir, value, devTokensOn, maxFrameBytes, maxBatch,
                maxAheadMillis, maxFramesPerSecond, pageSize, maxPendingWriteBytes, nodeId, extraSections, webRoot, slowConsumerMillis);
    }

    public ServerConfig withLimits(int frameBytes, int batch, int framesPerSecond, int page) {
        return new ServerConfig(host, port, databaseUrl, dbPoolSize, dataDir, jwtSecret, devTokens, frameBytes, batch,
                maxAheadMillis, framesPerSecond, page, maxPendingWriteBytes, nodeId, extraSections, webRoot, slowConsumerMillis);
    }

    public ServerConfig withNodeId(String value) {
        return new ServerConfig(host, port, databaseUrl, dbPoolSize, dataDir, jwtSecret, devTokens, maxFrameBytes, maxBatch,
                maxAheadMillis, maxFramesPerSecond, pageSize, maxPendingWriteBytes, value, extraSections, webRoot, slowConsumerMillis);
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
