package dev.cairn.engine.fuzz;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.cairn.engine.codec.Json;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Example;

/**
 * Fuzzes the strict JSON parser every codec shares ({@link Json#normalize} for values and
 * {@code Json.MAPPER.readTree} for documents and HTTP bodies): only IllegalArgumentException
 * (normalize) and JsonProcessingException (readTree) may escape, deep nesting is refused rather
 * than overflowing the stack, and normalizing is idempotent.
 */
class JsonFuzzTest {

    @Example // jqwik, not JUnit: its generators only run on a jqwik thread
    void strictParserRefusesHostileJsonWithTheDeclaredError() {
        var valid = Arbitraries.oneOf(ValidInputs.VALUES, ValidInputs.FRAME_TEXT, ValidInputs.EXPORT_DOCUMENTS);
        Mutator mutator = new Mutator(ValidInputs.samples(valid, 64, 3), 1 << 16);
        new FuzzLoop<>("JsonFuzzTest", new Corpus("json"), FuzzLoop.Format.TEXT,
                FuzzLoop.mutationsOf(valid, mutator), JsonFuzzTest::parse, 2500).run();
    }

    static boolean parse(String text) {
        boolean accepted = false;
        try {
            String once = Json.normalize(text);
            String twice = Json.normalize(once);
            if (!once.equals(twice)) {
                throw new AssertionError("normalize is not idempotent: " + once + " became " + twice);
            }
            accepted = true;
        } catch (IllegalArgumentException e) {
            Declared.message(e);
        }
        try {
            Json.MAPPER.readTree(text);
        } catch (JsonProcessingException e) {
            // declared: a parse error
        }
        return accepted;
    }
}
