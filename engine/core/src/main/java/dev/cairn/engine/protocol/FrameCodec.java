package dev.cairn.engine.protocol;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.cairn.engine.codec.ChangeJson;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.crdt.Change;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Encodes and decodes the JSON frames of PROTOCOL.md. Decoding is strict: anything but the
 * declared shape is a {@link ProtocolException} ({@code malformed-frame}, or
 * {@code invalid-change} for a bad change inside a push) and nothing else escapes.
 */
public final class FrameCodec {

    private FrameCodec() {
    }

    /** The frame as one compact JSON text frame (protocol version 1's form). */
    public static String encode(Frame frame) {
        StringWriter out = new StringWriter(64);
        try (JsonGenerator gen = Json.FACTORY.createGenerator(out)) {
            gen.writeStartObject();
            gen.writeStringField("type", frame.type().wire());
            if (frame instanceof Frame.Hello f) {
                gen.writeNumberField("protocol", f.protocol());
                gen.writeStringField("replica", f.replica());
                gen.writeNumberField("cursor", f.cursor());
                if (f.versions() != null) {
                    gen.writeArrayFieldStart("versions");
                    for (int v : f.versions()) {
                        gen.writeNumber(v);
                    }
                    gen.writeEndArray();
                }
                if (f.spaces() != null) {
                    gen.writeObjectFieldStart("spaces");
                    for (var e : f.spaces().entrySet()) {
                        gen.writeNumberField(e.getKey(), e.getValue());
                    }
                    gen.writeEndObject();
                }
            } else if (frame instanceof Frame.Welcome f) {
                gen.writeNumberField("protocol", f.protocol());
                gen.writeStringField("user", f.user());
                gen.writeNumberField("head", f.head());
                gen.writeNumberField("maxBatch", f.maxBatch());
                gen.writeNumberField("maxAheadMillis", f.maxAheadMillis());
                gen.writeNumberField("maxFrameBytes", f.maxFrameBytes());
                if (f.sections() != null) {
                    gen.writeObjectFieldStart("sections");
                    for (var e : f.sections().entrySet()) {
                        gen.writeStringField(e.getKey(), e.getValue());
                    }
                    gen.writeEndObject();
                }
                if (f.spaces() != null) {
                    gen.writeObjectFieldStart("spaces");
                    for (var e : f.spaces().entrySet()) {
                        gen.writeObjectFieldStart(e.getKey());
                        gen.writeStringField("role", e.getValue().role());
                        gen.writeNumberField("head", e.getValue().head());
                        gen.writeEndObject();
                    }
                    gen.writeEndObject();
                }
            } else if (frame instanceof Frame.Changes f) {
                writeSpace(gen, f.space());
                gen.writeArrayFieldStart("changes");
                for (Frame.SeqChange c : f.changes()) {
                    gen.writeStartObject();
                    gen.writeNumberField("seq", c.seq());
                    gen.writeFieldName("change");
                    ChangeJson.write(gen, c.change());
                    gen.writeEndObject();
                }
                gen.writeEndArray();
                gen.writeNumberField("cursor", f.cursor());
            } else if (frame instanceof Frame.CaughtUp f) {
                writeSpace(gen, f.space());
                gen.writeNumberField("cursor", f.cursor());
            } else if (frame instanceof Frame.Push f) {
                writeSpace(gen, f.space());
                gen.writeNumberField("batch", f.batch());
                gen.writeArrayFieldStart("changes");
                for (Change c : f.changes()) {
                    ChangeJson.write(gen, c);
                }
                gen.writeEndArray();
            } else if (frame instanceof Frame.Ack f) {
                gen.writeNumberField("batch", f.batch());
            } else if (frame instanceof Frame.Error f) {
                gen.writeStringField("code", f.code().wire());
                gen.writeStringField("message", f.message());
                if (f.batch() != null) {
                    gen.writeNumberField("batch", f.batch());
                }
                writeSpace(gen, f.space());
            } else if (frame instanceof Frame.SpaceLeft f) {
                gen.writeStringField("space", f.space());
                gen.writeStringField("reason", f.reason());
            } else if (frame instanceof Frame.Presence f) {
                gen.writeStringField("space", f.space());
                if (f.user() != null) {
                    gen.writeStringField("user", f.user());
                    gen.writeStringField("replica", f.replica());
                }
                gen.writeFieldName("state");
                if (f.state() == null) {
                    gen.writeNull();
                } else {
                    gen.writeRawValue(f.state());
                }
            }
            gen.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }

    /** The {@code space} member, when the frame is about a space. */
    private static void writeSpace(JsonGenerator gen, String space) throws IOException {
        if (space != null) {
            gen.writeStringField("space", space);
        }
    }

    /** Reads one JSON text frame; anything but a declared frame is a {@link ProtocolException}. */
    public static Frame decode(String text) {
        try (JsonParser p = Json.FACTORY.createParser(text)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw malformed("a frame must be a JSON object");
            }
            Fields f = new Fields();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken t = p.nextToken();
                switch (name) {
                    case "type" -> f.type = string(p, t, name);
                    case "protocol" -> f.protocol = integer(p, t, name);
                    case "replica" -> f.replica = string(p, t, name);
                    case "user" -> f.user = string(p, t, name);
                    case "code" -> f.code = string(p, t, name);
                    case "message" -> f.message = string(p, t, name);
                    case "cursor" -> f.cursor = integer(p, t, name);
                    case "head" -> f.head = integer(p, t, name);
                    case "batch" -> f.batch = integer(p, t, name);
                    case "maxBatch" -> f.maxBatch = integer(p, t, name);
                    case "maxAheadMillis" -> f.maxAhead = integer(p, t, name);
                    case "maxFrameBytes" -> f.maxFrameBytes = integer(p, t, name);
                    case "changes" -> readChanges(p, t, f);
                    case "supported" -> p.skipChildren(); // informative, on protocol-version errors
                    case "sections" -> f.sections = sections(p, t);
                    case "versions" -> f.versions = versions(p, t);
                    case "space" -> f.space = string(p, t, name);
                    case "spaces" -> f.spaces = Json.MAPPER.readTree(p);
                    case "reason" -> f.reason = string(p, t, name);
                    case "state" -> {
                        f.state = state(p, t);
                        f.hasState = true;
                    }
                    default -> {
                        // Kept for build(): a client frame with it is refused, a server frame ignores it.
                        f.unknown = f.unknown == null ? name : f.unknown;
                        p.skipChildren();
                    }
                }
                f.names.add(name);
            }
            if (p.nextToken() != null) {
                throw malformed("trailing content after the frame");
            }
            if (f.type == null) {
                throw malformed("frame has no 'type'");
            }
            FrameType type = FrameType.fromWire(f.type);
            checkMembers(type, f);
            return build(type, f);
        } catch (IOException e) {
            throw malformed("frame is not valid JSON: " + Json.describe(e));
        } catch (IllegalArgumentException e) {
            throw malformed(e.getMessage());
        }
    }

    /** Members each frame type a client sends may have: exactly these (PROTOCOL.md 3). */
    private static final java.util.Map<FrameType, java.util.Set<String>> CLIENT_MEMBERS = java.util.Map.of(
            FrameType.HELLO, java.util.Set.of("type", "protocol", "replica", "cursor", "versions", "spaces"),
            FrameType.PUSH, java.util.Set.of("type", "batch", "changes", "space"),
            // A client's presence has only space and state; the server's also user and replica, which
            // a server refuses from a client (Frame.Presence#user is null in a client's).
            FrameType.PRESENCE, java.util.Set.of("type", "space", "state", "user", "replica"),
            FrameType.PING, java.util.Set.of("type"),
            FrameType.PONG, java.util.Set.of("type"));

    /**
     * PROTOCOL.md 3, one rule for members a frame type does not define: in a frame a client sends
     * (hello, push, ping, pong) they are refused, even a member another type defines ({@code "user"}
     * in hello); in a frame only a server sends they are ignored, so a server can add optional
     * members (as {@code sections} in welcome) without breaking older clients.
     */
    private static void checkMembers(FrameType type, Fields f) {
        java.util.Set<String> allowed = CLIENT_MEMBERS.get(type);
        if (allowed == null) {
            return;
        }
        for (String name : f.names) {
            if (!allowed.contains(name)) {
                throw malformed("unknown field '" + name + "' in a '" + type.wire() + "' frame");
            }
        }
    }

    /** hello's {@code versions} (PROTOCOL.md 7.1): 1 to 16 integers, {@code protocol} among them. */
    private static List<Integer> versions(JsonParser p, JsonToken t) throws IOException {
        if (t != JsonToken.START_ARRAY) {
            throw malformed("field 'versions' must be an array of protocol versions");
        }
        List<Integer> out = new ArrayList<>();
        while (p.nextToken() != JsonToken.END_ARRAY) {
            if (out.size() == 16) {
                throw malformed("field 'versions' lists more than 16 versions");
            }
            out.add(intField(integer(p, p.currentToken(), "versions")));
        }
        if (out.isEmpty()) {
            throw malformed("field 'versions' must list at least one version");
        }
        return out;
    }

    private static java.util.Map<String, String> sections(JsonParser p, JsonToken t) throws IOException {
        if (t != JsonToken.START_OBJECT) {
            throw malformed("field 'sections' must be an object of section name to kind");
        }
        java.util.Map<String, String> out = new java.util.TreeMap<>();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            if (p.nextToken() != JsonToken.VALUE_STRING) {
                throw malformed("field 'sections': the kind of '" + name + "' must be a string");
            }
            out.put(name, p.getText());
        }
        return out;
    }

    private static Frame build(FrameType type, Fields f) {
        return switch (type) {
            case HELLO -> hello(f);
            case WELCOME -> new Frame.Welcome(intField(require(f.protocol, "protocol", type)), require(f.user, "user", type),
                    require(f.head, "head", type), intField(require(f.maxBatch, "maxBatch", type)), require(f.maxAhead, "maxAheadMillis", type),
                    f.maxFrameBytes == null ? Frame.Welcome.DEFAULT_MAX_FRAME_BYTES : f.maxFrameBytes, f.sections,
                    f.spaces == null ? null : spaceInfos(f.spaces));
            case CHANGES -> new Frame.Changes(require(f.seqChanges, "changes", type), require(f.cursor, "cursor", type), f.space);
            case CAUGHT_UP -> new Frame.CaughtUp(require(f.cursor, "cursor", type), f.space);
            case PUSH -> new Frame.Push(batchId(require(f.batch, "batch", type)), require(f.plainChanges, "changes", type), f.space);
            case ACK -> new Frame.Ack(require(f.batch, "batch", type));
            case PING -> new Frame.Ping();
            case PONG -> new Frame.Pong();
            case ERROR -> new Frame.Error(ErrorCode.fromWire(require(f.code, "code", type)), require(f.message, "message", type), f.batch,
                    f.space);
            case SPACE_LEFT -> new Frame.SpaceLeft(require(f.space, "space", type), require(f.reason, "reason", type));
            case PRESENCE -> {
                if (!f.hasState) {
                    throw malformed("'presence' frame needs 'state'");
                }
                yield new Frame.Presence(require(f.space, "space", type), f.user, f.replica, f.state);
            }
        };
    }

    /** welcome's {@code spaces}: space id to {@code {"role":..., "head":n}} (PROTOCOL.md 8.1). */
    private static java.util.Map<String, Frame.SpaceInfo> spaceInfos(com.fasterxml.jackson.databind.JsonNode spaces) {
        if (!spaces.isObject()) {
            throw malformed("field 'spaces' must be an object of space id to {role, head}");
        }
        java.util.Map<String, Frame.SpaceInfo> out = new java.util.TreeMap<>();
        spaces.fields().forEachRemaining(e -> {
            com.fasterxml.jackson.databind.JsonNode v = e.getValue();
            if (!v.isObject() || !v.path("role").isTextual() || !v.path("head").isIntegralNumber() || !v.path("head").canConvertToLong()) {
                throw malformed("field 'spaces': '" + e.getKey() + "' must be {\"role\":string,\"head\":integer}");
            }
            out.put(e.getKey(), new Frame.SpaceInfo(v.get("role").asText(), v.get("head").asLong()));
        });
        return out;
    }

    /** hello's {@code spaces}: space id to cursor, each an integer >= 0 (PROTOCOL.md 8.1). */
    private static java.util.Map<String, Long> spaceCursors(com.fasterxml.jackson.databind.JsonNode spaces) {
        if (!spaces.isObject()) {
            throw malformed("field 'spaces' must be an object of space id to cursor");
        }
        java.util.Map<String, Long> out = new java.util.TreeMap<>();
        spaces.fields().forEachRemaining(e -> {
            com.fasterxml.jackson.databind.JsonNode v = e.getValue();
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.asLong() < 0) {
                throw malformed("field 'spaces': the cursor of '" + e.getKey() + "' must be an integer >= 0");
            }
            out.put(e.getKey(), v.asLong());
        });
        return out;
    }

    /** presence's {@code state}: one JSON value in its canonical spelling (1.2's rules), or null for JSON null. */
    private static String state(JsonParser p, JsonToken t) throws IOException {
        if (t == JsonToken.VALUE_NULL) {
            return null;
        }
        StringWriter copy = new StringWriter();
        try (JsonGenerator gen = Json.FACTORY.createGenerator(copy)) {
            Json.copyVerbatim(p, gen);
        }
        try {
            return dev.cairn.engine.crdt.Names.checkValueDepth(Json.canonicalValue(copy.toString()));
        } catch (IllegalArgumentException e) {
            throw new ProtocolException(ErrorCode.INVALID_CHANGE, "presence state: " + e.getMessage());
        }
    }

    private static Frame.Hello hello(Fields f) {
        int protocol = intField(require(f.protocol, "protocol", FrameType.HELLO));
        if (f.versions != null && !f.versions.contains(protocol)) {
            throw malformed("field 'versions' must include 'protocol' (" + protocol + ")");
        }
        java.util.Map<String, Long> spaces = null;
        if (f.spaces != null) {
            // PROTOCOL.md 8.1: spaces need version 2, so a hello with them offers it.
            if (f.versions == null || !f.versions.contains(Frame.PROTOCOL_V2)) {
                throw malformed("field 'spaces' needs protocol 2 offered in 'versions'");
            }
            spaces = spaceCursors(f.spaces);
        }
        return new Frame.Hello(protocol, require(f.replica, "replica", FrameType.HELLO),
                nonNegative(require(f.cursor, "cursor", FrameType.HELLO), "cursor"), f.versions, spaces);
    }

    /** "changes" is a list of plain changes in a push and of {seq, change} in a changes frame. */
    private static void readChanges(JsonParser p, JsonToken t, Fields f) throws IOException {
        if (t != JsonToken.START_ARRAY) {
            throw malformed("field 'changes' must be an array");
        }
        List<Change> plain = new ArrayList<>();
        List<Frame.SeqChange> sequenced = new ArrayList<>();
        int index = 0;
        while (p.nextToken() != JsonToken.END_ARRAY) {
            if (p.currentToken() != JsonToken.START_OBJECT) {
                throw malformed("change " + index + " is not an object");
            }
            // Peek at the first field: a sequenced change starts with "seq".
            JsonToken first = p.nextToken();
            if (first == JsonToken.FIELD_NAME && "seq".equals(p.currentName())) {
                sequenced.add(readSequenced(p, index));
            } else {
                plain.add(readPlainAfterStart(p, index));
            }
            index++;
        }
        if (!plain.isEmpty() && !sequenced.isEmpty()) {
            throw malformed("'changes' mixes sequenced and plain changes");
        }
        f.plainChanges = plain;
        f.seqChanges = sequenced;
    }

    private static Frame.SeqChange readSequenced(JsonParser p, int index) throws IOException {
        p.nextToken();
        long seq = integer(p, p.currentToken(), "seq");
        Change change = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken t = p.nextToken();
            if (!"change".equals(name) || t != JsonToken.START_OBJECT) {
                throw malformed("change " + index + ": expected {\"seq\":n,\"change\":{...}}");
            }
            change = readChange(p, index);
        }
        if (change == null) {
            throw malformed("change " + index + " has no 'change'");
        }
        return new Frame.SeqChange(seq, change);
    }

    /** ChangeJson.read wants the START_OBJECT token; we consumed one field-name token to peek, so re-parse that object. */
    private static Change readPlainAfterStart(JsonParser p, int index) throws IOException {
        StringWriter copy = new StringWriter();
        try (JsonGenerator gen = Json.FACTORY.createGenerator(copy)) {
            gen.writeStartObject();
            while (p.currentToken() == JsonToken.FIELD_NAME) {
                gen.writeFieldName(p.currentName());
                p.nextToken();
                Json.copyVerbatim(p, gen);
                p.nextToken();
            }
            gen.writeEndObject();
        }
        try {
            return ChangeJson.decode(copy.toString());
        } catch (dev.cairn.engine.clock.Stamp.TooFarAheadException e) {
            throw new ProtocolException(ErrorCode.CLOCK_SKEW, "change " + index + ": " + e.getMessage());
        } catch (IllegalArgumentException e) {
            throw new ProtocolException(ErrorCode.INVALID_CHANGE, "change " + index + ": " + e.getMessage());
        }
    }

    private static Change readChange(JsonParser p, int index) throws IOException {
        try {
            return ChangeJson.read(p);
        } catch (dev.cairn.engine.clock.Stamp.TooFarAheadException e) {
            throw new ProtocolException(ErrorCode.CLOCK_SKEW, "change " + index + ": " + e.getMessage());
        } catch (IllegalArgumentException e) {
            throw new ProtocolException(ErrorCode.INVALID_CHANGE, "change " + index + ": " + e.getMessage());
        }
    }

    private static final class Fields {
        String type;
        Long protocol;
        String replica;
        String user;
        String code;
        String message;
        Long cursor;
        Long head;
        Long batch;
        Long maxBatch;
        Long maxAhead;
        Long maxFrameBytes;
        List<Change> plainChanges;
        List<Frame.SeqChange> seqChanges;
        java.util.Map<String, String> sections;
        List<Integer> versions;
        String space;
        com.fasterxml.jackson.databind.JsonNode spaces;
        String reason;
        String state;
        boolean hasState;
        String unknown;
        final java.util.List<String> names = new java.util.ArrayList<>();
    }

    private static String string(JsonParser p, JsonToken t, String name) throws IOException {
        if (t != JsonToken.VALUE_STRING) {
            throw malformed("field '" + name + "' must be a string");
        }
        return p.getText();
    }

    private static long integer(JsonParser p, JsonToken t, String name) throws IOException {
        if (t != JsonToken.VALUE_NUMBER_INT) {
            throw malformed("field '" + name + "' must be an integer");
        }
        if (p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
            throw malformed("field '" + name + "' is out of range");
        }
        return p.getLongValue();
    }

    private static <T> T require(T value, String field, FrameType type) {
        if (value == null) {
            throw malformed("'" + type.wire() + "' frame needs '" + field + "'");
        }
        return value;
    }

    private static int intField(long value) {
        if (value < Integer.MIN_VALUE || value > Integer.MAX_VALUE) {
            throw malformed("value out of range: " + value);
        }
        return (int) value;
    }

    /** Largest batch id: 2^53 - 1, so every client (JavaScript numbers too) holds it exactly. */
    public static final long MAX_BATCH_ID = (1L << 53) - 1;

    /** PROTOCOL.md 3.3: a push's batch is an integer from 0 to 2^53 - 1. */
    private static long batchId(long value) {
        if (value < 0 || value > MAX_BATCH_ID) {
            throw malformed("field 'batch' must be an integer from 0 to " + MAX_BATCH_ID + ", got " + value);
        }
        return value;
    }

    private static long nonNegative(long value, String field) {
        if (value < 0) {
            throw malformed("field '" + field + "' must be >= 0");
        }
        return value;
    }

    private static ProtocolException malformed(String message) {
        return new ProtocolException(ErrorCode.MALFORMED_FRAME, message);
    }
}
