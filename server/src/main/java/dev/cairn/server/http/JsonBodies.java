package dev.cairn.server.http;

import static dev.cairn.server.http.ApiErrors.error;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.codec.Json;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;

/** A request's JSON body, read by the protocol's own rules; a body that breaks them is answered 400 and null returned. */
final class JsonBodies {

    private JsonBodies() {
    }

    static JsonObject object(RoutingContext ctx) {
        // Parse with the protocol's depth-limited parser first: Vert.x's own JSON codec accepts far
        // deeper values, which would then be stored and break every client that reads them.
        if (tree(ctx) == null) {
            return null;
        }
        try {
            JsonObject body = ctx.body().asJsonObject();
            if (body == null) {
                error(ctx, 400, "bad-request", "expected a JSON object body");
            }
            return body;
        } catch (RuntimeException e) {
            error(ctx, 400, "bad-request", "body is not a JSON object");
            return null;
        }
    }

    static JsonNode tree(RoutingContext ctx) {
        try {
            String text = text(ctx);
            if (text == null && ctx.response().ended()) {
                return null;
            }
            JsonNode node = text == null ? null : Json.readCheckedTree(text);
            if (node == null || !node.isObject()) {
                error(ctx, 400, "bad-request", "expected a JSON object body");
                return null;
            }
            return node;
        } catch (Json.InvalidNumberException e) {
            // PROTOCOL.md 1.2: a number the server cannot give back exactly is refused, not changed.
            error(ctx, 400, "invalid-change", "the body holds a value the server cannot keep exactly: " + Json.describe(e));
            return null;
        } catch (IOException e) {
            error(ctx, 400, "bad-request", "body is not valid JSON: " + Json.describe(e));
            return null;
        }
    }

    /**
     * The body as text, or null if there is none. JSON is UTF-8 (RFC 8259): a body that is not is
     * answered 400 here (and null returned), rather than decoded with U+FFFD in place of the bad
     * bytes and stored.
     */
    private static String text(RoutingContext ctx) {
        Buffer body = ctx.body().buffer();
        if (body == null) {
            return null;
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(body.getBytes())).toString();
        } catch (CharacterCodingException e) {
            error(ctx, 400, "bad-request", "request body is not valid UTF-8");
            return null;
        }
    }
}
