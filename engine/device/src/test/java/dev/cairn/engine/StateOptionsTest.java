package dev.cairn.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.cairn.engine.section.PersistTo;
import dev.cairn.engine.section.StoragePolicy;
import java.time.Duration;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

class StateOptionsTest {

    @Test
    void unsetOptionsKeepTheSectionPolicy() {
        StoragePolicy base = new StoragePolicy(PersistTo.ALL, false, false, Duration.ofMillis(7), false);
        assertEquals(base, StateOptions.defaults().applyTo(base));
        assertNull(StateOptions.defaults().section());
        assertNull(StateOptions.defaults().validator());
    }

    @Test
    void setOptionsOverrideTheSectionPolicy() {
        Predicate<Integer> positive = v -> v > 0;
        StateOptions<Integer> options = StateOptions.<Integer>defaults()
                .autoSave(false).saveDelay(Duration.ofSeconds(3)).debounce(false)
                .persistTo(PersistTo.SESSION_STORAGE).sync(false).validate(positive).section("ui");
        assertEquals(new StoragePolicy(PersistTo.SESSION_STORAGE, false, false, Duration.ofSeconds(3), false),
                options.applyTo(StoragePolicy.DEFAULT));
        assertEquals("ui", options.section());
        assertSame(positive, options.validator());
    }

    @Test
    void optionsAreImmutable() {
        StateOptions<String> base = StateOptions.defaults();
        StateOptions<String> changed = base.sync(false);
        assertEquals(StoragePolicy.DEFAULT, base.applyTo(StoragePolicy.DEFAULT));
        assertEquals(StoragePolicy.DEFAULT.withSync(false), changed.applyTo(StoragePolicy.DEFAULT));
    }

    @Test
    void invalidOptionsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> StateOptions.defaults().saveDelay(Duration.ofMillis(-1)));
        assertThrows(IllegalArgumentException.class, () -> StateOptions.defaults().saveDelay(null));
        assertThrows(IllegalArgumentException.class, () -> StateOptions.defaults().persistTo(null));
        assertThrows(IllegalArgumentException.class, () -> StateOptions.defaults().validate(null));
    }
}
