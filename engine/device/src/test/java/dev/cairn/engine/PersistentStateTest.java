package dev.cairn.engine;

import dev.cairn.engine.sync.internal.SyncPorts;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.type.TypeReference;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The typed state handle (the original {@code usePersistentState}): values, validation, types, subscriptions. */
class PersistentStateTest {

    record Profile(String name, int age, List<String> tags) {
    }

    /** A classic bean, as the original spec's {@code { count: 0, name: '' }}. */
    public static final class Form {
        private int count;
        private String name = "";

        public int getCount() {
            return count;
        }

        public void setCount(int count) {
            this.count = count;
        }

        public String getName() {
            return name;
        }

        public void setName(String name) {
            this.name = name;
        }
    }

    private Cairn cairn;

    @BeforeEach
    void open() {
        cairn = TestSupport.inMemory("a");
    }

    @AfterEach
    void close() {
        cairn.close();
    }

    @Test
    void valueIsTheDefaultUntilSet() {
        PersistentState<Integer> n = cairn.state("n", Integer.class, 42);
        assertEquals(42, n.value());
        assertEquals("n", n.key());
        assertEquals("state", n.section());
        assertFalse(cairn.map("state").contains("n"), "reading the default writes nothing");
    }

    @Test
    void aNullDefaultIsAllowed() {
        PersistentState<String> s = cairn.state("s", String.class, null);
        assertNull(s.value());
        s.set("x");
        assertEquals("x", s.value());
    }

    @Test
    void setChangesTheValueAndStoresItAsJson() {
        PersistentState<String> s = cairn.state("greeting", String.class, "");
        s.set("héllo \"world\"");
        assertEquals("héllo \"world\"", s.value());
        assertEquals("\"héllo \\\"world\\\"\"", cairn.map("state").json("greeting"));
    }

    @Test
    void updateAppliesTheFunctionToTheCurrentValueAndReturnsTheResult() {
        PersistentState<Integer> n = cairn.state("n", Integer.class, 10);
        assertEquals(11, n.update(v -> v + 1));
        assertEquals(22, n.update(v -> v * 2));
        assertEquals(22, n.value());
    }

    @Test
    void resetReturnsToTheDefaultWithATombstone() {
        PersistentState<Integer> n = cairn.state("n", Integer.class, 5);
        n.set(9);
        n.reset();
        assertEquals(5, n.value());
        assertTrue(cairn.map("state").entry("n").isTombstone(), "a reset must sync as a delete");
        n.set(1);
        assertEquals(1, n.value());
    }

    @Test
    void twoHandlesOfOneKeySeeEachOthersWrites() {
        PersistentState<Integer> a = cairn.state("shared", Integer.class, 0);
        PersistentState<Integer> b = cairn.state("shared", Integer.class, 0);
        a.set(1);
        assertEquals(1, b.value());
        b.update(v -> v + 10);
        assertEquals(11, a.value());
    }

    @Test
    void valueIsNotStaleWhenTheKeyChangesAgainWhileSetReturns() {
        // A change listener runs inside set(), after the write is in memory: it models another
        // writer (or a merged remote change) that lands between set()'s write and its return.
        PersistentState<String> mine = cairn.state("k", String.class, "");
        PersistentState<String> other = cairn.state("k", String.class, "");
        AtomicBoolean once = new AtomicBoolean();
        cairn.onChange(e -> {
            if (e.target().equals("k") && once.compareAndSet(false, true)) {
                other.set("from-listener");
            }
        });
        mine.set("mine");
        assertEquals("\"from-listener\"", cairn.map("state").json("k"));
        assertEquals("from-listener", other.value());
        assertEquals("from-listener", mine.value(), "a handle must never return a value that is no longer stored");
    }

    @Test
    void aKeyCanLiveInAnotherMapSection() {
        PersistentState<Boolean> s = cairn.state("sidebar-open", Boolean.class, false, StateOptions.<Boolean>defaults().section("ui"));
        s.set(true);
        assertEquals("true", cairn.ui().json("sidebar-open"));
        assertFalse(cairn.map("state").contains("sidebar-open"));
        assertEquals("ui", s.section());
    }

