package dev.cairn.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.ref.WeakReference;
import org.junit.jupiter.api.Test;

/** The shutdown hook of saveOnShutdown is removed by close() (its save at exit: crash.ShutdownSaveIT). */
class ShutdownHookTest {

    @Test
    void closeRemovesTheHookSoNothingHoldsTheEngine() {
        WeakReference<Cairn> ref = openAndClose();
        for (int i = 0; i < 50 && ref.get() != null; i++) {
            System.gc();
            TestSupport.pause(20);
        }
        // a registered hook would keep the engine reachable until the JVM exits
        assertNull(ref.get(), "a closed engine is no longer referenced by a shutdown hook");
    }

    private static WeakReference<Cairn> openAndClose() {
        Cairn cairn = Cairn.builder().inMemory().replicaId("a").saveOnShutdown(true).open();
        cairn.map("state").put("k", 1);
        cairn.close();
        return new WeakReference<>(cairn);
    }

    @Test
    void saveOnShutdownMayBeSetOnce() {
        Cairn.Builder b = Cairn.builder().saveOnShutdown(false);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> b.saveOnShutdown(true));
        assertEquals("saveOnShutdown was already set", e.getMessage());
    }
}
