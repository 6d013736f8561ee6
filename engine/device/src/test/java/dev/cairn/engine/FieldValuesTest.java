package dev.cairn.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.crdt.LwwEntry;
import dev.cairn.engine.sync.internal.SyncPorts;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A typed value stored field by field (spec/vectors/values/README.md) through real handles: the
 * layout, versions and migrations, values that do not read, the old layout, reset, the cache and
 * subscriptions.
 */
class FieldValuesTest {

    record Settings(String name, int fontSize) {
    }

    /** Settings with a field added later: old values take it from the default. */
    record SettingsPlus(String name, int fontSize, String theme) {
    }

    /** Version 2: {@code name} renamed {@code displayName}, {@code fontSize} a word instead of a number. */
    record SettingsV2(String displayName, String fontSize) {
    }

    private Cairn cairn;
    private final List<Throwable> errors = new CopyOnWriteArrayList<>();

    @BeforeEach
    void open() {
        cairn = TestSupport.inMemory("a");
        cairn.onError(errors::add);
    }

    @AfterEach
    void close() {
        cairn.close();
    }

    private NavigableMap<String, String> stored(Cairn engine, String key) {
        NavigableMap<String, String> all = new java.util.TreeMap<>(engine.map("state").entries(key + "#"));
        String root = engine.map("state").json(key);
        if (root != null) {
            all.put(key, root);
        }
        return all;
    }

    // ------------------------------------------------------------------ layout

    @Test
    void aRecordIsStoredOneEntryPerFieldUnderAHead() {
        PersistentState<Settings> s = cairn.state("settings", Settings.class, new Settings("", 14));
        s.set(new Settings("Ada", 14));
        assertEquals(Map.of("settings", "{\"$cairn\":\"fields\",\"version\":0}", "settings#name", "\"Ada\"", "settings#fontSize", "14"),
                stored(cairn, "settings"));
        s.save().join();
        int outbox = TestSupport.outbox(cairn).size();
        s.set(new Settings("Ada", 16));
        s.save().join();
        assertEquals(outbox + 1, TestSupport.outbox(cairn).size(), "one changed field is one change");
        assertEquals("16", cairn.map("state").json("settings#fontSize"));
        assertEquals(new Settings("Ada", 16), cairn.state("settings", Settings.class, null).value());
    }

    @Test
    void wholeKeepsOneEntry() {
        PersistentState<Settings> s = cairn.state("w", Settings.class, null, StateOptions.<Settings>defaults().merge(Merge.WHOLE));
        s.set(new Settings("Ada", 14));
        assertEquals(Map.of("w", "{\"name\":\"Ada\",\"fontSize\":14}"), stored(cairn, "w"));
        PersistentState<Settings> v = cairn.state("v", Settings.class, null, StateOptions.<Settings>defaults().merge(Merge.WHOLE).version(3));
        v.set(new Settings("Ada", 14));
        assertEquals(Map.of("v", "{\"$cairn\":\"value\",\"version\":3,\"value\":{\"name\":\"Ada\",\"fontSize\":14}}"), stored(cairn, "v"));
        assertEquals(new Settings("Ada", 14), v.value());
    }

