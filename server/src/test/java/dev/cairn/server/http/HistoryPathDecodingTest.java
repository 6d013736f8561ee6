package dev.cairn.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Why {@code GET /api/history/{section}/{key}} decodes its key itself instead of taking
 * vertx-web's path parameter: the router (5.0.x) decodes a parameter with
 * {@code RFC3986.decodeURIComponent}, which turns bytes that are not UTF-8 into U+FFFD. So
 * {@code %FF} would read the history of the key "\uFFFD" (a valid key, someone's data) instead of
 * being refused. The wildcard of {@code :section/*} is not decoded at all. Where the encoding is
 * valid ('/', {@code %2F}, '+', unicode, astral-plane characters, {@code %25}) both agree; this test
 * fails, and the hand decoding can go, the day the router refuses what is not UTF-8.
 */
class HistoryPathDecodingTest {

    private static Vertx vertx;
    private static int port;

    @BeforeAll
    static void start() throws Exception {
        vertx = Vertx.vertx();
        Router router = Router.router(vertx);
        // The router's best offer: a named group over the whole rest of the path, decoded by the router.
        router.getWithRegex("/api/history/(?<section>[^/]+)/(?<key>.+)")
                .handler(ctx -> ctx.json(new JsonObject().put("key", ctx.pathParam("key"))));
        HttpServer server = vertx.createHttpServer().requestHandler(router).listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS);
        port = server.actualPort();
    }

    @AfterAll
    static void stop() throws Exception {
        vertx.close().await(10, TimeUnit.SECONDS);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "card-intro/isExpanded | card-intro/isExpanded",
            "card-intro%2FisExpanded | card-intro/isExpanded",
            "a+b | a+b",
            "%C3%A9t%C3%A9 | \u00e9t\u00e9",
            "%F0%9F%98%80 | \uD83D\uDE00",
            "%EE%80%80%EF%BF%BF | \uE000\uFFFF",
            "100%25 | 100%",
    })
    void validEncodingsDecodeAlikeBothWays(String rawKey, String key) throws IOException {
        assertEquals(key, HistoryApi.percentDecode(rawKey));
        assertEquals(key, routerKey(rawKey));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "%FF | \uFFFD",
            "%C0%AF | \uFFFD\uFFFD",             // an overlong '/'
            "%ED%A0%80 | \uFFFD",                // an encoded lone surrogate
            "ok%E2%82 | ok\uFFFD",               // a character cut short
    })
    void bytesThatAreNotUtf8AreRefusedByHandButReadAsAnotherKeyByTheRouter(String rawKey, String routerReads) throws IOException {
        assertThrows(IllegalArgumentException.class, () -> HistoryApi.percentDecode(rawKey));
        assertEquals(routerReads, routerKey(rawKey), "the router no longer decodes this so: see whether the hand decoding can go");
    }

    /** What the router's path parameter holds for a request line with {@code rawKey} (sent as is, over a plain socket). */
    private static String routerKey(String rawKey) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            out.write(("GET /api/history/preferences/" + rawKey + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            String answer = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            assertEquals("HTTP/1.1 200", answer.substring(0, 12), answer);
            return new JsonObject(answer.substring(answer.indexOf("\r\n\r\n") + 4)).getString("key");
        }
    }
}
