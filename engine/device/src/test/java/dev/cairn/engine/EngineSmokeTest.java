package dev.cairn.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EngineSmokeTest {

    @TempDir
    Path dir;

    @Test
    void writesSurviveReopen() {
        try (Cairn cairn = Cairn.builder().dataDir(dir).replicaId("dev-a").open()) {
            PersistentState<Integer> count = cairn.state("count", Integer.class, 0);
            count.update(n -> n + 1);
            count.update(n -> n + 1);
            cairn.cards().card("intro").toggle();
            cairn.chat().append("c1", "user", "hello");
            count.save().join();
            assertEquals(2, count.value());
        }
        try (Cairn cairn = Cairn.builder().dataDir(dir).open()) {
            assertEquals("dev-a", cairn.replicaId());
            assertEquals(2, cairn.state("count", Integer.class, 0).value());
            assertTrue(cairn.cards().card("intro").isExpanded());
            assertEquals("hello", cairn.chat().history("c1").get(0).text());
            assertEquals(4, cairn.stats().outboxSize(), cairn.stats().toString());
        }
    }
}
