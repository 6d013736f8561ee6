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
            // Doubles are written with their shortest round-trip digits (Schubfach), in Java's
            // Double.toString layout: JDK 17's own Double.toString is not always the shortest
            // (2e23 -> "1.9999999999999998E23"), and the browser client writes the shortest.
            .enable(com.fasterxml.jackson.core.StreamWriteFeature.USE_FAST_DOUBLE_WRITER)
            .build();

    /**
     * The mapper over {@link #FACTORY} the codecs share: dates as ISO-8601 text, unknown
     * properties ignored on read, and no modules (none found on the class path either, so what it
     * writes never depends on the class path). App values go through the device engine's own
     * mapper, which registers java.time and Optional support explicitly. Thread-safe for reading
     * and writing; never reconfigure it (every codec shares it).
     */
    public static final ObjectMapper MAPPER = new ObjectMapper(FACTORY)
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    private Json() {
    }

    /**
     * Reads the value at the parser's current token and returns it as compact JSON text, so values
     * keep one canonical spelling whatever whitespace the sender used. Every number must keep its
     * value exactly ({@link #canonicalNumber(String)}); one that would not is an {@link InvalidNumberException}.
     */
    public static String copyValue(JsonParser parser) throws IOException {
        if (parser.currentToken() == null || parser.currentToken() == JsonToken.END_OBJECT
                || parser.currentToken() == JsonToken.END_ARRAY || parser.currentToken() == JsonToken.FIELD_NAME) {
            throw new IOException("expected a JSON value");
        }
        StringWriter out = new StringWriter();
        try (JsonGenerator gen = FACTORY.createGenerator(out)) {
            int depth = 0;
            do {
                JsonToken t = parser.currentToken();
                if (t == JsonToken.VALUE_NUMBER_INT || t == JsonToken.VALUE_NUMBER_FLOAT) {
                    gen.writeNumber(canonicalNumber(parser));
                } else {
                    gen.copyCurrentEvent(parser);
                    if (t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY) {
                        depth++;
                    } else if (t == JsonToken.END_OBJECT || t == JsonToken.END_ARRAY) {
                        depth--;
                    }
                }
            } while (depth > 0 && parser.nextToken() != null);
        }
        return out.toString();
    }

    /** The canonical text of the number at the parser's current token, or an {@link InvalidNumberException}. */
    private static String canonicalNumber(JsonParser parser) throws IOException {
        String text = parser.getText();
        try {
            return canonicalNumber(text);
        } catch (IllegalArgumentException e) {
            throw new InvalidNumberException(parser, e.getMessage());
        }
    }

    /**
     * PROTOCOL.md 1.2, the number rule: a JSON number is accepted iff it is finite as an IEEE-754
     * double, is not -0, and its value equals exactly the value of that double's shortest
     * round-trip decimal. Returns the text it is kept and served as: an integer (no fraction, no
     * exponent) as written; any other number as Java's Double.toString lays it out, with the
     * shortest digits ({@code 1.0 -> "1.0"}, {@code 1e2 -> "100.0"}, {@code 2e23 -> "2.0E23"}).
     * Throws IllegalArgumentException, naming the number, otherwise.
     *
     * @param text a number in JSON syntax
     */
    public static String canonicalNumber(String text) {
        int n = text.length();
        boolean negative = n > 0 && text.charAt(0) == '-';
        int firstDigit = negative ? 1 : 0;
        boolean integer = n > firstDigit;
        for (int i = firstDigit; i < n && integer; i++) {
            char c = text.charAt(i);
            integer = c >= '0' && c <= '9';
        }
        // Plain integers of up to 15 digits are below 2^53: always exact (the common case, no parsing).
        if (integer && n - firstDigit <= 15) {
            if (negative && n == 2 && text.charAt(1) == '0') {
                throw new IllegalArgumentException("number -0 is not accepted (it would come back as 0): send 0");
            }
            return text;
        }
        double d;
        try {
            d = Double.parseDouble(text);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + shortened(text) + "' is not a JSON number");
        }
        if (Double.isInfinite(d) || Double.isNaN(d)) {
            throw new IllegalArgumentException("number " + shortened(text) + " is out of range: beyond the largest double (about 1.8E308)");
        }
        if (d == 0) {
            int end = Math.max(text.indexOf('e'), text.indexOf('E'));
            String mantissa = end < 0 ? text : text.substring(0, end);
            for (int i = 0; i < mantissa.length(); i++) {
                char c = mantissa.charAt(i);
                if (c >= '1' && c <= '9') {
                    throw new IllegalArgumentException("number " + shortened(text) + " is out of range: closer to 0 than the smallest double");
                }
            }
            if (negative) {
                throw new IllegalArgumentException("number " + shortened(text) + " is -0, which is not accepted (it would come back as 0): send 0");
            }
            return integer ? "0" : "0.0";
        }
        String shortest = canonicalDouble(d);
        if (new java.math.BigDecimal(shortest).compareTo(new java.math.BigDecimal(text)) != 0) {
            throw new IllegalArgumentException("number " + shortened(text) + " cannot be kept exactly: as a double it is "
                    + shortest + "; send it as a string, or rounded");
        }
        return integer ? text : shortest;
    }

    /**
     * A finite, non-zero double in Java's Double.toString layout with the shortest round-trip
     * digits (the ones JavaScript's Number.prototype.toString picks). Jackson's Schubfach writer
     * gives them, except that Java's layout wants two digits in scientific form, so for a few
     * subnormals it picks a closer two-digit decimal (4.9E-324) where one digit round-trips (5E-324).
     */
    static String canonicalDouble(double d) {
        if (d == 0) {
            return "0.0";
        }
        String s = com.fasterxml.jackson.core.io.NumberOutput.toString(d, true);
        int e = s.indexOf('E');
        if (e > 0 && e == (s.charAt(0) == '-' ? 4 : 3) && s.charAt(e - 1) != '0') {
            java.math.BigDecimal one = new java.math.BigDecimal(d).round(new java.math.MathContext(1, java.math.RoundingMode.HALF_EVEN));
            if (Double.parseDouble(one.toString()) == d) {
                String digit = one.unscaledValue().abs().toString();
                return (d < 0 ? "-" : "") + digit + ".0E" + (-one.scale());
            }
        }
        return s;
    }

    /**
     * Writes a JSON tree as compact text, every number checked against the number rule and spelled
     * canonically (IllegalArgumentException otherwise): for values that arrive as trees or objects.
     */
    public static String writeTree(com.fasterxml.jackson.databind.JsonNode node) {
        StringWriter out = new StringWriter();
        try (JsonGenerator gen = FACTORY.createGenerator(out)) {
            writeTree(gen, node);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }

    private static void writeTree(JsonGenerator gen, com.fasterxml.jackson.databind.JsonNode node) throws IOException {
        switch (node.getNodeType()) {
            case OBJECT -> {
                gen.writeStartObject();
                var fields = node.fields();
                while (fields.hasNext()) {
                    var f = fields.next();
                    gen.writeFieldName(f.getKey());
                    writeTree(gen, f.getValue());
                }
                gen.writeEndObject();
            }
            case ARRAY -> {
                gen.writeStartArray();
                for (var item : node) {
                    writeTree(gen, item);
                }
                gen.writeEndArray();
            }
            case NUMBER -> {
                if (node.isFloatingPointNumber() && !node.isBigDecimal()) {
                    double d = node.doubleValue();
                    if (Double.isNaN(d) || Double.isInfinite(d)) {
                        throw new IllegalArgumentException("value holds " + d + ", which JSON cannot carry");
                    }
                    if (d == 0 && 1 / d < 0) {
                        throw new IllegalArgumentException("value holds -0, which is not accepted (it would come back as 0)");
                    }
                    gen.writeNumber(canonicalDouble(d));
                } else if (node.isBigDecimal()) {
                    gen.writeNumber(canonicalNumber(node.decimalValue().toString()));
                } else {
                    gen.writeNumber(canonicalNumber(node.bigIntegerValue().toString()));
                }
            }
            case STRING -> gen.writeString(node.textValue());
            case BOOLEAN -> gen.writeBoolean(node.booleanValue());
            case NULL, MISSING -> gen.writeNull();
            default -> gen.writeString(node.asText()); // BINARY and POJO nodes: as Jackson would write them
        }
    }

    private static String shortened(String text) {
        return text.length() > 40 ? text.substring(0, 40) + "..." : text;
    }

    /**
     * Copies the structure at the parser's current token to {@code gen} with every number spelled
     * as received (Jackson's own copy turns {@code 1e400} into "Infinity" before anyone checks it).
     */
    public static void copyVerbatim(JsonParser parser, JsonGenerator gen) throws IOException {
        int depth = 0;
        do {
            JsonToken t = parser.currentToken();
            if (t == JsonToken.VALUE_NUMBER_INT || t == JsonToken.VALUE_NUMBER_FLOAT) {
                gen.writeNumber(parser.getText());
            } else {
                gen.copyCurrentEvent(parser);
                if (t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY) {
                    depth++;
                } else if (t == JsonToken.END_OBJECT || t == JsonToken.END_ARRAY) {
                    depth--;
                }
            }
        } while (depth > 0 && parser.nextToken() != null);
    }

    /** A number that breaks the number rule (PROTOCOL.md 1.2); {@link #describe} gives the reason. */
    public static final class InvalidNumberException extends com.fasterxml.jackson.core.JsonParseException {
        private static final long serialVersionUID = 1L;

        /**
         * @param parser the parser at the number, for its location
         * @param message why the number is refused (from {@link #canonicalNumber(String)})
         */
        public InvalidNumberException(JsonParser parser, String message) {
            super(parser, message);
        }
    }

    /**
     * Wraps a parser so that every number token is checked against the number rule as it is read
     * (an {@link InvalidNumberException} otherwise): for documents read as trees, where a number's
     * text is gone once it has become a node. A checked number read as a double writes back as
     * its canonical text.
     */
    public static JsonParser checked(JsonParser parser) {
        return new com.fasterxml.jackson.core.util.JsonParserDelegate(parser) {
            @Override
            public JsonToken nextToken() throws IOException {
                return check(super.nextToken());
            }

            @Override
            public JsonToken nextValue() throws IOException {
                return check(super.nextValue());
            }

            private JsonToken check(JsonToken t) throws IOException {
                if (t == JsonToken.VALUE_NUMBER_INT || t == JsonToken.VALUE_NUMBER_FLOAT) {
                    canonicalNumber(this);
                }
                return t;
            }
        };
    }

    /** A JSON tree of the text, every number checked against the number rule; IOException if it does not parse. */
    public static com.fasterxml.jackson.databind.JsonNode readCheckedTree(String text) throws IOException {
        try (JsonParser parser = checked(FACTORY.createParser(text))) {
            return MAPPER.readTree(parser);
        }
    }

    /**
     * The canonical JSON text of a value an application writes: as {@link #write}, but a value that
     * JSON cannot carry exactly (NaN, an infinity, -0.0, a long or BigDecimal that a double would
     * change) is refused with an IllegalArgumentException instead of being silently changed.
     */
    public static String writeValue(Object value) {
        com.fasterxml.jackson.databind.JsonNode tree = MAPPER.valueToTree(value);
        String text = writeTree(tree == null ? com.fasterxml.jackson.databind.node.NullNode.getInstance() : tree);
        return text;
    }

    /**
     * Checks JSON text an application hands over as a value and returns its canonical spelling
     * (the same String when it already is canonical). IllegalArgumentException, with the reason,
     * for text that is not one JSON value or holds a number the number rule refuses.
     */
    public static String canonicalValue(String json) {
        String canonical;
        try (JsonParser parser = FACTORY.createParser(json)) {
            parser.nextToken();
            canonical = copyValue(parser);
            if (parser.nextToken() != null) {
                throw new IllegalArgumentException("trailing content after the JSON value");
            }
        } catch (InvalidNumberException e) {
            throw new IllegalArgumentException("value refused: " + describe(e));
        } catch (IOException e) {
            String why = describe(e);
            if (why.startsWith(NON_NUMBER)) {
                throw new IllegalArgumentException("value refused: it holds " + why);
            }
            throw new IllegalArgumentException("not a JSON value: " + why);
        }
        return canonical.equals(json) ? json : canonical;
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

    /**
     * Why JSON text could not be read, in this project's fixed words with the line and column: an
     * answer carries no parser's own text (PROTOCOL.md 5), which names its classes and features.
     */
    public static String describe(IOException e) {
        if (e instanceof InvalidNumberException n) {
            return n.getOriginalMessage(); // the number rule's own words
        }
        String where = "";
        if (e instanceof com.fasterxml.jackson.core.JsonProcessingException jpe && jpe.getLocation() != null
                && jpe.getLocation().getLineNr() > 0) {
            where = " at line " + jpe.getLocation().getLineNr() + ", column " + jpe.getLocation().getColumnNr();
        }
        String jackson = String.valueOf(e instanceof com.fasterxml.jackson.core.JsonProcessingException jpe ? jpe.getOriginalMessage() : e.getMessage());
        if (e instanceof com.fasterxml.jackson.core.exc.StreamConstraintsException) {
            return jackson.contains("nesting depth")
                    ? "nested deeper than " + MAX_DEPTH + " levels" + where
                    : "a number, text or name longer than the reader takes" + where;
        }
        if (e instanceof com.fasterxml.jackson.core.io.JsonEOFException) {
            return "the text ends inside a JSON value (truncated?)" + where;
        }
        if (e instanceof java.io.CharConversionException || jackson.contains("Invalid UTF-8")) {
            return "not valid UTF-8" + where;
        }
        if (jackson.startsWith("Duplicate field '")) {
            int end = jackson.indexOf('\'', 17);
            String name = end < 0 ? "" : jackson.substring(17, end);
            return "a duplicate member" + (name.isEmpty() || name.length() > 64 ? "" : " '" + name + "'") + " in one object" + where;
        }
        if (jackson.contains("Non-standard token")) {
            return NON_NUMBER + where;
        }
        if (e instanceof com.fasterxml.jackson.core.JsonParseException) {
            return "unexpected text" + where;
        }
        if (e instanceof com.fasterxml.jackson.databind.DatabindException d) {
            // Mapping into an app's type (the device engine's ValueMapper): the reason names the app's own
            // types and is said to the app. Wire and HTTP input is read as trees and never raises one.
            return d.getOriginalMessage() + where;
        }
        return "could not be read" + where;
    }

    /** What {@link #describe} says of NaN and the infinities. */
    private static final String NON_NUMBER = "NaN or an infinity, which JSON cannot carry";

    /** Serializes any object to compact JSON text. */
    public static String write(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
