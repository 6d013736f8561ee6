package dev.cairn.engine.fuzz;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.codec.ChangeJson;
import dev.cairn.engine.codec.MalformedChangeException;
import dev.cairn.engine.crdt.Change;
import java.util.List;
import net.jqwik.api.Example;

/**
 * Fuzzes the change payloads ({@link ChangeJson#decode} and {@link ChangeJson#decodeAll}, used by
 * the outbox, the wire and the vectors): only {@link MalformedChangeException} and, for a
 * well-formed stamp with its top bit set, {@link Stamp.TooFarAheadException} (PROTOCOL.md 1.1:
 * clock skew, not malformed) may escape, and an accepted change encodes and decodes back to itself.
 */
class ChangeJsonFuzzTest {

    @Example // jqwik, not JUnit: its generators only run on a jqwik thread
    void changePayloadsRefuseHostileInputWithTheDeclaredError() {
        Mutator mutator = new Mutator(ValidInputs.samples(ValidInputs.CHANGE_TEXT, 64, 2), 512, 513);
        new FuzzLoop<>("ChangeJsonFuzzTest", new Corpus("change-json"), FuzzLoop.Format.TEXT,
                FuzzLoop.mutationsOf(ValidInputs.CHANGE_TEXT, mutator), ChangeJsonFuzzTest::decode, 2500).run();
    }

    static boolean decode(String text) {
        boolean accepted = false;
        try {
            Change c = ChangeJson.decode(text);
            Change again = ChangeJson.decode(ChangeJson.encode(c));
            if (!again.equals(c)) {
                throw new AssertionError("round trip changed an accepted change: " + c + " became " + again);
            }
            accepted = true;
        } catch (MalformedChangeException | Stamp.TooFarAheadException e) {
            Declared.message(e);
        }
        try {
            List<Change> all = ChangeJson.decodeAll(text);
            List<Change> again = ChangeJson.decodeAll(ChangeJson.encodeAll(all));
            if (!again.equals(all)) {
                throw new AssertionError("round trip changed accepted changes: " + all + " became " + again);
            }
            accepted = true;
        } catch (MalformedChangeException | Stamp.TooFarAheadException e) {
            Declared.message(e);
        }
        return accepted;
    }
}
