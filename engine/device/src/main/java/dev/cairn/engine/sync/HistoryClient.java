package dev.cairn.engine.sync;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.Cairn;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.codec.Json;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
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
    private final URI base;
    private final Supplier<String> token;
    private final HttpClient http;
    private final Duration timeout;

    private HistoryClient(Cairn cairn, URI base, Supplier<String> token, HttpClient http, Duration timeout) {
        this.cairn = cairn;
        this.base = base;
        this.token = token;
        this.http = http;
        this.timeout = timeout;
    }

    /**
     * A client for the server at {@code server}: its base URL ({@code https://host:port}) or its
     * sync endpoint ({@code wss://host:port/sync}, as given to {@link SyncClient}).
     */
    public static HistoryClient create(Cairn cairn, URI server, Supplier<String> token) {
        return create(cairn, server, token, HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(15)).build());
    }

    /** As {@link #create(Cairn, URI, Supplier)} with an own {@link HttpClient} (e.g. with an {@code SSLContext}). */
    public static HistoryClient create(Cairn cairn, URI server, Supplier<String> token, HttpClient http) {
        Objects.requireNonNull(cairn, "cairn");
        Objects.requireNonNull(token, "token");
        Objects.requireNonNull(http, "http");
        return new HistoryClient(cairn, baseOf(Objects.requireNonNull(server, "server")), token, http, Duration.ofSeconds(30));
    }

    static URI baseOf(URI server) {
        String scheme = server.getScheme();
        if (scheme == null || server.getHost() == null) {
            throw new IllegalArgumentException("server URI must be absolute, e.g. https://host:8080, got " + server);
        }
        String http = switch (scheme.toLowerCase(java.util.Locale.ROOT)) {
            case "ws", "http" -> "http";
            case "wss", "https" -> "https";
            default -> throw new IllegalArgumentException("server URI must be http(s) or ws(s), got " + server);
        };
        return URI.create(http + "://" + server.getRawAuthority() + "/");
    }

    /** Earlier values of a map key, newest first (those the server still keeps: {@code CAIRN_HISTORY_MS}). */
    public List<Version> history(String section, String key) throws IOException, InterruptedException {
        JsonNode body = get("api/history/" + encode(section) + "/" + encode(key));
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
        HttpRequest request = HttpRequest.newBuilder(base.resolve(path))
                .timeout(timeout)
                .header("Authorization", "Bearer " + token.get())
                .header("Accept", "application/json")
                .GET().build();
        HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        JsonNode body;
        try {
            body = Json.MAPPER.readTree(response.body());
        } catch (IOException e) {
            throw new IOException("GET " + request.uri().getPath() + " answered " + response.statusCode() + " with a body that is not JSON", e);
        }
        if (response.statusCode() != 200) {
            throw new IOException("GET " + request.uri().getPath() + " failed with " + response.statusCode() + " "
                    + body.path("error").asText("") + ": " + body.path("message").asText(""));
        }
        return body;
    }

    /** Percent-encodes one path segment (RFC 3986 unreserved characters stay). */
    static String encode(String segment) {
        StringBuilder out = new StringBuilder();
        for (byte b : segment.getBytes(StandardCharsets.UTF_8)) {
            int c = b & 0xFF;
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~') {
                out.append((char) c);
            } else {
                out.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 0xF, 16)));
            }
        }
        return out.toString();
    }
}
