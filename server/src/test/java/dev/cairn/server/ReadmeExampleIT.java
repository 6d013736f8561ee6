package dev.cairn.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.Cairn;
import dev.cairn.engine.PersistentState;
import dev.cairn.engine.StateOptions;
import dev.cairn.engine.sync.SyncClient;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's "Using the engine" example, compiled and run against a real server, so the doc
 * cannot drift from the API. Keep the block between the markers identical to the README.
 */
class ReadmeExampleIT {

    /** The README's value type. */
    record Settings(String name, String theme) {
        Settings() {
            this("", "system");
        }

        Settings withName(String value) {
            return new Settings(value, theme);
        }
    }

    @TempDir
    Path dir;

    @Test
    void theReadmeExampleRunsAndSyncs() {
        try (TestServer server = TestServer.embedded().start()) {
            String token = server.token("ada");
            URI syncUri = server.syncUri();
            Path state = dir.resolve("state");
            // README begin (the README uses Path.of("state") and ws://localhost:8080/sync)
            try (Cairn cairn = Cairn.builder().dataDir(state).open()) {
                PersistentState<Settings> settings = cairn.state("settings", Settings.class, new Settings(),
                        StateOptions.<Settings>defaults().saveDelay(Duration.ofMillis(500)).validate(s -> s.name() != null));
                settings.update(s -> s.withName("Ada"));
                cairn.cards().card("intro").toggle();            // stored field by field: merges per field
                cairn.consent().sign("service-waiver", "v3", Duration.ofDays(365), Map.of());
                cairn.chat().append("conv-1", "user", "hello");
                settings.save().join();                          // durable (checksummed journal, fsynced) when this completes

                try (SyncClient sync = SyncClient.builder(cairn, syncUri, () -> token)
                        .user("ada")                             // the token's sub: another user's token stops sync (wrong-user)
                        .build()) {
                    sync.start();                                // pushes the outbox, catches up, then stays live
                    sync.syncNow().join();
                }
                // README end
                assertEquals("Ada", settings.value().name());
                assertTrue(cairn.consent().hasValidWaiver("service-waiver", "v3"));
            }
            String onServer = server.canonical("ada");
            assertTrue(onServer.contains("\"settings\"") && onServer.contains("Ada"), onServer);
            assertTrue(onServer.contains("card-intro/isExpanded") && onServer.contains("hello"), onServer);
        }
    }
}
