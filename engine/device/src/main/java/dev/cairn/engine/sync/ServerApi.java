package dev.cairn.engine.sync;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.codec.Json;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * The HTTP plumbing the clients of the server's JSON API share ({@link HistoryClient},
 * {@link SpacesClient}): the base URL from a server URI, requests with the bearer token, and the
 * answer with its error shape ({@code {"error": code, "message": text}}, PROTOCOL.md). Each client
 * turns a failed answer into its own exception.
 */
final class ServerApi {

    private final URI base;
    private final Supplier<String> token;
    private final HttpClient http;
    private final Duration timeout;

    ServerApi(URI server, Supplier<String> token, HttpClient http, Duration timeout) {
        this.base = baseOf(Objects.requireNonNull(server, "server"));
        this.token = Objects.requireNonNull(token, "token");
        this.http = Objects.requireNonNull(http, "http");
        this.timeout = timeout;
    }

    /** The JDK client the public {@code create} methods use when given none. */
    static HttpClient defaultHttpClient() {
        return HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(15)).build();
    }

    /**
     * An answer of the server: its status and JSON body ({@code body} is an empty object for an
     * empty body, null when the body is not JSON: then {@code notJson} says why).
     */
    record Answer(URI uri, int status, JsonNode body, IOException notJson) {
        /** The error code of a failed answer, or "". */
        String error() {
            return body.path("error").asText("");
        }

        /** The message of a failed answer, or "". */
        String message() {
            return body.path("message").asText("");
        }
    }

    /** Sends {@code method} to {@code path} (relative to the base URL) with {@code body} as JSON (null: none). */
    Answer send(String method, String path, JsonNode body) throws IOException, InterruptedException {
        HttpRequest.Builder rb = HttpRequest.newBuilder(base.resolve(path))
                .timeout(timeout)
                .header("Authorization", "Bearer " + token.get())
                .header("Accept", "application/json");
        if (body != null) {
            rb.header("Content-Type", "application/json")
                    .method(method, HttpRequest.BodyPublishers.ofString(Json.write(body), StandardCharsets.UTF_8));
        } else {
            rb.method(method, HttpRequest.BodyPublishers.noBody());
        }
        HttpRequest request = rb.build();
        HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        try {
            String text = response.body();
            JsonNode answer = text == null || text.isBlank() ? Json.MAPPER.createObjectNode() : Json.MAPPER.readTree(text);
            return new Answer(request.uri(), response.statusCode(), answer, null);
        } catch (IOException e) {
            return new Answer(request.uri(), response.statusCode(), null, e);
        }
    }

    /** The base URL ({@code http(s)://host:port/}) of a server given by it or by its sync endpoint ({@code ws(s)://.../sync}). */
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
