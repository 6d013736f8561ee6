package dev.cairn.engine;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.clock.WallClock;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.crdt.LogEntry;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Chat history: one stream per conversation in the {@code chat} log section. Messages are
 * immutable and kept from every device, ordered by stamp; {@link #clear} hides a conversation's
 * messages on every device. Conversation ids are 1-512 characters without control characters
 * ({@link IllegalArgumentException} otherwise). Writes throw {@link IllegalStateException} once the
 * engine is closed. Thread-safe.
 */
public final class Chat {

    private final LogSection log;
    private final WallClock wall;

    Chat(LogSection log, WallClock wall) {
        this.log = log;
        this.wall = wall;
    }

    /** Appends a message without metadata; see {@link #append(String, String, String, Map)}. */
    public ChatMessage append(String conversation, String role, String text) {
        return append(conversation, role, text, Map.of());
    }

    /**
     * Appends a message stamped now (this engine's wall clock) and returns it as stored.
     * {@code role} and {@code text} must not be null (NullPointerException); {@code metadata} holds
     * any values Jackson can write ({@link ValidationException} for one JSON cannot carry exactly).
     */
    public ChatMessage append(String conversation, String role, String text, Map<String, Object> metadata) {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(text, "text");
        ChatMessage.Body body = new ChatMessage.Body(role, text, Instant.ofEpochMilli(wall.millis()).toString(), metadata);
        return decode(log.appendRecord(conversation, body));
    }

    /** The whole conversation, oldest first. */
    public List<ChatMessage> history(String conversation) {
        return decodeAll(log.entries(conversation));
    }

    /** Up to {@code limit} messages before {@code before} (null: the latest), oldest first. */
    public List<ChatMessage> page(String conversation, Stamp before, int limit) {
        return decodeAll(log.page(conversation, before, limit));
    }

    /** How many visible messages the conversation holds (0 if none). */
    public int size(String conversation) {
        return log.size(conversation);
    }

    /** Ids of conversations with visible messages or a clear (a cleared conversation stays listed). */
    public Set<String> conversations() {
        return log.streams();
    }

    /** Clears one conversation on every device. */
    public void clear(String conversation) {
        log.clear(conversation);
    }

    private static List<ChatMessage> decodeAll(List<LogEntry> entries) {
        List<ChatMessage> out = new ArrayList<>(entries.size());
        for (LogEntry e : entries) {
            out.add(decode(e));
        }
        return out;
    }

    private static ChatMessage decode(LogEntry entry) {
        try {
            ChatMessage.Body body = Json.MAPPER.readValue(entry.value(), ChatMessage.Body.class);
            return new ChatMessage(entry.stream(), body.role(), body.text(), body.at() == null ? null : Instant.parse(body.at()),
                    body.metadata() == null ? Map.of() : body.metadata(), entry.stamp());
        } catch (IOException | RuntimeException e) {
            throw new IllegalStateException("chat entry " + entry.stamp() + " of '" + entry.stream() + "' is not a chat message: " + e.getMessage(), e);
        }
    }
}
