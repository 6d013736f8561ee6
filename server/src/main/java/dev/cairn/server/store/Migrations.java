package dev.cairn.server.store;

import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Schema migration runner (Flyway needs JDBC; the server only has vertx-pg-client).
 *
 * <p>Migrations are the classpath resources {@code db/V<version>__<name>.sql}, versions 1, 2, 3...
 * without holes. {@link #apply} runs every one not yet recorded in {@code cairn_migrations}, in
 * version order, each in its own transaction with its record, under a session advisory lock, so
 * several nodes starting at once apply each migration exactly once. A script whose first line is
 * {@value #NO_TRANSACTION} runs outside a transaction (one statement, e.g. {@code CREATE INDEX
 * CONCURRENTLY ... IF NOT EXISTS}, which must not block writes to a large table). A recorded
 * migration whose file has changed since is an error, not silently skipped. {@link #info} lists
 * what ran.
 */
final class Migrations {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Migrations.class);

    /** Advisory lock key: the first 8 bytes of "cairn-mi" as a bigint; any constant unique to Cairn works. */
    static final long LOCK_KEY = 0x636169726e2d6d69L;

    private static final String DIRECTORY = "db";
    private static final Pattern FILE_NAME = Pattern.compile("V([0-9]+)__([A-Za-z0-9_]+)\\.sql");

    private Migrations() {
    }

    /**
     * One script. {@code transactional} is false when its first line is {@value #NO_TRANSACTION}:
     * then it must hold exactly one statement (PostgreSQL runs several statements of one query as
     * one implicit transaction, where {@code CREATE INDEX CONCURRENTLY} cannot run).
     */
    record Migration(int version, String name, String sql, String checksum, boolean transactional) {

        Migration {
            if (!transactional && statements(sql) != 1) {
                throw new IllegalStateException("schema migration V" + version + "__" + name + ".sql is marked " + NO_TRANSACTION
                        + " and must hold exactly one statement");
            }
        }

        static Migration of(int version, String name, String sql) {
            return new Migration(version, name, sql, sha256(sql), !sql.strip().startsWith(NO_TRANSACTION));
        }

        String fileName() {
            return "V" + version + "__" + name + ".sql";
        }

        /** Statements in a script, counting semicolons outside comments; good enough for one-statement scripts (no literals with ';'). */
        private static int statements(String sql) {
            int count = 0;
            for (String line : sql.split("\\R")) {
                String code = line.contains("--") ? line.substring(0, line.indexOf("--")) : line;
                count += (int) code.chars().filter(c -> c == ';').count();
            }
            boolean trailing = sql.replaceAll("--[^\\n]*", "").strip().endsWith(";");
            return trailing ? count : count + 1;
        }
    }

    /** First line of a script that must run outside a transaction (e.g. {@code CREATE INDEX CONCURRENTLY}). */
    static final String NO_TRANSACTION = "-- cairn:no-transaction";

    /** The migrations on the classpath (next to this class, in a directory or in the server jar), in version order. */
    static List<Migration> fromClasspath() {
        List<String> names = listResourceNames();
        List<Migration> out = new ArrayList<>();
        for (String name : names) {
            Matcher m = FILE_NAME.matcher(name);
            if (!m.matches()) {
                continue;
            }
            String sql;
            try (InputStream in = Migrations.class.getClassLoader().getResourceAsStream(DIRECTORY + "/" + name)) {
                if (in == null) {
                    throw new IllegalStateException("migration " + DIRECTORY + "/" + name + " is listed but cannot be read");
                }
                sql = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read migration " + DIRECTORY + "/" + name, e);
            }
            out.add(Migration.of(Integer.parseInt(m.group(1)), m.group(2), sql));
        }
        out.sort(Comparator.comparingInt(Migration::version));
        for (int i = 0; i < out.size(); i++) {
            if (out.get(i).version() != i + 1) {
                throw new IllegalStateException("schema migrations must be numbered 1, 2, 3... without holes or duplicates; found versions "
                        + out.stream().map(Migration::version).toList());
            }
        }
        if (out.isEmpty()) {
            throw new IllegalStateException("no schema migrations found under " + DIRECTORY + "/ on the classpath");
        }
        return out;
    }

    private static List<String> listResourceNames() {
        Path location;
        try {
            location = Path.of(Migrations.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException | RuntimeException e) {
            throw new IllegalStateException("cannot locate the server's classes to list schema migrations", e);
        }
        List<String> names = new ArrayList<>();
        if (Files.isDirectory(location)) {
            Path dir = location.resolve(DIRECTORY);
            if (Files.isDirectory(dir)) {
                try (Stream<Path> files = Files.list(dir)) {
                    files.forEach(p -> names.add(p.getFileName().toString()));
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot list " + dir, e);
                }
            }
        } else {
            try (JarFile jar = new JarFile(location.toFile())) {
                String prefix = DIRECTORY + "/";
                for (JarEntry entry : java.util.Collections.list(jar.entries())) {
                    String name = entry.getName();
                    if (name.startsWith(prefix) && name.indexOf('/', prefix.length()) < 0 && name.length() > prefix.length()) {
                        names.add(name.substring(prefix.length()));
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot list schema migrations in " + location, e);
            }
        }
        return names;
    }

    static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Applies the missing migrations; completes with how many it applied. */
    static Future<Integer> apply(Pool pool, List<Migration> migrations) {
        return locked(pool, conn -> recorded(conn).compose(applied -> {
            Future<Integer> chain = Future.succeededFuture(0);
            for (Migration migration : migrations) {
                Row done = applied.get(migration.version());
                if (done != null) {
                    if (!done.getString("checksum").equals(migration.checksum())) {
                        return Future.failedFuture(new IllegalStateException("schema migration " + migration.fileName()
                                + " was changed after it was applied to this database; add a new migration instead of editing an applied one"));
                    }
                    continue;
                }
                chain = chain.compose(count -> run(conn, migration).map(v -> count + 1));
            }
            return chain;
        }));
    }

    /** What {@code java -jar cairn-server.jar migrations} prints: every migration known to the files or the database, in version order. */
    static Future<List<Info>> info(Pool pool, List<Migration> migrations) {
        return locked(pool, conn -> recorded(conn).map(applied -> {
            Map<Integer, Info> out = new java.util.TreeMap<>();
            for (Migration m : migrations) {
                Row row = applied.get(m.version());
                String state = row == null ? "pending" : row.getString("checksum").equals(m.checksum()) ? "applied" : "changed";
                out.put(m.version(), new Info(m.version(), m.name(), m.transactional(), state,
                        row == null ? null : row.getOffsetDateTime("applied_at")));
            }
            applied.forEach((version, row) -> out.computeIfAbsent(version, v -> new Info(v, row.getString("name"), true,
                    "unknown (newer than this server)", row.getOffsetDateTime("applied_at"))));
            return List.copyOf(out.values());
        }));
    }

    /** One line of {@link #info}. {@code appliedAt} is null for a pending migration. */
    record Info(int version, String name, boolean transactional, String state, java.time.OffsetDateTime appliedAt) {
    }

    /**
     * Runs {@code work} on one connection holding a session-level advisory lock, so nodes starting
     * at once apply each migration exactly once (the others wait, then see it recorded). A session
     * lock rather than one transaction's: each migration commits on its own, and a non-transactional
     * one runs outside any transaction.
     */
    private static <T> Future<T> locked(Pool pool, java.util.function.Function<SqlConnection, Future<T>> work) {
        return pool.getConnection().compose(conn -> conn.query("SELECT pg_advisory_lock(" + LOCK_KEY + ")").execute()
                .compose(r -> work.apply(conn))
                .eventually(() -> conn.query("SELECT pg_advisory_unlock(" + LOCK_KEY + ")").execute())
                .eventually(conn::close));
    }

    /** The recorded migrations by version; creates the record table on the first start. */
    private static Future<Map<Integer, Row>> recorded(SqlConnection conn) {
        // Checked rather than CREATE ... IF NOT EXISTS, whose notice the client logs as a warning on every start.
        return conn.query("SELECT to_regclass('cairn_migrations') IS NOT NULL").execute()
                .compose(exists -> exists.iterator().next().getBoolean(0) ? Future.succeededFuture()
                        : conn.query("CREATE TABLE cairn_migrations ("
                                + "version int PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, "
                                + "applied_at timestamptz NOT NULL DEFAULT now())").execute().mapEmpty())
                .compose(r -> conn.query("SELECT version, name, checksum, applied_at FROM cairn_migrations").execute())
                .map(rows -> {
                    Map<Integer, Row> applied = new HashMap<>();
                    rows.forEach(row -> applied.put(row.getInteger("version"), row));
                    return applied;
                });
    }

    /**
     * One migration: a transactional one runs with its record in one transaction (all or nothing);
     * a non-transactional one runs as a single statement, then is recorded, so it must be safe to
     * run again ({@code IF NOT EXISTS}) should the process die in between.
     */
    private static Future<Void> run(SqlConnection conn, Migration migration) {
        long started = System.nanoTime();
        Future<Void> done;
        if (migration.transactional()) {
            done = conn.begin().compose(tx -> script(conn, migration).compose(v -> record(conn, migration))
                    .compose(v -> tx.commit())
                    .recover(e -> tx.rollback().transform(ignored -> Future.failedFuture(e))));
        } else {
            done = script(conn, migration).compose(v -> record(conn, migration));
        }
        return done.onSuccess(v -> LOG.info("schema migration {} applied in {} ms{}", migration.fileName(),
                (System.nanoTime() - started) / 1_000_000, migration.transactional() ? "" : " (outside a transaction)"));
    }

    private static Future<Void> script(SqlConnection conn, Migration migration) {
        // Simple-query protocol: a transactional migration file may hold several statements.
        return conn.query(migration.sql()).execute()
                .<Void>mapEmpty()
                .recover(e -> Future.failedFuture(new IllegalStateException("schema migration " + migration.fileName() + " failed: "
                        + e.getMessage(), e)));
    }

    private static Future<Void> record(SqlConnection conn, Migration migration) {
        return conn.preparedQuery("INSERT INTO cairn_migrations (version, name, checksum) VALUES ($1, $2, $3)")
                .execute(Tuple.of(migration.version(), migration.name(), migration.checksum()))
                .mapEmpty();
    }
}
