package dev.cairn.server.store;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.pgclient.PgConnection;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A throw-away PostgreSQL database for one test: {@link #create} makes {@code cairn_test_<random>}
 * on the local server, {@link #close} drops it (forcibly, so leftover connections do not block).
 *
 * <p>PostgreSQL must be running: when it is not reachable the test fails (it is never skipped)
 * with {@link #NOT_REACHABLE}. The server is {@value #DEFAULT_ADMIN_URL} unless the environment
 * variable {@value #ADMIN_URL_ENV} names another maintenance database URL.
 *
 * <p>Blocking: call from the test thread, never from an event loop.
 */
public final class TestDatabase implements AutoCloseable {

    public static final String ADMIN_URL_ENV = "CAIRN_TEST_PG_URL";
    public static final String DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres";
    public static final String NOT_REACHABLE = "PostgreSQL is not reachable at 127.0.0.1:5432 — start it with: "
            + "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start";

    private static final long TIMEOUT_SECONDS = 30;

    private final Vertx vertx;
    private final PgConnectOptions admin;
    private final String name;
    private boolean dropped;

    private TestDatabase(Vertx vertx, PgConnectOptions admin, String name) {
        this.vertx = vertx;
        this.admin = admin;
        this.name = name;
    }

    /** Creates a fresh, empty database; fails the test with {@link #NOT_REACHABLE} if PostgreSQL is down. */
    public static TestDatabase create(Vertx vertx) {
        String adminUrl = System.getenv().getOrDefault(ADMIN_URL_ENV, DEFAULT_ADMIN_URL);
        PgConnectOptions admin = PgConnectOptions.fromUri(adminUrl);
        String name = "cairn_test_" + UUID.randomUUID().toString().replace("-", "").substring(0, 16).toLowerCase(Locale.ROOT);
        PgConnection conn;
        try {
            conn = await(PgConnection.connect(vertx, admin));
        } catch (Exception e) {
            String where = adminUrl.equals(DEFAULT_ADMIN_URL) ? "" : " (" + ADMIN_URL_ENV + "=" + adminUrl + ")";
            throw new AssertionError(NOT_REACHABLE + where + ": " + e.getMessage(), e);
        }
        try {
            await(conn.query("CREATE DATABASE " + name).execute());
        } catch (Exception e) {
            throw new AssertionError("cannot create test database " + name + ": " + e.getMessage(), e);
        } finally {
            conn.close();
        }
        return new TestDatabase(vertx, admin, name);
    }

    public String name() {
        return name;
    }

    /** Connect options for the test database. */
    public PgConnectOptions connectOptions() {
        return new PgConnectOptions(admin).setDatabase(name);
    }

    /** URL of the test database, e.g. {@code postgresql://postgres@127.0.0.1:5432/cairn_test_0123abcd}. */
    public String url() {
        String password = admin.getPassword();
        String credentials = admin.getUser() + (password == null || password.isEmpty() ? "" : ":" + password);
        return "postgresql://" + credentials + "@" + admin.getHost() + ":" + admin.getPort() + "/" + name;
    }

    /** Drops the database, closing any connection still open to it. */
    @Override
    public void close() {
        if (dropped) {
            return;
        }
        dropped = true;
        try {
            PgConnection conn = await(PgConnection.connect(vertx, admin));
            try {
                await(conn.query("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)").execute());
            } finally {
                conn.close();
            }
        } catch (Exception e) {
            throw new AssertionError("cannot drop test database " + name + ": " + e.getMessage(), e);
        }
    }

    private static <T> T await(Future<T> future) throws Exception {
        try {
            return future.toCompletionStage().toCompletableFuture().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Exception cause ? cause : e;
        } catch (TimeoutException e) {
            throw new TimeoutException("PostgreSQL did not answer within " + TIMEOUT_SECONDS + " s");
        }
    }
}
