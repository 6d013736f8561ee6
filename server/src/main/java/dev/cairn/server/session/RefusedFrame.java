package dev.cairn.server.session;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import dev.cairn.server.space.SpaceKeys;
import java.io.IOException;

/**
 * What a refused text frame named at its top level, so its error can name it too: the {@code batch}
 * (the client re-sends just that push) and the {@code space} (errors about a space's push or
 * presence name it, PROTOCOL.md 8.2 and 8.6). Null where there is none, the frame breaks before
 * it, or it is not well-formed (a space id out of its syntax is not echoed).
 */
record RefusedFrame(Long batch, String space) {

    private static final RefusedFrame NONE = new RefusedFrame(null, null);

    /** Only for {@link #of}: nesting is skipped token by token (no recursion), so no depth limit is needed. */
    private static final JsonFactory LENIENT = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(Integer.MAX_VALUE).build())
            .build();

    /**
     * Best effort, top-level members only: a {@code "batch"} or {@code "space"} key inside a change's
     * value must not be taken for the frame's.
     */
    static RefusedFrame of(String text) {
        if (text.length() > 1 << 20) {
            return NONE;
        }
        Long batch = null;
        boolean batchSeen = false;
        String space = null;
        try (JsonParser p = LENIENT.createParser(text)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return NONE;
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken value = p.nextToken();
                if ("batch".equals(name) && !batchSeen) {
                    batchSeen = true;
                    batch = value == JsonToken.VALUE_NUMBER_INT && p.getNumberType() != JsonParser.NumberType.BIG_INTEGER
                            ? p.getLongValue() : null;
                } else if ("space".equals(name) && space == null && value == JsonToken.VALUE_STRING
                        && SpaceKeys.SPACE_ID.matcher(p.getText()).matches()) {
                    space = p.getText();
                }
                if (batchSeen && space != null) {
                    break;
                }
                p.skipChildren();
            }
        } catch (IOException | RuntimeException e) {
            // broken before them: what was read so far counts
        }
        return new RefusedFrame(batch, space);
    }
}
