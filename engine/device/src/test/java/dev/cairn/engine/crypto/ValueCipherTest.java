package dev.cairn.engine.crypto;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.crdt.Change;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/** The shared vectors in {@code spec/vectors/e2e/} (the browser client runs the same file), plus the cipher's contract. */
class ValueCipherTest {

    private static final Stamp STAMP = Stamp.parse("0190a1b2c3d40000@phone-1");
    private static final E2eKey KEY = E2eKey.derive("correct horse battery staple".toCharArray(), "alice", 1000);

    static JsonNode vectors() throws IOException {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path file = dir.resolve("spec/vectors/e2e/aes-gcm.json");
            if (Files.isRegularFile(file)) {
                return Json.MAPPER.readTree(Files.readString(file));
            }
        }
        throw new IllegalStateException("spec/vectors/e2e/aes-gcm.json not found above " + Path.of("").toAbsolutePath());
    }

    @TestFactory
    List<DynamicTest> sharedVectors() throws IOException {
        JsonNode root = vectors();
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : root.get("cases")) {
            tests.add(DynamicTest.dynamicTest(c.get("name").asText(), () -> {
                E2eKey key = E2eKey.derive(c.get("passphrase").asText().toCharArray(), c.get("user").asText(), c.get("iterations").asInt());
                assertEquals(c.get("keyId").asText(), key.id());
                ValueCipher cipher = new ValueCipher(key);
                Stamp stamp = Stamp.parse(c.get("stamp").asText());
                String section = c.get("section").asText();
                String target = c.get("target").asText();
                assertEquals(c.get("envelope").asText(), cipher.encrypt(section, target, stamp, c.get("value").asText()));
                assertEquals(c.get("value").asText(), cipher.decrypt(section, target, stamp, c.get("envelope").asText()));
            }));
        }
        for (JsonNode c : root.get("errors")) {
            tests.add(DynamicTest.dynamicTest("refuses: " + c.get("name").asText(), () -> {
                ValueCipher cipher = new ValueCipher(E2eKey.derive(c.get("passphrase").asText().toCharArray(), c.get("user").asText(),
                        c.get("iterations").asInt()));
                E2eException e = assertThrows(E2eException.class, () -> cipher.decrypt(c.get("section").asText(),
                        c.get("target").asText(), Stamp.parse(c.get("stamp").asText()), c.get("envelope").asText()));
                assertEquals(E2eException.Reason.valueOf(c.get("reason").asText()), e.reason(), e.getMessage());
            }));
        }
        return tests;
    }

    @Test
    void sealingIsDeterministicPerPlaceAndValue() {
        ValueCipher cipher = new ValueCipher(KEY);
        String a = cipher.encrypt("memory", "fact", STAMP, "\"x\"");
        assertEquals(a, cipher.encrypt("memory", "fact", STAMP, "\"x\""));
        assertNotEquals(a, cipher.encrypt("memory", "fact", STAMP, "\"y\""));
        assertNotEquals(a, cipher.encrypt("memory", "fact2", STAMP, "\"x\""));
        assertFalse(a.contains("x\""), "no plaintext in the envelope");
        assertTrue(ValueCipher.isEnvelope(a));
    }

    @Test
    void wrongPassphraseIsAClearErrorNeverGarbage() {
        String sealed = new ValueCipher(KEY).encrypt("chat", "c1", STAMP, "{\"text\":\"secret\"}");
        ValueCipher other = new ValueCipher(E2eKey.derive("Correct horse battery staple".toCharArray(), "alice", 1000));
        E2eException e = assertThrows(E2eException.class, () -> other.decrypt("chat", "c1", STAMP, sealed));
        assertEquals(E2eException.Reason.WRONG_PASSPHRASE, e.reason());
        assertTrue(e.getMessage().contains("different passphrase"), e.getMessage());
    }

    @Test
    void changeCipherSealsValuesOfChosenSectionsOnly() {
        ChangeCipher changes = new ChangeCipher(new ValueCipher(KEY), Set.of("chat", "memory"));
        Change.Put plain = new Change.Put("preferences", "theme", "\"dark\"", STAMP);
        assertEquals(plain, changes.seal(plain));
        Change.Put memory = new Change.Put("memory", "fact", "{\"a\":1}", STAMP);
        Change sealed = changes.seal(memory);
        assertTrue(ValueCipher.isEnvelope(((Change.Put) sealed).value()));
        assertEquals(memory, changes.open(sealed));
        Change.Append chat = new Change.Append("chat", "c1", "{\"text\":\"hi\"}", STAMP);
        assertEquals(chat, changes.open(changes.seal(chat)));
        Change.Put tombstone = new Change.Put("memory", "fact", null, STAMP);
        assertEquals(tombstone, changes.seal(tombstone));
        assertEquals(tombstone, changes.open(tombstone));
        Change.Clear clear = new Change.Clear("chat", "c1", STAMP);
        assertEquals(clear, changes.seal(clear));
        E2eException e = assertThrows(E2eException.class, () -> changes.open(memory));
        assertEquals(E2eException.Reason.MALFORMED, e.reason());
    }

    @Test
    void badArgumentsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> E2eKey.derive(new char[0], "alice", 1000));
        assertThrows(IllegalArgumentException.class, () -> E2eKey.derive("p".toCharArray(), "", 1000));
        assertThrows(IllegalArgumentException.class, () -> E2eKey.derive("p".toCharArray(), "alice", 999));
        assertEquals("E2eKey[id=" + KEY.id() + "]", KEY.toString(), "toString shows no key material");
    }
}
