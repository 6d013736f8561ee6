package dev.cairn.server.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.cairn.engine.EngineAccess;
import dev.cairn.engine.PersistentState;
import dev.cairn.server.TestServer;
import java.nio.file.Path;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 15 end to end: two engines of one user, syncing through a real server, edit different
 * fields of one typed record while both are offline; once online both edits survive on both
 * devices, and a field both edited takes the later stamp (spec/vectors/values/README.md).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FieldMergeIT {

    record Settings(String name, int fontSize, String theme) {
    }

    private static final Settings DEFAULT = new Settings("", 14, "light");

    private TestServer server;

    @BeforeAll
    void start() {
        server = SyncScenarios.nodeBuilder(TestServer.embedded()).start();
    }

    @AfterAll
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void offlineEditsOfDifferentFieldsBothSurviveAndTheSameFieldTakesTheLaterStamp(@TempDir Path dir) {
        String token = server.token("u-fields-" + UUID.randomUUID().toString().substring(0, 8));
        long base = System.currentTimeMillis();
        try (Device a = Device.open("dev-a", dir.resolve("a"), server.syncUri(), token, base);
             Device b = Device.open("dev-b", dir.resolve("b"), server.syncUri(), token, base)) {
            PersistentState<Settings> onA = a.cairn.state("settings", Settings.class, DEFAULT);
            PersistentState<Settings> onB = b.cairn.state("settings", Settings.class, DEFAULT);
            a.startLive();
            b.startLive();
            onA.set(new Settings("Ada", 14, "light"));
            a.syncNow();
            Poll.until("B to see A's settings", () -> onB.value().equals(new Settings("Ada", 14, "light")), b::describe);

            a.goOffline();
            b.goOffline();
            // A edits the name (and the theme) first in real time but with the earlier clock;
            // B edits the font size (and the theme) later: only the stamps decide the theme.
            b.clock.set(base + 2_000);
            onB.update(s -> new Settings(s.name(), 18, "solarized"));
            a.clock.set(base + 1_000);
            onA.update(s -> new Settings("Grace", s.fontSize(), "dark"));
            assertEquals(new Settings("Grace", 14, "dark"), onA.value(), "A's own edit shows while offline");
            assertEquals(new Settings("Ada", 18, "solarized"), onB.value(), "B's own edit shows while offline");

            a.goOnline();
            b.goOnline();
            a.syncNow();
            b.syncNow();
            a.syncNow();
            Settings expected = new Settings("Grace", 18, "solarized");
            Poll.until("A to have both edits", () -> onA.value().equals(expected), a::describe);
            Poll.until("B to have both edits", () -> onB.value().equals(expected), b::describe);
            assertEquals(EngineAccess.state(a.cairn).map("state").sorted(), EngineAccess.state(b.cairn).map("state").sorted(),
                    "both devices hold the same entries");
            assertEquals("\"solarized\"", EngineAccess.state(a.cairn).map("state").value("settings#theme"), "the later stamp wins");
        }
    }
}
