package dev.cairn.engine.codec;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * JSON form of a {@link Change}, shared by the outbox, the wire, export files and test vectors:
 *
 * <pre>
 * {"op":"set",    "section":"cards","key":"card-intro/isExpanded","value":true,"stamp":"0190a1b2c3d40000@phone"}
 * {"op":"delete", "section":"cards","key":"card-intro/isExpanded","stamp":"..."}
 * {"op":"append", "section":"chat", "stream":"conv-1","value":{"role":"user","text":"hi"},"stamp":"..."}
 * {"op":"clear",  "section":"chat", "stream":"conv-1","stamp":"..."}
 * {"op":"clear",  "section":"cards","stamp":"..."}          (a whole map section)
 * </pre>
 *
 * Decoding is strict: a missing or unknown field, a wrong type or a malformed stamp is a
 * {@link MalformedChangeException} naming the problem.
 */
public final class ChangeJson {

    private ChangeJson() {
    }

    /** The change as one compact JSON object in the form above. */
    public static String encode(Change change) {
        StringWriter out = new StringWriter();
        try (JsonGenerator gen = Json.FACTORY.createGenerator(out)) {
            write(gen, change);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }

    /** The changes as a compact JSON array of objects in the form above, in the given order. */
    public static String encodeAll(List<? extends Change> changes) {
        StringWriter out = new StringWriter();
        try (JsonGenerator gen = Json.FACTORY.createGenerator(out)) {
            gen.writeStartArray();
            for (Change change : changes) {
                write(gen, change);
            }
            gen.writeEndArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }

    /** Writes the change's object to {@code gen}, for callers that build a larger document. */
    public static void write(JsonGenerator gen, Change change) throws IOException {
        gen.writeStartObject();
        if (change instanceof Change.Put put) {
            gen.writeStringField("op", put.isDelete() ? "delete" : "set");
            gen.writeStringField("section", put.section());
            gen.writeStringField("key", put.key());
            if (!put.isDelete()) {
                gen.writeFieldName("value");
                gen.writeRawValue(put.value());
            }
        } else if (change instanceof Change.Append append) {
            gen.writeStringField("op", "append");
            gen.writeStringField("section", append.section());
            gen.writeStringField("stream", append.stream());
            gen.writeFieldName("value");
            gen.writeRawValue(append.value());
        } else {
            Change.Clear clear = (Change.Clear) change;
            gen.writeStringField("op", "clear");
            gen.writeStringField("section", clear.section());
            if (!clear.isWholeSection()) {
                gen.writeStringField("stream", clear.stream());
            }
        }
        gen.writeStringField("stamp", change.stamp().toString());
        gen.writeEndObject();
    }

    /** Reads one change object; anything else (trailing content included) is a {@link MalformedChangeException}. */
    public static Change decode(String json) {
        try (JsonParser parser = Json.FACTORY.createParser(json)) {
            parser.nextToken();
            Change change = read(parser);
            if (parser.nextToken() != null) {
                throw new MalformedChangeException("trailing content after the change");
            }
            return change;
        } catch (IOException e) {
            throw new MalformedChangeException("change is not valid JSON: " + Json.describe(e));
        }
    }

    /** Reads a JSON array of change objects; anything else is a {@link MalformedChangeException}. */
    public static List<Change> decodeAll(String json) {
        try (JsonParser parser = Json.FACTORY.createParser(json)) {
            if (parser.nextToken() != JsonToken.START_ARRAY) {
                throw new MalformedChangeException("expected a JSON array of changes");
            }
            List<Change> out = new ArrayList<>();
            while (parser.nextToken() != JsonToken.END_ARRAY) {
                out.add(read(parser));
            }
            if (parser.nextToken() != null) {
                throw new MalformedChangeException("trailing content after the changes");
            }
            return out;
        } catch (IOException e) {
            throw new MalformedChangeException("changes are not valid JSON: " + Json.describe(e));
        }
    }

    /** Reads one change object starting at the parser's current START_OBJECT token. */
    public static Change read(JsonParser parser) throws IOException {
        if (parser.currentToken() != JsonToken.START_OBJECT) {
            throw new MalformedChangeException("a change must be a JSON object");
        }
        String op = null;
        String section = null;
        String key = null;
        String stream = null;
        String value = null;
        boolean hasValue = false;
        String stamp = null;
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
            String field = parser.currentName();
            JsonToken token = parser.nextToken();
            switch (field) {
                case "op" -> op = text(parser, token, field);
                case "section" -> section = text(parser, token, field);
                case "key" -> key = text(parser, token, field);
                case "stream" -> stream = text(parser, token, field);
                case "stamp" -> stamp = text(parser, token, field);
                case "value" -> {
                    try {
                        value = Json.copyValue(parser);
                    } catch (Json.InvalidNumberException e) {
                        throw new MalformedChangeException("invalid 'value': " + Json.describe(e));
                    }
                    hasValue = true;
                }
                default -> throw new MalformedChangeException("unknown field '" + field + "' in change");
            }
        }
        if (op == null) {
            throw new MalformedChangeException("change has no 'op'");
        }
        if (stamp == null) {
            throw new MalformedChangeException("change has no 'stamp'");
        }
        try {
            Stamp parsed = Stamp.parse(stamp);
            return switch (op) {
                case "set" -> {
                    require(hasValue, "a 'set' change needs a 'value'");
                    require(stream == null, "a 'set' change has a 'key', not a 'stream'");
                    yield new Change.Put(section, key, value, parsed);
                }
                case "delete" -> {
                    require(!hasValue, "a 'delete' change has no 'value'");
                    require(stream == null, "a 'delete' change has a 'key', not a 'stream'");
                    yield new Change.Put(section, key, null, parsed);
                }
                case "append" -> {
                    require(hasValue, "an 'append' change needs a 'value'");
                    require(key == null, "an 'append' change has a 'stream', not a 'key'");
                    yield new Change.Append(section, stream, value, parsed);
                }
                case "clear" -> {
                    require(!hasValue, "a 'clear' change has no 'value'");
                    require(key == null, "a 'clear' change has a 'stream' (a log stream) or nothing (a whole map section), not a 'key'");
                    if (stream == null) {
                        yield Change.Clear.wholeSection(section, parsed);
                    }
                    require(!stream.isEmpty(), "a 'clear' change's 'stream' must not be empty; leave it out to clear a whole map section");
                    yield new Change.Clear(section, stream, parsed);
                }
                default -> throw new MalformedChangeException("unknown op '" + op + "': expected set, delete, append or clear");
            };
        } catch (MalformedChangeException | Stamp.TooFarAheadException e) {
            throw e; // a stamp too far ahead is not malformed: the receiver answers it as clock skew
        } catch (IllegalArgumentException e) {
            throw new MalformedChangeException("invalid '" + op + "' change: " + e.getMessage());
        } catch (NullPointerException e) {
            // the JDK's text names code, not the change
            throw new MalformedChangeException("invalid '" + op + "' change: a member it needs is missing or null");
        }
    }

    private static String text(JsonParser parser, JsonToken token, String field) throws IOException {
        if (token != JsonToken.VALUE_STRING) {
            throw new MalformedChangeException("field '" + field + "' must be a string");
        }
        return parser.getText();
    }

    private static void require(boolean condition, String message) {
        if (!condition) {
            throw new MalformedChangeException(message);
        }
    }
}
