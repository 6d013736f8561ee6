package dev.cairn.engine;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.cairn.engine.clock.Stamp;
import java.time.Instant;
import java.util.Map;

/** One chat message; its stamp orders the conversation and pages through it. */
public record ChatMessage(String conversation, String role, String text, Instant at, Map<String, Object> metadata, Stamp stamp) {

    @JsonInclude(JsonInclude.Include.NON_EMPTY)
    record Body(String role, String text, String at, Map<String, Object> metadata) {
    }
}