    @Test
    void stateInALogOrUnknownSectionIsRefused() {
        assertThrows(UnknownSectionException.class,
                () -> cairn.state("k", String.class, "", StateOptions.<String>defaults().section("chat")));
        assertThrows(UnknownSectionException.class,
                () -> cairn.state("k", String.class, "", StateOptions.<String>defaults().section("missing")));
    }

    @Test
    void invalidKeysAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> cairn.state("", String.class, ""));
        assertThrows(IllegalArgumentException.class, () -> cairn.state("a\u0000b", String.class, ""));
        assertThrows(IllegalArgumentException.class, () -> cairn.state("x".repeat(513), String.class, ""));
        PersistentState<String> unicode = cairn.state("ключ/🙂", String.class, "");
        unicode.set("ok");
        assertEquals("ok", unicode.value());
    }

    @Test
    void aStoredValueOfAnotherTypeReadsAsTheDefaultAndIsReportedOnceNamingTheKey() {
        cairn.map("state").put("k", "not a number");
        List<Throwable> errors = new ArrayList<>();
        cairn.onError(errors::add);
        PersistentState<Integer> n = cairn.state("k", Integer.class, 0);
        assertEquals(0, n.value());
        assertEquals(0, n.value());
        assertEquals(1, errors.size(), "reported once: " + errors);
        UnreadableValueException e = assertInstanceOf(UnreadableValueException.class, errors.get(0));
        assertEquals("state/k", e.key());
        assertTrue(e.getMessage().contains("state/k"), e.getMessage());
        assertEquals("\"not a number\"", cairn.map("state").json("k"), "the stored value stays");
    }

    // ------------------------------------------------------------------ validation

    @Test
    void aRejectedValueThrowsKeepsTheOldValueAndQueuesNothing() {
        PersistentState<Integer> age = cairn.state("age", Integer.class, 0,
                StateOptions.<Integer>defaults().validate(v -> v != null && v >= 0));
        age.set(30);
        age.save().join();
        assertFalse(age.isDirty());
        int outboxBefore = SyncPorts.of(cairn).outbox(1000).size();
        List<Integer> notified = new ArrayList<>();
        age.subscribe(notified::add);
        String before = cairn.canonicalState();

        ValidationException e = assertThrows(ValidationException.class, () -> age.set(-1));
        assertTrue(e.getMessage().contains("state/age"), e.getMessage());

        assertEquals(30, age.value());
        assertFalse(age.isDirty(), "a refused value must not be queued for saving");
        assertEquals(0, cairn.stats().unsavedRecords());
        assertEquals(before, cairn.canonicalState());
        assertEquals(List.of(), notified);
        cairn.save().join();
        assertEquals(outboxBefore, SyncPorts.of(cairn).outbox(1000).size(), "a refused value must not reach the outbox");
    }

    @Test
    void aValidatorThatThrowsIsAValidationExceptionAndKeepsTheOldValue() {
        IllegalStateException cause = new IllegalStateException("validator exploded");
        PersistentState<String> s = cairn.state("s", String.class, "", StateOptions.<String>defaults().validate(v -> {
            if (v.startsWith("!")) {
                throw cause;
            }
            return true;
        }));
        s.set("fine");
        ValidationException e = assertThrows(ValidationException.class, () -> s.set("!bad"));
        assertSame(cause, e.getCause());
        assertEquals("fine", s.value());
        assertEquals("\"fine\"", cairn.map("state").json("s"));
    }

    @Test
    void anUpdateWhoseResultIsRejectedChangesNothing() {
        PersistentState<Integer> n = cairn.state("n", Integer.class, 0, StateOptions.<Integer>defaults().validate(v -> v < 3));
        n.update(v -> v + 1);
        n.update(v -> v + 1);
        assertThrows(ValidationException.class, () -> n.update(v -> v + 1));
        assertEquals(2, n.value());
    }

    @Test
    void resetIsNotValidated() {
        PersistentState<Integer> n = cairn.state("n", Integer.class, 0, StateOptions.<Integer>defaults().validate(v -> v > 100));
        n.set(500);
        n.reset();
        assertEquals(0, n.value());
    }

    // ------------------------------------------------------------------ types

    @Test
    void genericTypesRoundTripThroughATypeReference() {
        PersistentState<Map<String, List<Integer>>> s = cairn.state("scores", new TypeReference<Map<String, List<Integer>>>() { },
                Map.of(), StateOptions.defaults());
        Map<String, List<Integer>> value = new LinkedHashMap<>();
        value.put("alice", List.of(1, 2, 3));
        value.put("bob", List.of());
        s.set(value);
        PersistentState<Map<String, List<Integer>>> fresh = cairn.state("scores", new TypeReference<Map<String, List<Integer>>>() { },
                Map.of(), StateOptions.defaults());
        Map<String, List<Integer>> read = fresh.value();
        assertEquals(value, read);
        assertInstanceOf(Integer.class, read.get("alice").get(0), "elements must be decoded as Integer, not left as raw JSON");
    }

    @Test
    void recordsRoundTripThroughJackson() {
        PersistentState<Profile> p = cairn.state("profile", Profile.class, new Profile("", 0, List.of()));
        p.set(new Profile("Ada", 36, List.of("math", "engines")));
        PersistentState<Profile> fresh = cairn.state("profile", Profile.class, null);
        assertEquals(new Profile("Ada", 36, List.of("math", "engines")), fresh.value());
        assertEquals(new Profile("Ada", 37, List.of("math", "engines")),
                fresh.update(old -> new Profile(old.name(), old.age() + 1, old.tags())));
    }

    @Test
    void beansRoundTripThroughJackson() {
        PersistentState<Form> f = cairn.state("my-component-state", Form.class, new Form());
        f.update(old -> {
            Form next = new Form();
            next.setCount(old.getCount() + 1);
            next.setName("typed");
            return next;
        });
        Form read = cairn.state("my-component-state", Form.class, null).value();
        assertEquals(1, read.getCount());
        assertEquals("typed", read.getName());
        // one entry per field under a head (spec/vectors/values/README.md)
        assertEquals("{\"$cairn\":\"fields\",\"version\":0}", cairn.map("state").json("my-component-state"));
        assertEquals("1", cairn.map("state").json("my-component-state#count"));
        assertEquals("\"typed\"", cairn.map("state").json("my-component-state#name"));
    }

    // ------------------------------------------------------------------ subscribe

    @Test
    void subscribeFiresWithTheNewValueForEveryLocalChangeOfItsKey() {
        PersistentState<Integer> n = cairn.state("n", Integer.class, -1);
        List<Integer> seen = new ArrayList<>();
        n.subscribe(seen::add);
        n.set(1);
        n.update(v -> v + 1);
        cairn.map("state").put("n", 7);
        cairn.state("other", Integer.class, 0).set(100);
        n.reset();
        assertEquals(List.of(1, 2, 7, -1), seen);
    }

    @Test
    void settingTheSameValueAgainStillNotifies() {
        PersistentState<Integer> n = cairn.state("n", Integer.class, 0);
        List<Integer> seen = new ArrayList<>();
        n.subscribe(seen::add);
        n.set(3);
        n.set(3);
        assertEquals(List.of(3, 3), seen, "every write is a new change with a new stamp");
    }

    @Test
    void closingTheSubscriptionStopsNotifications() {
        PersistentState<Integer> n = cairn.state("n", Integer.class, 0);
        List<Integer> seen = new ArrayList<>();
        Subscription sub = n.subscribe(seen::add);
        n.set(1);
        sub.close();
        sub.close();
        n.set(2);
        assertEquals(List.of(1), seen);
        assertEquals(2, n.value());
    }
}
