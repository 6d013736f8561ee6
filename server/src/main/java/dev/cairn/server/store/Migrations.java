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
 * Hand-written schema migration runner (Flyway needs JDBC; the server only has vertx-pg-client).
 *
 * <p>Migrations are the classpath resources {@code db/V<version>__<name>.sql}, versions 1, 2, 3...
 * without holes. {@link #apply} runs every one not yet recorded in {@code cairn_migrations}, in
 * version order, in one transaction that first takes a transaction-scoped advisory lock, so
 * several nodes starting at once apply each migration exactly once (the others wait, then see it
 * recorded). A recorded migration whose file has changed since is an error, not silently skipped.
 * Because migrations run inside that transaction, one cannot use {@code CREATE INDEX CONCURRENTLY}.
 */
final class Migrations {

    /** Advisory lock key: the first 8 bytes of "cairn-mi" as a bigint; any constant unique to Cairn works. */
    static final long LOCK_KEY = 0x636169726e2d6d69L;

    private static final String DIRECTORY = "db";
    private static final Pattern FILE_NAME = Pattern.compile("V([0-9]+)__([A-Za-z0-9_]+)\\.sql");

    private Migrations() {
    }

    record Migration(int version, String name, String sql, String checksum) {
    }

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
            out.add(new Migration(Integer.parseInt(m.group(1)), m.group(2), sql, sha256(sql)));
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
        return pool.withTransaction(conn -> conn.query("SELECT pg_advisory_xact_lock(" + LOCK_KEY + ")").execute()
                // Checked rather than CREATE ... IF NOT EXISTS, whose notice the client logs as a warning on every start.
                .compose(r -> conn.query("SELECT to_regclass('cairn_migrations') IS NOT NULL").execute())
                .compose(exists -> exists.iterator().next().getBoolean(0) ? Future.succeededFuture()
                        : conn.query("CREATE TABLE cairn_migrations ("
                                + "version int PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, "
                                + "applied_at timestamptz NOT NULL DEFAULT now())").execute().mapEmpty())
                .compose(r -> conn.query("SELECT version, name, checksum FROM cairn_migrations").execute())
                .compose(rows -> {
                    Map<Integer, Row> applied = new HashMap<>();
                    rows.forEach(row -> applied.put(row.getInteger("version"), row));
                    Future<Integer> chain = Future.succeededFuture(0);
                    for (Migration migration : migrations) {
                        Row done = applied.get(migration.version());
                        if (done != null) {
                            if (!done.getString("checksum").equals(migration.checksum())) {
                                return Future.failedFuture(new IllegalStateException("schema migration V" + migration.version() + "__"
                                        + migration.name() + ".sql was changed after it was applied to this database; "
                                        + "add a new migration instead of editing an applied one"));
                            }
                            continue;
                        }
                        chain = chain.compose(count -> run(conn, migration).map(v -> count + 1));
                    }
                    return chain;
                }));
    }

    private static Future<Void> run(SqlConnection conn, Migration migration) {
        // Simple-query protocol: a migration file may hold several statements.
        return conn.query(migration.sql()).execute()
                .recover(e -> Future.failedFuture(new IllegalStateException("schema migration V" + migration.version() + "__"
                        + migration.name() + ".sql failed: " + e.getMessage(), e)))
                .compose(r -> conn.preparedQuery("INSERT INTO cairn_migrations (version, name, checksum) VALUES ($1, $2, $3)")
                        .execute(Tuple.of(migration.version(), migration.name(), migration.checksum())))
                .mapEmpty();
    }
}
