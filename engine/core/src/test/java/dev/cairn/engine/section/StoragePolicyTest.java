package dev.cairn.engine.section;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class StoragePolicyTest {

    @Test
    void persistToNamesTheTiersItWritesTo() {
        assertFalse(PersistTo.CONTEXT.session());
        assertFalse(PersistTo.CONTEXT.durable());
        assertTrue(PersistTo.SESSION_STORAGE.session());
        assertFalse(PersistTo.SESSION_STORAGE.durable());
        assertFalse(PersistTo.LOCAL_STORAGE.session());
        assertTrue(PersistTo.LOCAL_STORAGE.durable());
        assertTrue(PersistTo.ALL.session());
        assertTrue(PersistTo.ALL.durable());
    }

    @Test
    void persistToReadsTheOriginalSpecSpellingsAndEnumNames() {
        for (PersistTo p : PersistTo.values()) {
            assertEquals(p, PersistTo.fromSpecName(p.specName()));
            assertEquals(p, PersistTo.fromSpecName(p.name()));
            assertEquals(p, PersistTo.fromSpecName(p.name().toLowerCase()));
        }
        assertEquals("sessionStorage", PersistTo.SESSION_STORAGE.specName());
        assertEquals(PersistTo.LOCAL_STORAGE, PersistTo.fromSpecName("localStorage"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PersistTo.fromSpecName("indexedDB"));
        assertTrue(e.getMessage().contains("indexedDB"), e.getMessage());
    }

    @Test
    void theDefaultPolicyIsDurableSyncingAutoSavedAfterOneSecondDebounced() {
        StoragePolicy p = StoragePolicy.DEFAULT;
        assertEquals(PersistTo.LOCAL_STORAGE, p.persistTo());
        assertTrue(p.sync());
        assertTrue(p.autoSave());
        assertEquals(Duration.ofSeconds(1), p.saveDelay());
        assertTrue(p.debounce());
    }

    @Test
    void withersChangeOneFieldEach() {
        StoragePolicy p = StoragePolicy.DEFAULT;
        assertEquals(new StoragePolicy(PersistTo.ALL, true, true, Duration.ofSeconds(1), true), p.withPersistTo(PersistTo.ALL));
        assertEquals(new StoragePolicy(PersistTo.LOCAL_STORAGE, false, true, Duration.ofSeconds(1), true), p.withSync(false));
        assertEquals(new StoragePolicy(PersistTo.LOCAL_STORAGE, true, false, Duration.ofSeconds(1), true), p.withAutoSave(false));
        assertEquals(new StoragePolicy(PersistTo.LOCAL_STORAGE, true, true, Duration.ZERO, true), p.withSaveDelay(Duration.ZERO));
        assertEquals(new StoragePolicy(PersistTo.LOCAL_STORAGE, true, true, Duration.ofSeconds(1), false), p.withDebounce(false));
    }

    @Test
    void onlyAMemoryOnlyLocalOnlyPolicyPersistsNothing() {
        assertFalse(StoragePolicy.DEFAULT.withPersistTo(PersistTo.CONTEXT).withSync(false).persists());
        assertTrue(StoragePolicy.DEFAULT.withPersistTo(PersistTo.CONTEXT).persists(), "it still has to reach the outbox");
        assertTrue(StoragePolicy.DEFAULT.withSync(false).persists());
    }

    @Test
    void invalidPoliciesAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> StoragePolicy.DEFAULT.withSaveDelay(Duration.ofMillis(-1)));
        assertThrows(NullPointerException.class, () -> new StoragePolicy(null, true, true, Duration.ZERO, true));
        assertThrows(NullPointerException.class, () -> new StoragePolicy(PersistTo.ALL, true, true, null, true));
    }
}
