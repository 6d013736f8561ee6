package dev.cairn.engine.sync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.SpaceMember;
import dev.cairn.engine.SpaceMembership;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The spaces HTTP calls (PROTOCOL.md 8.5) against a scripted HTTP server: methods, paths, bodies, answers, refusals. */
class SpacesClientTest {

    /** One request as the server saw it. */
    record Seen(String method, String path, String auth, String body) {
    }

    private ServerSocket server;
    private Thread thread;
    private final List<Seen> seen = new CopyOnWriteArrayList<>();
    private final Queue<String[]> answers = new ArrayDeque<>(); // {status, body}
    private SpacesClient client;

    @BeforeEach
    void start() throws IOException {
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        thread = new Thread(this::serve, "spaces-http-test");
        thread.setDaemon(true);
        thread.start();
        client = SpacesClient.create(URI.create("http://127.0.0.1:" + server.getLocalPort()), "alice", () -> "tok-1");
    }

    @AfterEach
    void stop() throws IOException {
        server.close();
    }

    private void answer(int status, String body) {
        synchronized (answers) {
            answers.add(new String[] {Integer.toString(status), body});
        }
    }

    private void serve() {
        while (!server.isClosed()) {
            try (Socket s = server.accept()) {
                BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
                String[] line = in.readLine().split(" ");
                String auth = null;
                int length = 0;
                for (String h = in.readLine(); h != null && !h.isEmpty(); h = in.readLine()) {
                    String lower = h.toLowerCase();
                    if (lower.startsWith("authorization:")) {
                        auth = h.substring(14).trim();
                    } else if (lower.startsWith("content-length:")) {
                        length = Integer.parseInt(h.substring(15).trim());
                    }
                }
                char[] body = new char[length];
                int read = 0;
                while (read < length) {
                    read += in.read(body, read, length - read);
                }
                seen.add(new Seen(line[0], line[1], auth, new String(body)));
                String[] a;
                synchronized (answers) {
                    a = answers.poll();
                }
                byte[] bytes = a[1].getBytes(StandardCharsets.UTF_8);
                OutputStream out = s.getOutputStream();
                out.write(("HTTP/1.1 " + a[0] + " X\r\nContent-Type: application/json\r\nContent-Length: " + bytes.length
                        + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.UTF_8));
                out.write(bytes);
                out.flush();
            } catch (IOException | RuntimeException e) {
                // closed at the end of the test
            }
        }
    }

    @Test
    void everyMembershipCallSendsItsRouteAndBodyAndReadsTheAnswer() throws Exception {
        answer(200, "{\"id\":\"sp-1\",\"name\":\"Trip\",\"role\":\"owner\"}");
        assertEquals(new SpaceMembership("sp-1", "Trip", "owner"), client.createSpace("Trip"));
        answer(200, "{\"code\":\"c0de\",\"role\":\"editor\",\"expiresAtMillis\":5000}");
        assertEquals(new SpacesClient.Invitation("c0de", "editor", Instant.ofEpochMilli(5000)),
                client.space("sp-1").invite("editor", Duration.ofDays(1)));
        answer(200, "{\"id\":\"sp-1\",\"name\":\"Trip\",\"role\":\"viewer\"}");
        assertEquals(new SpaceMembership("sp-1", "Trip", "viewer"), client.joinSpace("c0de"));
        answer(200, "{\"user\":\"bob\",\"role\":\"viewer\"}");
        assertEquals(new SpaceMember("bob", "viewer"), client.space("sp-1").setRole("bob", "viewer"));
        answer(200, "{\"removed\":true}");
        client.space("sp-1").removeMember("bob");
        answer(200, "{\"owner\":\"carol\"}");
        client.space("sp-1").transferOwnership("carol");
        answer(200, "{\"removed\":true}");
        client.space("sp-1").leave();
        answer(200, "{\"deleted\":true}");
        client.space("sp-1").delete();
        answer(200, "{\"spaces\":[{\"id\":\"sp-1\",\"name\":\"Trip\",\"role\":\"editor\"}]}");
        assertEquals(List.of(new SpaceMembership("sp-1", "Trip", "editor")), client.spaces());
        answer(200, "{\"id\":\"sp-1\",\"name\":\"Trip\",\"role\":\"editor\",\"members\":[{\"user\":\"alice\",\"role\":\"editor\"},{\"user\":\"carol\",\"role\":\"owner\"}]}");
        assertEquals(new SpacesClient.Details("sp-1", "Trip", "editor", List.of(new SpaceMember("alice", "editor"), new SpaceMember("carol", "owner"))),
                client.space("sp-1").details());

        assertEquals(List.of(
                new Seen("POST", "/api/spaces", "Bearer tok-1", "{\"name\":\"Trip\"}"),
                new Seen("POST", "/api/spaces/sp-1/invitations", "Bearer tok-1", "{\"role\":\"editor\",\"expiresInSeconds\":86400}"),
                new Seen("POST", "/api/spaces/join", "Bearer tok-1", "{\"code\":\"c0de\"}"),
                new Seen("POST", "/api/spaces/sp-1/members", "Bearer tok-1", "{\"user\":\"bob\",\"role\":\"viewer\"}"),
                new Seen("DELETE", "/api/spaces/sp-1/members/bob", "Bearer tok-1", ""),
                new Seen("POST", "/api/spaces/sp-1/owner", "Bearer tok-1", "{\"user\":\"carol\"}"),
                new Seen("DELETE", "/api/spaces/sp-1/members/alice", "Bearer tok-1", ""),
                new Seen("DELETE", "/api/spaces/sp-1", "Bearer tok-1", ""),
                new Seen("GET", "/api/spaces", "Bearer tok-1", ""),
                new Seen("GET", "/api/spaces/sp-1", "Bearer tok-1", "")), seen);
    }

    @Test
    void refusalsCarryTheServersCodeAndBadArgumentsSendNothing() throws Exception {
        answer(403, "{\"error\":\"forbidden\",\"message\":\"only the owner may invite\"}");
        SpaceApiException e = assertThrows(SpaceApiException.class, () -> client.space("sp-1").invite("viewer", Duration.ofHours(1)));
        assertEquals(403, e.httpStatus());
        assertEquals("forbidden", e.code());
        answer(404, "{\"error\":\"invalid-invitation\",\"message\":\"unknown, used or expired\"}");
        assertEquals("invalid-invitation", assertThrows(SpaceApiException.class, () -> client.joinSpace("nope")).code());
        answer(502, "<html>bad gateway</html>");
        assertEquals("http-502", assertThrows(SpaceApiException.class, () -> client.spaces()).code());
        int before = seen.size();
        assertThrows(IllegalArgumentException.class, () -> client.space("sp-1").invite("owner", Duration.ofDays(1)));
        assertThrows(IllegalArgumentException.class, () -> client.space("sp-1").invite("editor", Duration.ofSeconds(10)));
        assertThrows(IllegalArgumentException.class, () -> client.space("sp-1").addMember("bob", "admin"));
        assertThrows(IllegalArgumentException.class, () -> client.createSpace(""));
        assertThrows(IllegalArgumentException.class, () -> client.space("bad id"));
        assertEquals(before, seen.size());
        assertTrue(seen.stream().allMatch(s -> "Bearer tok-1".equals(s.auth())));
    }
}