    @Test
    void aHashInAHandleKeyIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cairn.state("a#b", String.class, ""));
        assertTrue(e.getMessage().contains("'#'") && e.getMessage().contains("a#b"), e.getMessage());
    }

    @Test
    void resetDeletesTheRootAndEveryField() {
        PersistentState<Settings> s = cairn.state("settings", Settings.class, new Settings("", 14));
        s.set(new Settings("Ada", 16));
        cairn.map("state").put("settings#extra", 1); // a field another app wrote
        s.reset();
        assertEquals(Map.of(), stored(cairn, "settings"));
        assertTrue(cairn.map("state").entry("settings#extra").isTombstone());
        assertEquals(new Settings("", 14), s.value());
    }

    @Test
    void theCacheDoesNotDecodeWhenNothingChanged() {
        PersistentState<Settings> s = cairn.state("settings", Settings.class, new Settings("", 14));
        cairn.map("state").put("settings#name", "Ada");
        Settings first = s.value();
        assertSame(first, s.value());
        cairn.map("state").put("other", 1);
        assertSame(first, s.value(), "a change of another key decodes nothing");
        cairn.map("state").put("settings#fontSize", 20);
        assertEquals(new Settings("Ada", 20), s.value(), "a field changed");
    }

    @Test
    void subscribeFiresOnceForAWriteOfSeveralFieldsAndForRemoteFieldChanges() {
        PersistentState<Settings> s = cairn.state("settings", Settings.class, new Settings("", 14));
        List<Settings> seen = new ArrayList<>();
        s.subscribe(seen::add);
        s.set(new Settings("Ada", 16)); // head and two fields
        assertEquals(List.of(new Settings("Ada", 16)), seen);
        try (Cairn other = TestSupport.inMemory("b")) {
            SyncPorts.of(other).applyRemote(FieldMergeProperties.changes(cairn));
            other.state("settings", Settings.class, null).set(new Settings("Ada", 18));
            SyncPorts.of(cairn).applyRemote(FieldMergeProperties.changes(other));
        }
        assertEquals(List.of(new Settings("Ada", 16), new Settings("Ada", 18)), seen);
    }

    @Test
    void aWriteIsSavedTogether() {
        PersistentState<Settings> s = cairn.state("settings", Settings.class, new Settings("", 14));
        s.set(new Settings("Ada", 16));
        assertTrue(s.isDirty());
        s.save().join();
        assertFalse(s.isDirty());
        assertEquals(3, TestSupport.outbox(cairn).size(), "the head and both fields reached the outbox together");
    }

    // ------------------------------------------------------------------ the old layout

    @Test
    void aValueOfTheOldLayoutIsReadAndConvertedToFieldsOnTheNextWrite() {
        cairn.map("state").put("settings", new Settings("Ada", 14)); // a plain whole object, as before
        PersistentState<Settings> s = cairn.state("settings", Settings.class, new Settings("", 12));
        assertEquals(new Settings("Ada", 14), s.value());
        s.set(new Settings("Ada", 15));
        assertEquals(Map.of("settings", "{\"$cairn\":\"fields\",\"version\":0}", "settings#name", "\"Ada\"", "settings#fontSize", "15"),
                stored(cairn, "settings"));
        assertEquals(new Settings("Ada", 15), cairn.state("settings", Settings.class, null).value());
    }

    // ------------------------------------------------------------------ versions

    @Test
    void anAddedFieldTakesItsValueFromTheDefault() {
        cairn.state("settings", Settings.class, null).set(new Settings("Ada", 16));
        PersistentState<SettingsPlus> plus = cairn.state("settings", SettingsPlus.class, new SettingsPlus("", 14, "light"));
        assertEquals(new SettingsPlus("Ada", 16, "light"), plus.value());
        assertTrue(errors.isEmpty(), errors.toString());
    }

    @Test
    void aV1ValueIsMigratedOnReadAndWrittenBackOnce() {
        PersistentState<Settings> v1 = cairn.state("settings", Settings.class, null, StateOptions.<Settings>defaults().version(1));
        v1.set(new Settings("Ada", 16));
        List<Integer> from = new ArrayList<>();
        PersistentState<SettingsV2> v2 = cairn.state("settings", SettingsV2.class, null, StateOptions.<SettingsV2>defaults().version(2)
                .migrate((JsonNode old, int version) -> {
                    from.add(version);
                    return new SettingsV2(old.get("name").asText(), old.get("fontSize").asInt() > 14 ? "large" : "normal");
                }));
        assertEquals(new SettingsV2("Ada", "large"), v2.value());
        assertEquals(List.of(1), from);
        // renamed: the old entry deleted; retyped: the new text; the head raised
        assertEquals(Map.of("settings", "{\"$cairn\":\"fields\",\"version\":2}", "settings#displayName", "\"Ada\"",
                "settings#fontSize", "\"large\""), stored(cairn, "settings"));
        assertTrue(cairn.map("state").entry("settings#name").isTombstone());
        assertEquals(new SettingsV2("Ada", "large"), v2.value());
        assertEquals(List.of(1), from, "migrated once");
        assertTrue(errors.isEmpty(), errors.toString());
    }

    @Test
    void withoutMigrateAnOlderValueIsReadAsItIsAndWrittenBackWithTheNewVersion() {
        cairn.map("state").put("settings#name", "Ada");
        PersistentState<SettingsPlus> s = cairn.state("settings", SettingsPlus.class, new SettingsPlus("", 14, "light"),
                StateOptions.<SettingsPlus>defaults().version(1));
        assertEquals(new SettingsPlus("Ada", 14, "light"), s.value());
        assertEquals("{\"$cairn\":\"fields\",\"version\":1}", cairn.map("state").json("settings"));
        assertEquals("\"light\"", cairn.map("state").json("settings#theme"));
    }

    @Test
    void aV1AndAV2DeviceOfOneUserBothKeepWorking() {
        try (Cairn phone = TestSupport.inMemory("phone")) {
            List<Throwable> phoneErrors = new CopyOnWriteArrayList<>();
            phone.onError(phoneErrors::add);
            // the laptop runs version 2 (a field added), the phone still runs version 1
            PersistentState<SettingsPlus> laptop = cairn.state("settings", SettingsPlus.class, new SettingsPlus("", 14, "light"),
                    StateOptions.<SettingsPlus>defaults().version(2).migrate((old, v) ->
                            new SettingsPlus(old.path("name").asText(), old.path("fontSize").asInt(14), "light")));
            PersistentState<Settings> v1 = phone.state("settings", Settings.class, new Settings("", 14),
                    StateOptions.<Settings>defaults().version(1));
            v1.set(new Settings("Ada", 14));
            SyncPorts.of(cairn).applyRemote(FieldMergeProperties.changes(phone));
            assertEquals(new SettingsPlus("Ada", 14, "light"), laptop.value()); // migrated, written back
            laptop.set(new SettingsPlus("Ada", 14, "dark"));
            SyncPorts.of(phone).applyRemote(FieldMergeProperties.changes(cairn));

            assertEquals(new Settings("Ada", 14), v1.value(), "the phone still reads it");
            assertEquals(1, phoneErrors.size(), phoneErrors.toString());
            StoredByNewerVersionException newer = assertInstanceOf(StoredByNewerVersionException.class, phoneErrors.get(0));
            assertEquals(2, newer.storedVersion());
            assertEquals(1, newer.appVersion());
            assertEquals("state/settings", newer.key());

            v1.set(new Settings("Grace", 12)); // strips nothing, lowers nothing
            assertEquals("{\"$cairn\":\"fields\",\"version\":2}", phone.map("state").json("settings"));
            assertEquals("\"dark\"", phone.map("state").json("settings#theme"));
            v1.value();
            assertEquals(1, phoneErrors.size(), "told once per handle");

            SyncPorts.of(cairn).applyRemote(FieldMergeProperties.changes(phone));
            assertEquals(new SettingsPlus("Grace", 12, "dark"), laptop.value());
            assertEquals(stored(cairn, "settings"), stored(phone, "settings"));
            assertTrue(errors.isEmpty(), errors.toString());
        }
    }

    // ------------------------------------------------------------------ unreadable values

    @Test
    void anUnreadableValueGivesTheDefaultIsReportedOnceAndKeepsItsEntries() {
        cairn.map("state").put("settings", Map.of("$cairn", "fields", "version", 0));
        cairn.map("state").put("settings#name", "Ada");
        cairn.map("state").put("settings#fontSize", "not a number");
        Map<String, LwwEntry> before = entries("settings");
        PersistentState<Settings> s = cairn.state("settings", Settings.class, new Settings("", 14));
        assertEquals(new Settings("", 14), s.value());
        assertEquals(new Settings("", 14), s.value());
        assertEquals(1, errors.size(), errors.toString());
        UnreadableValueException e = assertInstanceOf(UnreadableValueException.class, errors.get(0));
        assertEquals("state/settings", e.key());
        assertTrue(e.getMessage().contains("state/settings") && e.getMessage().contains("does not read as"), e.getMessage());
        assertEquals(before, entries("settings"), "the stored entries stay untouched");

        cairn.map("state").put("settings#fontSize", "still not");
        assertEquals(new Settings("", 14), s.value());
        assertEquals(2, errors.size(), "another stored state is reported again");
        cairn.map("state").put("settings#fontSize", 18);
        assertEquals(new Settings("Ada", 18), s.value());
    }

    @Test
    void aMigrationThatThrowsIsAnUnreadableValue() {
        cairn.map("state").put("settings#name", "Ada");
        Map<String, LwwEntry> before = entries("settings");
        PersistentState<Settings> s = cairn.state("settings", Settings.class, new Settings("", 14),
                StateOptions.<Settings>defaults().version(1).migrate((old, v) -> {
                    throw new IllegalStateException("cannot migrate " + old);
                }));
        assertEquals(new Settings("", 14), s.value());
        UnreadableValueException e = assertInstanceOf(UnreadableValueException.class, errors.get(0));
        assertInstanceOf(IllegalStateException.class, e.getCause());
        assertTrue(e.getMessage().contains("migration"), e.getMessage());
        assertEquals(before, entries("settings"));
        assertNull(cairn.map("state").json("settings"), "no head was written");
    }

    private Map<String, LwwEntry> entries(String key) {
        Map<String, LwwEntry> out = new java.util.TreeMap<>(EngineAccess.state(cairn).map("state").fieldsOf(key));
        LwwEntry root = EngineAccess.state(cairn).map("state").entry(key);
        if (root != null) {
            out.put(key, root);
        }
        return out;
    }
}
