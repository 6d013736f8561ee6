package dev.cairn.bench;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.pgclient.PgConnection;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** What every server workload shares: options, the report, one Vert.x, the server jar, temp dirs. */
final class Ctx implements AutoCloseable {

    final Args args;
    final Report report;
    final Vertx vertx;
    final Path serverJar;
    final Path benchJar;
    final Path work;
    private final AtomicInteger dbCounter = new AtomicInteger();
    private final String runId = Long.toString(System.currentTimeMillis() % 100_000_000L, 36);

    Ctx(Args args, Report report) {
        this.args = args;
        this.report = report;
        this.benchJar = benchJar();
        this.serverJar = findServerJar(args.string("server-jar"), benchJar);
        this.work = Dirs.tempDir(args.path("dir"), "cairn-bench-");
        this.vertx = Vertx.vertx();
        log("server jar: %s; work dir (stores, server logs): %s", serverJar, work);
    }

    static void log(String format, Object... a) {
        System.err.printf(Locale.ROOT, "[%tT] " + format + "%n", prepend(System.currentTimeMillis(), a));
        System.err.flush();
    }

    private static Object[] prepend(Object first, Object[] rest) {
        Object[] all = new Object[rest.length + 1];
        all[0] = first;
        System.arraycopy(rest, 0, all, 1, rest.length);
        return all;
    }

    /** The jar this class was loaded from (null when run from classes). */
    private static Path benchJar() {
        try {
            Path p = Path.of(Ctx.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return Files.isRegularFile(p) ? p : null;
        } catch (URISyntaxException | RuntimeException e) {
            return null;
        }
    }

    private static Path findServerJar(String given, Path benchJar) {
        if (!given.isEmpty()) {
            Path p = Path.of(given);
            if (!Files.isRegularFile(p)) {
                throw new IllegalArgumentException("--server-jar " + given + " is not a file");
            }
            return p.toAbsolutePath();
        }
        List<Path> tried = new ArrayList<>();
        List<Path> starts = new ArrayList<>();
        starts.add(Path.of("").toAbsolutePath());
        if (benchJar != null) {
            starts.add(benchJar.toAbsolutePath().getParent());
        }
        for (Path start : starts) {
            for (Path dir = start; dir != null; dir = dir.getParent()) {
                Path candidate = dir.resolve("server/target/cairn-server.jar");
                tried.add(candidate);
                if (Files.isRegularFile(candidate)) {
                    return candidate;
                }
            }
        }
        throw new IllegalArgumentException("cannot find server/target/cairn-server.jar (build it: mvn -q -pl server -am -DskipTests package, "
                + "or pass --server-jar); tried " + tried);
    }

    /** The classpath for bench classes started in their own JVM (the relay). */
    String benchClasspath() {
        return benchJar != null ? benchJar.toString() : System.getProperty("java.class.path");
    }

    Path newDir(String prefix) {
        return Dirs.tempDir(work, prefix);
    }

    /** Creates an empty database {@code cairn_bench_<run>_<n>}; returns its URL. */
    String createDatabase() {
        String name = "cairn_bench_" + runId + "_" + dbCounter.incrementAndGet();
        adminQuery("CREATE DATABASE " + name);
        PgConnectOptions admin = PgConnectOptions.fromUri(args.string("pg-url"));
        String pw = admin.getPassword();
        return "postgresql://" + admin.getUser() + (pw == null || pw.isEmpty() ? "" : ":" + pw) + "@" + admin.getHost() + ":" + admin.getPort() + "/" + name;
    }

    void dropDatabase(String url) {
        String name = url.substring(url.lastIndexOf('/') + 1);
        adminQuery("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    }

    private void adminQuery(String sql) {
        PgConnection conn = await(PgConnection.connect(vertx, PgConnectOptions.fromUri(args.string("pg-url"))));
        try {
            await(conn.query(sql).execute());
        } finally {
            conn.close();
        }
    }

    static <T> T await(Future<T> f) {
        try {
            return f.toCompletionStage().toCompletableFuture().get(120, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } catch (Exception e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new IllegalStateException(cause.getMessage(), cause);
        }
    }

    @Override
    public void close() {
        await(vertx.close());
        Dirs.deleteTree(work);
    }
}
