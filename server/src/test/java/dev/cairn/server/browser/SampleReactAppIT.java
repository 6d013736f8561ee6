package dev.cairn.server.browser;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import dev.cairn.server.TestServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sample React app (demo-web/src/test/sample-react-app), built by Vite against the packed
 * {@code @cairn/client} tarball in demo-web's build (target/sample-react-app), served from its own
 * origin as a React developer's app would be, against a real server that lists that origin in
 * {@code CAIRN_ALLOWED_ORIGINS}: a note typed on one device shows on a second. The same app on an
 * origin the server does not list shows {@code forbidden-origin} in its status (not "connecting"
 * forever, not only a console error).
 */
class SampleReactAppIT {

    private static final String USER = "sample-app-ada";

    @TempDir
    static Path dir;

    private static HttpServer app;
    private static TestServer server;
    private static Browser deviceA;
    private static Browser deviceB;

    @BeforeAll
    static void start() throws IOException {
        Browser.requireInstalled();
        Path dist = requireBuiltApp();
        app = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        app.createContext("/", exchange -> {
            String path = exchange.getRequestURI().getPath();
            Path file = dist.resolve(path.equals("/") ? "index.html" : path.substring(1)).normalize();
            if (!file.startsWith(dist) || !Files.isRegularFile(file)) {
                exchange.sendResponseHeaders(404, -1);
                exchange.close();
                return;
            }
            byte[] body = Files.readAllBytes(file);
            exchange.getResponseHeaders().set("Content-Type", file.toString().endsWith(".js") ? "text/javascript" : "text/html; charset=utf-8");
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        app.start();
        server = TestServer.embedded().env("CAIRN_ALLOWED_ORIGINS", appOrigin("127.0.0.1")).start();
    }

    @AfterAll
    static void stop() {
        Browser.closeAll(deviceA, deviceB, server, app == null ? null : () -> app.stop(0));
    }

    private static String appOrigin(String host) {
        return "http://" + host + ":" + app.getAddress().getPort();
    }

    private static String appUrl(String host, String user) {
        return appOrigin(host) + "/?user=" + user + "&server=" + URLEncoder.encode(server.syncUri().toString(), StandardCharsets.UTF_8)
                + "&token=" + URLEncoder.encode(server.token(user), StandardCharsets.UTF_8);
    }

    @Test
    void aNoteTypedInTheAppSyncsToASecondDevice() {
        deviceA = new Browser("sample-app-a", dir.resolve("a"));
        deviceA.driver().get(appUrl("127.0.0.1", USER));
        deviceA.until(() -> "live".equals(deviceA.text("sync-state")), "device A live");
        deviceA.type("note", "hello from the sample app");
        deviceA.until(() -> "hello from the sample app".equals(deviceA.text("note-shown")) && "0".equals(deviceA.text("sync-pending")),
                "device A's note pushed");
        deviceA.screenshot("sample-app-a");

        deviceB = new Browser("sample-app-b", dir.resolve("b"));
        deviceB.driver().get(appUrl("127.0.0.1", USER));
        deviceB.until(() -> "hello from the sample app".equals(deviceB.text("note-shown")), "device A's note on device B");
        assertEquals("hello from the sample app", deviceB.byId("note").getDomProperty("value"));
        deviceB.screenshot("sample-app-b");
    }

    @Test
    void anOriginTheServerDoesNotListSeesForbiddenOrigin() {
        Browser page = new Browser("sample-app-foreign", dir.resolve("foreign"));
        try {
            // localhost is another origin than 127.0.0.1, and only the latter is listed.
            page.driver().get(appUrl("localhost", "sample-app-eve"));
            page.until(() -> "forbidden-origin".equals(page.text("sync-error")), "forbidden-origin in the app's status");
            assertEquals("offline", page.text("sync-state"));
            String message = page.text("sync-message");
            assertTrue(message.contains(appOrigin("localhost")) && message.contains("CAIRN_ALLOWED_ORIGINS"), message);
            page.screenshot("sample-app-forbidden-origin");
        } finally {
            Browser.closeAll(page);
        }
    }

    /** demo-web/target/sample-react-app, found from the working directory up; built by demo-web's test phase. */
    private static Path requireBuiltApp() {
        Path at = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        for (Path p = at; p != null; p = p.getParent()) {
            Path demoWeb = p.resolve("demo-web");
            if (Files.isRegularFile(demoWeb.resolve("src/test/sample-react-app/package.json"))) {
                Path dist = demoWeb.resolve("target/sample-react-app").toAbsolutePath().normalize();
                if (!Files.isRegularFile(dist.resolve("index.html"))) {
                    throw new AssertionError("SampleReactAppIT needs the sample app built in " + dist
                            + ": run `mvn -o verify -pl demo-web` first (its test phase packs @cairn/client and builds the app with Vite; npm must be on the PATH)");
                }
                return dist;
            }
        }
        throw new AssertionError("SampleReactAppIT: no demo-web/src/test/sample-react-app in " + at + " or any parent directory");
    }
}
