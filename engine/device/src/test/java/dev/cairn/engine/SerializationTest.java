package dev.cairn.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDate;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Serialization the app controls: the default mapper's explicit modules, a custom mapper, values that do not read back, set(null). */
class SerializationTest {

    record Reminder(String text, Instant due, Optional<String> note, LocalDate day) {
    }

    record Person(String firstName, int age) {
    }

    /** Jackson writes it (a getter) but cannot read it back: no creator, no setter. */
    public static final class Snapshot {
        private final String name;

        public Snapshot(String name) {
            this.name = name;
        }

        public String getName() {
            return name;
        }
    }

    /** Reads back as another value: the setter trims, the field as written does not. */
    public static final class Trimmed {
        private String name;

        public Trimmed() {
        }

        Trimmed(String raw) {
            this.name = raw;
        }

        public String getName() {
            return name;
        }

        public void setName(String name) {
            this.name = name.trim();
        }
    }

    @TempDir
    Path dir;

    @Test
    void instantAndOptionalRoundTripWithTheDefaultMapperAcrossARestart() {
        Reminder reminder = new Reminder("call", Instant.parse("2026-12-06T08:30:00.123Z"), Optional.of("bring notes"), LocalDate.of(2026, 12, 24));
        try (Cairn cairn = Cairn.builder().dataDir(dir).replicaId("a").open()) {
            cairn.state("at", Instant.class, Instant.EPOCH).set(Instant.parse("2026-01-02T03:04:05Z"));
            cairn.state("maybe", new TypeReference<Optional<Integer>>() { }, Optional.empty(), StateOptions.defaults()).set(Optional.of(7));
            cairn.state("empty", new TypeReference<Optional<Integer>>() { }, Optional.of(1), StateOptions.defaults()).set(Optional.empty());
            PersistentState<Reminder> r = cairn.state("reminder", Reminder.class, null);
            r.set(reminder);
            assertEquals(reminder, r.value());
            // java.time as ISO-8601 text, Optional as its content: the same whatever the class path holds
            assertEquals("\"2026-01-02T03:04:05Z\"", cairn.map("state").json("at"));
            assertEquals("7", cairn.map("state").json("maybe"));
            assertEquals("null", cairn.map("state").json("empty"));
            assertEquals("{\"$cairn\":\"fields\",\"version\":0}", cairn.map("state").json("reminder")); // one entry per field
            assertEquals(Map.of("reminder#day", "\"2026-12-24\"", "reminder#due", "\"2026-12-06T08:30:00.123Z\"",
                    "reminder#note", "\"bring notes\"", "reminder#text", "\"call\""), cairn.map("state").entries("reminder#"));
        }
        try (Cairn cairn = Cairn.builder().dataDir(dir).open()) {
            assertEquals(Instant.parse("2026-01-02T03:04:05Z"), cairn.state("at", Instant.class, Instant.EPOCH).value());
            assertEquals(Optional.of(7), cairn.state("maybe", new TypeReference<Optional<Integer>>() { }, Optional.empty(), StateOptions.defaults()).value());
            assertEquals(Optional.empty(), cairn.state("empty", new TypeReference<Optional<Integer>>() { }, Optional.of(1), StateOptions.defaults()).value());
            assertEquals(reminder, cairn.state("reminder", Reminder.class, null).value());
            assertEquals(LocalDate.of(2026, 12, 24), cairn.map("state").get("reminder#day", LocalDate.class));
        }
    }

    @Test
    void theDefaultMapperIsANewInstanceWithExplicitModules() {
        ObjectMapper a = Cairn.defaultObjectMapper();
        assertNotSame(a, Cairn.defaultObjectMapper());
        assertTrue(a.getRegisteredModuleIds().contains("jackson-datatype-jsr310"), a.getRegisteredModuleIds().toString());
        assertTrue(a.getRegisteredModuleIds().stream().anyMatch(id -> id.toString().contains("Jdk8Module")), a.getRegisteredModuleIds().toString());
        assertEquals(2, a.getRegisteredModuleIds().size(), a.getRegisteredModuleIds().toString());
    }

