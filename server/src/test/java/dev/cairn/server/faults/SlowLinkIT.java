package dev.cairn.server.faults;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.cairn.engine.clock.WallClock;
import dev.cairn.server.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Regression (found with the fault proxy): a link slower than one page per keepalive period still
 * makes progress. A device behind a 6 kB/s link, with a 1 s keepalive, catches up 2 pages that
 * take ~3 s each to arrive. The
 * connection is receiving all that time, so it is not dead, and the keepalive must not drop it
 * (before the fix only whole frames counted as a sign of life: the client dropped every
 * connection in the middle of the first page and never caught up).
 */
class SlowLinkIT {

    @Test
    void aSlowLinkIsNotADeadLink(@TempDir Path dir) {
        try (TestServer server = TestServer.embedded().limits(1 << 20, 1000, 500, 100).start()) {
            String user = "slow-" + UUID.randomUUID().toString().substring(0, 8);
            String token = server.token(user);
            int n = 200;
            try (FaultDevice writer = FaultDevice.open("writer", dir.resolve("writer"), server.syncUri(), token, WallClock.system(), null,
                    b -> b.backoff(Duration.ofMillis(50), Duration.ofSeconds(1)))) {
                writer.sync.start();
                for (int i = 0; i < n; i++) {
                    writer.cairn.chat().append("conv", "user", "message " + i + " " + "x".repeat(100));
                }
                writer.sync.syncNow().orTimeout(30, java.util.concurrent.TimeUnit.SECONDS).join();
            }
            try (FaultProxy proxy = FaultProxy.start("127.0.0.1", server.port(), 1);
                 FaultDevice slow = FaultDevice.open("slow", dir.resolve("slow"), server.syncUri(), token, WallClock.system(), proxy,
                         b -> b.keepAlive(Duration.ofSeconds(1)).backoff(Duration.ofMillis(50), Duration.ofSeconds(1)))) {
                proxy.faults().bandwidth(6_000);
                long start = System.nanoTime();
                slow.sync.start();
                long end = start + Duration.ofSeconds(60).toNanos();
                while (slow.cairn.chat().size("conv") < n && System.nanoTime() < end) {
                    sleep(50);
                }
                long ms = (System.nanoTime() - start) / 1_000_000;
                System.out.println("SlowLinkIT caught up " + slow.cairn.chat().size("conv") + "/" + n + " in " + ms + " ms over "
                        + proxy.linksOpened() + " connection(s)");
                assertEquals(n, slow.cairn.chat().size("conv"), "the slow device did not catch up within 60 s over "
                        + proxy.linksOpened() + " connection(s): " + slow.describe());
            }
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
