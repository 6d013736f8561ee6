package dev.cairn.server.session;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import java.io.IOException;

/** The batch a refused text frame named, so its error can name it too (the client re-sends just that push). */
final class RefusedFrameBatch {

    private RefusedFrameBatch() {
    }

    /** Only for {@link #of}: nesting is skipped token by token (no recursion), so no depth limit is needed. */
    private static final JsonFactory LENIENT = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(Integer.MAX_VALUE).build())
            .build();

    /**
     * Best effort: the top-level {@code batch} of a frame that was refused, so the client can match the
     * error to its push; null if there is none or the frame breaks before it. Only top-level fields
     * count: a {@code "batch"} key inside a change's value must not be taken for the frame's.
     */
    static Long of(String text) {
        if (text.length() > 1 << 20) {
            return null;
        }
        try (JsonParser p = LENIENT.createParser(text)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return null;
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken value = p.nextToken();
                if ("batch".equals(name)) {
                    return value == JsonToken.VALUE_NUMBER_INT && p.getNumberType() != JsonParser.NumberType.BIG_INTEGER
                            ? p.getLongValue() : null;
                }
                p.skipChildren();
            }
        } catch (IOException | RuntimeException e) {
            // broken before a top-level batch: none to name
        }
        return null;
    }
}
