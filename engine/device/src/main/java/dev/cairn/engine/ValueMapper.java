package dev.cairn.engine;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.datatype.jdk8.Jdk8Module;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import dev.cairn.engine.codec.Json;
import java.io.IOException;
import java.lang.reflect.Type;
import java.util.Objects;

/**
 * How an engine turns app values into the canonical JSON it stores and back: through the app's
 * {@link ObjectMapper} ({@link Cairn.Builder#objectMapper}) or the default one, which registers
 * its modules explicitly (java.time, Optional) so the stored encoding never depends on what else
 * the class path holds. The engine's own records (chat messages, consent events) always use the
 * default one, so every device and the browser client read them alike.
 */
final class ValueMapper {

    /** The default mapper's instance, shared: never reconfigured. */
    static final ValueMapper DEFAULT = new ValueMapper(newDefaultMapper());

    private final ObjectMapper mapper;

    ValueMapper(ObjectMapper mapper) {
        this.mapper = Objects.requireNonNull(mapper, "objectMapper");
    }

    /**
     * A new mapper with the engine's settings: the strict JSON factory (bounded depth, repeated
     * names refused, shortest doubles), java.time as ISO-8601 text, Optional, unknown properties
     * ignored on read (a value written by a newer app version still reads).
     */
    static ObjectMapper newDefaultMapper() {
        return JsonMapper.builder(Json.FACTORY)
                .addModule(new JavaTimeModule())
                .addModule(new Jdk8Module())
                .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
                .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .build();
    }

    JavaType type(Type type) {
        return mapper.constructType(type);
    }

    JavaType type(com.fasterxml.jackson.core.type.TypeReference<?> type) {
        return mapper.getTypeFactory().constructType(type);
    }

    /**
     * The canonical JSON text of an app value; {@link ValidationException} if the mapper cannot
     * write it or JSON cannot carry it exactly (NaN, an infinity, -0, a long a double would change).
     */
    String write(Object value) {
        JsonNode tree;
        try {
            tree = mapper.valueToTree(value);
        } catch (IllegalArgumentException e) {
            throw new ValidationException("cannot write " + className(value) + " as JSON: " + rootMessage(e), e);
        }
        try {
            return Json.writeTree(tree == null ? NullNode.getInstance() : tree);
        } catch (IllegalArgumentException e) {
            throw new ValidationException(e.getMessage());
        }
    }

    /** Reads a stored JSON tree as {@code type}; the IOException says why not. */
    <T> T read(JsonNode tree, JavaType type) throws IOException {
        return mapper.readerFor(type).readValue(tree);
    }

    /** The JSON tree of an app value as this mapper writes it; null for null. */
    JsonNode tree(Object value) {
        return value == null ? null : mapper.valueToTree(value);
    }

    /** Reads stored JSON text as {@code type}; the IOException says why not. */
    <T> T read(String json, JavaType type) throws IOException {
        return mapper.readValue(json, type);
    }

    /**
     * What a typed handle stores for {@code value}: its canonical JSON, checked to read back as
     * {@code type}, with the value read back (what a restart would see). A value that does not
     * read back (no creator, a getter without a setter ...) or reads back as something else
     * (neither equal nor with the same JSON) is a {@link ValidationException}.
     */
    <T> Checked<T> writeChecked(T value, JavaType type, String where) {
        String json = write(value);
        T back;
        try {
            back = read(json, type);
        } catch (IOException | RuntimeException e) {
            throw new ValidationException("the value of '" + where + "' (" + className(value) + ") is written as JSON but does not read back as "
                    + type.toCanonical() + " (" + (e instanceof IOException io ? Json.describe(io) : rootMessage(e))
                    + "); it would be lost at the next start, so nothing was written", e);
        }
        if (!Objects.equals(back, value) && !write(back).equals(json)) {
            throw new ValidationException("the value of '" + where + "' (" + className(value) + ") reads back as a different value of "
                    + type.toCanonical() + " (written " + shortened(json) + ", read back " + shortened(write(back))
                    + "); it would change at the next start, so nothing was written");
        }
        return new Checked<>(json, back);
    }

    /** A value's canonical JSON and the value as read back from it. */
    record Checked<T>(String json, T value) {
    }

    private static String className(Object value) {
        return value == null ? "null" : value.getClass().getName();
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        if (t instanceof IOException io) {
            return Json.describe(io);
        }
        return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
    }

    private static String shortened(String json) {
        return json.length() > 120 ? json.substring(0, 120) + "..." : json;
    }
}
