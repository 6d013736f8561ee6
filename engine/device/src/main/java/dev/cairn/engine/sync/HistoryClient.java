package dev.cairn.engine.sync;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.Cairn;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.codec.Json;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * What the server keeps of this user besides the synced state (issue 7): earlier values of map
 * keys ({@code GET /api/history/{section}/{key}}) and storage use against the quota
 * ({@code GET /api/usage}). Uses the JDK {@link HttpClient} with the same bearer tokens as
 * {@link SyncClient}.
 *
 * <pre>{@code
 * HistoryClient history = HistoryClient.create(cairn, URI.create("https://cairn.example"), tokens::current);
 * List<HistoryClient.Version> versions = history.history("preferences", "theme");   // newest first
 * history.restore("preferences", "theme", versions.get(0));   // a new local write: syncs to every device
 * }</pre>
 *
 * <p>Restoring is a plain local write through the engine with a fresh stamp (not a rewind of the
 * server): it wins over the current value like any newer write and reaches the other devices
 * through sync. The blocking methods may be called from any thread except the sync thread.
 */
public final class HistoryClient {

    /** An earlier value of a key: JSON text ({@code null}: the key was deleted), its stamp, and when it was replaced. */
    public record Version(String value, Stamp stamp, Instant replacedAt) {
        /** Whether this version is a delete (it has no value). */
        public boolean deleted() {
            return value == null;
        }
    }

    /** Bytes the user holds on the server and the quota ({@code 0}: no limit). */
    public record Usage(long usedBytes, long quotaBytes) {
        /** Whether the server sets no quota for this user ({@code quotaBytes} is 0). */
        public boolean unlimited() {
            return quotaBytes == 0;
        }
    }

    private final Cairn cairn;
    private final ServerApi api;

    private HistoryClient(Cairn cairn, ServerApi api) {
        this.cairn = cairn;
        this.api = api;
    }

    /**
     * A client for the server at {@code server}: its base URL ({@code https://host:port}) or its
     * sync endpoint ({@code wss://host:port/sync}, as given to {@link SyncClient}).
     */
    public static HistoryClient create(Cairn cairn, URI server, Supplier<String> token) {
        return create(cairn, server, token, ServerApi.defaultHttpClient());
    }

    /** As {@link #create(Cairn, URI, Supplier)} with an own {@link HttpClient} (e.g. with an {@code SSLContext}). */
    public static HistoryClient create(Cairn cairn, URI server, Supplier<String> token, HttpClient http) {
        Objects.requireNonNull(cairn, "cairn");
        return new HistoryClient(cairn, new ServerApi(server, token, http, Duration.ofSeconds(30)));
    }

    /** Earlier values of a map key, newest first (those the server still keeps: {@code CAIRN_HISTORY_MS}). */
    public List<Version> history(String section, String key) throws IOException, InterruptedException {
        JsonNode body = get("api/history/" + ServerApi.encode(section) + "/" + ServerApi.encode(key));
        List<Version> out = new ArrayList<>();
        for (JsonNode e : body.path("entries")) {
            JsonNode value = e.get("value");
            boolean deleted = e.path("deleted").asBoolean(false);
            out.add(new Version(deleted || value == null ? null : Json.write(value), Stamp.parse(e.path("stamp").asText()),
                    Instant.ofEpochMilli(e.path("replacedAtMillis").asLong())));
        }
        return Collections.unmodifiableList(out);
    }

    /** Storage use against quota. */
    public Usage usage() throws IOException, InterruptedException {
        JsonNode body = get("api/usage");
        return new Usage(body.path("usedBytes").asLong(), body.path("quotaBytes").asLong());
    }

    /**
     * Makes {@code version} the key's value again: a new local write (fresh stamp) through the
     * engine, which syncs like any other; a deleted version deletes the key.
     */
    public void restore(String section, String key, Version version) {
        Objects.requireNonNull(version, "version");
        if (version.deleted()) {
            cairn.map(section).remove(key);
        } else {
            JsonNode value;
            try {
                value = Json.MAPPER.readTree(version.value());
            } catch (IOException e) {
                throw new IllegalArgumentException("version value is not JSON: " + e.getMessage(), e);
            }
            cairn.map(section).put(key, value);
        }
    }

    private JsonNode get(String path) throws IOException, InterruptedException {
        ServerApi.Answer answer = api.send("GET", path, null);
        if (answer.body() == null) {
            throw new IOException("GET " + answer.uri().getPath() + " answered " + answer.status() + " with a body that is not JSON", answer.notJson());
        }
        if (answer.status() != 200) {
            throw new IOException("GET " + answer.uri().getPath() + " failed with " + answer.status() + " "
                    + answer.error() + ": " + answer.message());
        }
        return answer.body();
    }
}
