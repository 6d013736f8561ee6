package dev.cairn.server.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.fuzz.Corpus;
import dev.cairn.engine.fuzz.FuzzLoop;
import dev.cairn.engine.fuzz.Mutator;
import dev.cairn.engine.fuzz.ValidInputs;
import dev.cairn.server.TestServer;
import java.net.URI;
import java.net.http.HttpRequest;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Fuzzes the bodies of {@code POST /api/import} and {@code POST /api/persistence/sync} on a real
 * server (embedded store, random port), as raw bytes (invalid UTF-8 included). Every answer is
 * 200, or 400/413 with a JSON error and a message (a body that is not UTF-8 is always refused); a refused body writes nothing (the user's head
 * is unchanged); no request takes over a second; /health stays up.
 */
class HttpBodyFuzzIT {

    private static final int MAX_BODY_BYTES = 64 << 10;
    /** A fresh user every so many inputs, so accepted bodies do not make one user's state grow without end. */
    private static final int INPUTS_PER_USER = 300;

    private static TestServer server;

    private String token;
    private String user;
    private int used;

    @BeforeContainer
    static void start() {
        server = TestServer.embedded().limits(MAX_BODY_BYTES, 500, 1000, 100).env("CAIRN_MAX_IMPORT_BYTES", Integer.toString(MAX_BODY_BYTES)).start();
    }

    @AfterContainer
    static void stop() {
        if (server != null) {
            server.close();
        }
    }

    @Example // jqwik, not JUnit: its generators only run on a jqwik thread
    void importBodies() {
        fuzz("HttpBodyFuzzIT.importBodies", "http-import", "/api/import", ValidInputs.EXPORT_DOCUMENTS, "invalid-import");
    }

    @Example
    void syncBodies() {
        fuzz("HttpBodyFuzzIT.syncBodies", "http-sync", "/api/persistence/sync", ValidInputs.SYNC_BODIES, "invalid-change");
    }

    private void fuzz(String name, String corpus, String path, Arbitrary<String> valid, String refusal) {
        user = null;
        Mutator mutator = new Mutator(ValidInputs.samples(valid, 64, 7), MAX_BODY_BYTES);
        new FuzzLoop<>(name, new Corpus(corpus), FuzzLoop.Format.BYTES, FuzzLoop.byteMutationsOf(valid, mutator),
                body -> post(path, body, refusal), 1000).run();
        TestServer.Response health = server.get("/health", null);
        assertEquals(200, health.status(), "health: " + health);
    }

    private boolean post(String path, byte[] body, String refusal) {
        if (user == null || ++used > INPUTS_PER_USER) {
            used = 0;
            user = "fuzz-http-" + System.nanoTime();
            token = server.token(user);
        }
        long before = server.head(user);
        TestServer.Response r = TestServer.send(HttpRequest.newBuilder(URI.create(server.httpBase() + path))
                .timeout(TestServer.TIMEOUT).header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build());
        boolean utf8 = SocketFuzzIT.isUtf8(body);
        if (r.status() == 200) {
            if (!utf8) {
                throw new AssertionError("a body that is not valid UTF-8 was accepted: " + r);
            }
            r.json();
            return true;
        }
        if (r.status() != 400 && r.status() != 413) {
            throw new AssertionError("status " + r.status() + " (expected 200, 400 or 413): " + FuzzLoop.abbreviate(r.body()));
        }
        JsonNode error = r.json();
        if (!error.path("message").isTextual() || error.path("message").asText().isBlank()) {
            throw new AssertionError("a refusal without a message: " + r);
        }
        String code = error.path("error").asText();
        if (!code.equals(refusal) && !code.equals("bad-request") && !code.equals("too-large")) {
            throw new AssertionError("unexpected error code '" + code + "': " + r);
        }
        long after = server.head(user);
        if (after != before) {
            throw new AssertionError("a refused body wrote: head " + before + " -> " + after + " (" + r + ")");
        }
        return false;
    }
}
