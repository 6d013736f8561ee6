package dev.cairn.engine.codec;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;

/** The one Jackson setup every codec shares, and helpers for values kept as compact JSON text. */
public final class Json {

    /** Values deeper than this are refused: a hostile document must not exhaust the stack. */
    public static final int MAX_DEPTH = 64;

    /** Strict: nesting is bounded and an object with a repeated field name is refused, not "last wins". */
    public static final JsonFactory FACTORY = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_DEPTH).build())
            .enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();

    public static final ObjectMapper MAPPER = new ObjectMapper(FACTORY)
            .findAndRegisterModules()
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    private Json() {
    }

    /**
     * Reads the value at the parser's current token and returns it as compact JSON text, so values
     * keep one canonical spelling whatever whitespace the sender used.
     */
    public static String copyValue(JsonParser parser) throws IOException {
        if (parser.currentToken() == null || parser.currentToken() == JsonToken.END_OBJECT
                || parser.currentToken() == JsonToken.END_ARRAY || parser.currentToken() == JsonToken.FIELD_NAME) {
            throw new IOException("expected a JSON value");
        }
        StringWriter out = new StringWriter();
        try (JsonGenerator gen = FACTORY.createGenerator(out)) {
            gen.copyCurrentStructure(parser);
        }
        return out.toString();
    }

    /** Normalizes JSON text to its compact form; throws IllegalArgumentException if it is not one JSON value. */
    public static String normalize(String json) {
        try (JsonParser parser = FACTORY.createParser(json)) {
            parser.nextToken();
            String value = copyValue(parser);
            if (parser.nextToken() != null) {
                throw new IllegalArgumentException("trailing content after the JSON value");
            }
            return value;
        } catch (IOException e) {
            throw new IllegalArgumentException("not a JSON value: " + Json.describe(e));
        }
    }

    /** A short message for a parse failure, without Jackson's source excerpt. */
    public static String describe(IOException e) {
        if (e instanceof com.fasterxml.jackson.core.JsonProcessingException jpe) {
            return jpe.getOriginalMessage();
        }
        return e.getMessage();
    }

    /** Serializes any object to compact JSON text. */
    public static String write(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
