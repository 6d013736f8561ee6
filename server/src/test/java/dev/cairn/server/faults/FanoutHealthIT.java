package dev.cairn.server.faults;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.server.TestServer;
import dev.cairn.server.fanout.PgNotifyFanout;
import dev.cairn.server.store.TestDatabase;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgBuilder;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Tuple;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * A node whose LISTEN connection is killed does not hear other nodes' commits: /health/ready
 * says so (503, the fan-out check down) until the connection is back, /health/live stays up,
 * and no answer names the database or carries driver text.
 */
class FanoutHealthIT {

    @Test
    void readinessFollowsTheListenConnection() throws Exception {
        Vertx admin = Vertx.vertx();
        try (TestDatabase database = TestDatabase.create(admin);
             TestServer server = TestServer.postgres(database.url()).start()) {
            Pool pool = PgBuilder.pool().connectingTo(database.connectOptions()).using(admin).build();
            assertEquals(200, server.get("/health/ready", null).status());

            AtomicBoolean killing = new AtomicBoolean(true);
            Thread killer = new Thread(() -> {
                while (killing.get()) {
                    // the node re-opens the connection within a second: kill it again and again
                    TestServer.await(pool.preparedQuery("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            + "WHERE datname = $1 AND query = $2").execute(Tuple.of(database.name(), "LISTEN \"" + PgNotifyFanout.CHANNEL + "\"")));
                    try {
                        Thread.sleep(50);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "listen-killer");
            killer.start();
            try {
                TestServer.Response[] last = new TestServer.Response[1];
                FaultRun.until("/health/ready to report the fan-out down", Duration.ofSeconds(10),
                        () -> (last[0] = server.get("/health/ready", null)).status() == 503, () -> last[0].toString());
                TestServer.Response down = last[0];
                assertEquals("{\"status\":\"down\",\"checks\":{\"store\":\"up\",\"fanout\":\"down\",\"eventLoop\":\"up\"},\"reason\":\"fanout-down\"}",
                        down.body());
                assertFalse(down.body().contains(database.name()) || down.body().toLowerCase(java.util.Locale.ROOT).contains("postgres"),
                        "no database name or driver text: " + down.body());
                assertEquals(200, server.get("/health/live", null).status(), "the process is alive: no restart");
                assertEquals(503, server.get("/health", null).status(), "/health is readiness");
            } finally {
                killing.set(false);
                killer.join();
            }
            TestServer.Response[] last = new TestServer.Response[1];
            FaultRun.until("/health/ready to be up again", Duration.ofSeconds(10),
                    () -> (last[0] = server.get("/health/ready", null)).status() == 200, () -> last[0].toString());
            assertTrue(last[0].body().contains("\"fanout\":\"up\""), last[0].body());
            TestServer.await(pool.close());
        } finally {
            TestServer.await(admin.close());
        }
    }
}