    @Test
    void theAppsMapperWritesAndReadsAppValues() {
        ObjectMapper snake = Cairn.defaultObjectMapper().setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE);
        try (Cairn cairn = Cairn.builder().dataDir(dir).replicaId("a").objectMapper(snake).open()) {
            PersistentState<Person> p = cairn.state("person", Person.class, null);
            p.set(new Person("Ada", 36));
            assertEquals("\"Ada\"", cairn.map("state").json("person#first_name"));
            assertEquals("36", cairn.map("state").json("person#age"));
            cairn.map("state").put("other", new Person("Grace", 45));
            assertEquals("{\"first_name\":\"Grace\",\"age\":45}", cairn.map("state").json("other"));
            assertEquals(new Person("Grace", 45), cairn.map("state").get("other", Person.class));
            // the engine's own records keep their encoding (every device and the browser client read them)
            cairn.chat().append("c1", "user", "hi", Map.of("sentAt", "now"));
            assertTrue(cairn.log("chat").entries("c1").get(0).value().contains("\"role\":\"user\""));
            assertEquals("hi", cairn.chat().history("c1").get(0).text());
        }
        try (Cairn cairn = Cairn.builder().dataDir(dir).objectMapper(snake).open()) {
            assertEquals(new Person("Ada", 36), cairn.state("person", Person.class, null).value());
        }
        // the same JSON read with a mapper that does not know the names: the field stays unset
        try (Cairn cairn = Cairn.builder().dataDir(dir).open()) {
            assertNull(cairn.state("person", Person.class, null).value().firstName());
        }
    }

    @Test
    void objectMapperMayBeSetOnce() {
        Cairn.Builder b = Cairn.builder().objectMapper(new ObjectMapper());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> b.objectMapper(new ObjectMapper()));
        assertEquals("objectMapper was already set", e.getMessage());
        assertThrows(NullPointerException.class, () -> Cairn.builder().objectMapper(null));
    }

    @Test
    void aValueThatDoesNotReadBackIsRefusedBeforeAnythingChanges() {
        try (Cairn cairn = Cairn.builder().dataDir(dir).replicaId("a").open()) {
            PersistentState<Snapshot> s = cairn.state("snap", Snapshot.class, null);
            ValidationException e = assertThrows(ValidationException.class, () -> s.set(new Snapshot("x")));
            assertTrue(e.getMessage().contains("'state/snap'") && e.getMessage().contains("does not read back as")
                    && e.getMessage().contains("nothing was written"), e.getMessage());
            assertTrue(e.getMessage().contains("Creator"), "the mapper's reason, for the app: " + e.getMessage());
            assertNull(s.value());
            assertNull(cairn.map("state").json("snap"));
            assertEquals(0, cairn.pendingChanges());

            PersistentState<Trimmed> t = cairn.state("trimmed", Trimmed.class, null);
            ValidationException changed = assertThrows(ValidationException.class, () -> t.set(new Trimmed("  padded ")));
            assertTrue(changed.getMessage().contains("reads back as a different value"), changed.getMessage());
            assertNull(cairn.map("state").json("trimmed"));
            t.set(new Trimmed("clean")); // one that reads back as written is fine
            assertEquals("clean", t.value().getName());
            assertEquals(2, cairn.pendingChanges(), "the head and the one field");
        }
    }

    @Test
    void aTypeTheMapperCannotWriteIsRefused() {
        try (Cairn cairn = Cairn.builder().inMemory().replicaId("a").objectMapper(new ObjectMapper()).open()) {
            // a bare ObjectMapper has no java.time support: refused at set(), not after a restart
            PersistentState<Instant> at = cairn.state("at", Instant.class, Instant.EPOCH);
            ValidationException e = assertThrows(ValidationException.class, () -> at.set(Instant.now()));
            assertTrue(e.getMessage().contains("java.time.Instant"), e.getMessage());
            assertEquals(Instant.EPOCH, at.value());
            assertNull(cairn.map("state").json("at"));
        }
    }

    @Test
    void setNullIsRefusedAndResetGoesBackToTheDefault() {
        try (Cairn cairn = Cairn.builder().inMemory().replicaId("a").open()) {
            PersistentState<String> s = cairn.state("s", String.class, "default");
            s.set("v");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.set(null));
            assertTrue(e.getMessage().contains("reset()"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> s.update(v -> null));
            assertEquals("v", s.value());
            s.reset();
            assertEquals("default", s.value());
        }
    }

    @Test
    void theValueReadBackIsCachedNotTheCallersObject() {
        try (Cairn cairn = Cairn.builder().inMemory().replicaId("a").open()) {
            PersistentState<PersistentStateTest.Form> f = cairn.state("form", PersistentStateTest.Form.class, null);
            PersistentStateTest.Form form = new PersistentStateTest.Form();
            form.setName("before");
            f.set(form);
            form.setName("changed after set"); // not written: value() must not show it
            assertEquals("before", f.value().getName());
        }
    }
}
