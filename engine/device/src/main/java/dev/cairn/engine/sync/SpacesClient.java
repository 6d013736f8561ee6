package dev.cairn.engine.sync;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cairn.engine.SpaceMember;
import dev.cairn.engine.SpaceMembership;
import dev.cairn.engine.codec.Json;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Membership of shared spaces over the server's HTTP API (PROTOCOL.md 8.5): create a space,
 * invite, join with a code, add members and set their roles, remove a member, leave, transfer the
 * ownership, delete. Membership is the server's: each call commits on the server, and the device
 * learns the result through sync (the user's {@code spaces} section and the space's
 * {@code members}, read with {@link dev.cairn.engine.Cairn#spaces()} and
 * {@link dev.cairn.engine.Space#members()}). Uses the JDK {@link HttpClient} with the same bearer
 * tokens as {@link SyncClient}; the blocking calls may run on any thread but the sync thread.
 *
 * <pre>{@code
 * SpacesClient spaces = SpacesClient.create(URI.create("https://cairn.example"), "alice", tokens::current);
 * SpaceMembership trip = spaces.createSpace("Trip");
 * SpacesClient.Invitation inv = spaces.space(trip.id()).invite("editor", Duration.ofDays(1));
 * // bob's device: spacesOfBob.joinSpace(inv.code()); then cairn.space(trip.id()) syncs it
 * }</pre>
 *
 * <p>Refusals are {@link SpaceApiException}s with the server's code ({@code forbidden},
 * {@code not-a-member}, {@code invalid-invitation}, {@code bad-request}, ...); a bad argument is
 * an {@link IllegalArgumentException} before anything is sent.
 */
public final class SpacesClient {

    /** Roles a call may give ({@code owner} only through {@link Remote#transferOwnership}). */
    private static final Set<String> ROLES = Set.of("editor", "viewer");

    /** A pending invitation: its single-use code, the role it gives and when it expires. */
    public record Invitation(String code, String role, Instant expiresAt) {
    }

    /** A space as a member sees it: id, name, the caller's role, and its members. */
    public record Details(String id, String name, String role, List<SpaceMember> members) {
    }

    private final ServerApi api;
    private final String user;

    private SpacesClient(ServerApi api, String user) {
        this.api = api;
        this.user = user;
    }

    /**
     * A client for the server at {@code server} (its base URL, or its {@code wss://.../sync}
     * endpoint), for {@code user} (the user the tokens authenticate: {@link Remote#leave()} names them).
     */
    public static SpacesClient create(URI server, String user, Supplier<String> token) {
        return create(server, user, token, ServerApi.defaultHttpClient());
    }

    /** As {@link #create(URI, String, Supplier)} with an own {@link HttpClient} (a proxy, TLS settings). */
    public static SpacesClient create(URI server, String user, Supplier<String> token, HttpClient http) {
        Objects.requireNonNull(user, "user");
        Objects.requireNonNull(token, "token");
        Objects.requireNonNull(http, "http");
        return new SpacesClient(new ServerApi(server, token, http, Duration.ofSeconds(30)), user);
    }

    /** Creates a space named {@code name} (1-200 characters); the caller is its owner. */
    public SpaceMembership createSpace(String name) throws IOException, InterruptedException {
        if (name == null || name.isEmpty() || name.codePointCount(0, name.length()) > 200) {
            throw new IllegalArgumentException("a space name has 1-200 characters");
        }
        ObjectNode body = Json.MAPPER.createObjectNode().put("name", name);
        return membership(call("POST", "api/spaces", body));
    }

    /** Joins the space of an invitation code, with the invitation's role (a member keeps their role). */
    public SpaceMembership joinSpace(String code) throws IOException, InterruptedException {
        if (code == null || code.isEmpty()) {
            throw new IllegalArgumentException("an invitation code is required");
        }
        return membership(call("POST", "api/spaces/join", Json.MAPPER.createObjectNode().put("code", code)));
    }

    /** The spaces the user belongs to, as the server has them now (online; {@link dev.cairn.engine.Cairn#spaces()} reads them offline). */
    public List<SpaceMembership> spaces() throws IOException, InterruptedException {
        List<SpaceMembership> out = new ArrayList<>();
        for (JsonNode s : call("GET", "api/spaces", null).path("spaces")) {
            out.add(membership(s));
        }
        return List.copyOf(out);
    }

    /** The calls about one space. */
    public Remote space(String id) {
        if (id == null || !id.matches("[A-Za-z0-9_-]{1,64}")) {
            throw new IllegalArgumentException("invalid space id '" + id + "'");
        }
        return new Remote(id);
    }

    /** The membership calls about one space, each one atomic commit on the server. */
    public final class Remote {
        private final String path;

        private Remote(String id) {
            this.path = "api/spaces/" + id;
        }

        /** The space, its members and the caller's role (members only). */
        public Details details() throws IOException, InterruptedException {
            JsonNode b = call("GET", path, null);
            List<SpaceMember> members = new ArrayList<>();
            for (JsonNode m : b.path("members")) {
                members.add(new SpaceMember(m.path("user").asText(), m.path("role").asText()));
            }
            return new Details(b.path("id").asText(), b.path("name").asText(), b.path("role").asText(), List.copyOf(members));
        }

        /**
         * A single-use invitation code giving {@code role} ({@code editor} or {@code viewer}),
         * valid for {@code ttl} (60 s to 30 days). Owner only.
         */
        public Invitation invite(String role, Duration ttl) throws IOException, InterruptedException {
            checkRole(role);
            if (ttl == null || ttl.getSeconds() < 60 || ttl.getSeconds() > 2_592_000) {
                throw new IllegalArgumentException("an invitation is valid for 60 s to 30 days, not " + ttl);
            }
            ObjectNode body = Json.MAPPER.createObjectNode().put("role", role).put("expiresInSeconds", ttl.getSeconds());
            JsonNode b = call("POST", path + "/invitations", body);
            return new Invitation(b.path("code").asText(), b.path("role").asText(), Instant.ofEpochMilli(b.path("expiresAtMillis").asLong()));
        }

        /** Adds {@code member} with {@code role}, or changes a member's role. Owner only; not for the owner themselves. */
        public SpaceMember addMember(String member, String role) throws IOException, InterruptedException {
            Objects.requireNonNull(member, "member");
            checkRole(role);
            JsonNode b = call("POST", path + "/members", Json.MAPPER.createObjectNode().put("user", member).put("role", role));
            return new SpaceMember(b.path("user").asText(), b.path("role").asText());
        }

        /** Changes a member's role: the same call as {@link #addMember}. */
        public SpaceMember setRole(String member, String role) throws IOException, InterruptedException {
            return addMember(member, role);
        }

        /** Removes a member (owner only); their devices get {@code space-left} {@code removed}. */
        public void removeMember(String member) throws IOException, InterruptedException {
            Objects.requireNonNull(member, "member");
            call("DELETE", path + "/members/" + ServerApi.encode(member), null);
        }

        /** The user leaves the space (the owner cannot: transfer the ownership first). */
        public void leave() throws IOException, InterruptedException {
            removeMember(user);
        }

        /** Makes {@code member} the owner; the caller becomes an editor. Owner only. */
        public void transferOwnership(String member) throws IOException, InterruptedException {
            Objects.requireNonNull(member, "member");
            call("POST", path + "/owner", Json.MAPPER.createObjectNode().put("user", member));
        }

        /** Deletes the space and purges its data on the server; every member gets {@code space-left} {@code deleted}. Owner only. */
        public void delete() throws IOException, InterruptedException {
            call("DELETE", path, null);
        }
    }

    private static void checkRole(String role) {
        if (!ROLES.contains(role)) {
            throw new IllegalArgumentException("role must be 'editor' or 'viewer' (ownership moves with transferOwnership), not '" + role + "'");
        }
    }

    private static SpaceMembership membership(JsonNode b) {
        return new SpaceMembership(b.path("id").asText(), b.path("name").asText(), b.path("role").asText());
    }

    private JsonNode call(String method, String path, JsonNode body) throws IOException, InterruptedException {
        ServerApi.Answer answer = api.send(method, path, body);
        if (answer.body() == null) {
            throw new SpaceApiException(answer.status(), "http-" + answer.status(),
                    method + " /" + path + " answered " + answer.status() + " with a body that is not JSON");
        }
        if (answer.status() / 100 != 2) {
            String code = answer.error();
            throw new SpaceApiException(answer.status(), code.isEmpty() ? "http-" + answer.status() : code,
                    method + " /" + path + " failed with " + answer.status() + " " + code + ": " + answer.message());
        }
        return answer.body();
    }
}
