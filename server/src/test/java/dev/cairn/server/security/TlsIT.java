package dev.cairn.server.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.Cairn;
import dev.cairn.engine.sync.JdkWebSocketTransport;
import dev.cairn.engine.sync.SyncClient;
import dev.cairn.engine.sync.SyncConnectException;
import dev.cairn.engine.sync.Transport;
import dev.cairn.server.ServerConfig;
import dev.cairn.server.TestServer;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * TLS (README "Configuration": {@code CAIRN_TLS_CERT}/{@code CAIRN_TLS_KEY} or
 * {@code CAIRN_TLS_KEYSTORE}) with a self-signed certificate made for the test: JVM clients that
 * trust it sync over {@code wss://} and talk https; one that does not is refused with an error
 * that says what to do; plain http and ws to the TLS port get no answer; HSTS is sent.
 */
class TlsIT {

    private static Path dir;
    private static SelfSignedCertificate cert;
    private static SSLContext trusting;
    private static TestServer pkcs12;
    private static TestServer pem;

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("cairn-tls");
        cert = SelfSignedCertificate.create(dir);
        trusting = cert.trustingContext();
        pkcs12 = TestServer.embedded().env("CAIRN_TLS_KEYSTORE", cert.keystore.toString())
                .env("CAIRN_TLS_KEYSTORE_PASSWORD", SelfSignedCertificate.PASSWORD).start();
        pem = TestServer.embedded().env("CAIRN_TLS_CERT", cert.certPem.toString()).env("CAIRN_TLS_KEY", cert.keyPem.toString()).start();
    }

    @AfterAll
    static void stop() throws IOException {
        for (TestServer s : new TestServer[] {pkcs12, pem}) {
            if (s != null) {
                s.close();
            }
        }
        if (dir != null) {
            try (Stream<Path> files = Files.list(dir)) {
                for (Path f : files.toList()) {
                    Files.deleteIfExists(f);
                }
            }
            Files.deleteIfExists(dir);
        }
    }

    static Stream<String> servers() {
        return Stream.of("pkcs12", "pem");
    }

    private static TestServer server(String kind) {
        return kind.equals("pkcs12") ? pkcs12 : pem;
    }

    private static URI wss(TestServer s) {
        return URI.create("wss://127.0.0.1:" + s.port() + "/sync");
    }

    private static URI https(TestServer s, String path) {
        return URI.create("https://127.0.0.1:" + s.port() + path);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("servers")
    void trustingClientsSyncOverWss(String kind) throws Exception {
        TestServer s = server(kind);
        String user = "tls-" + kind;
        try (Cairn phone = Cairn.builder().inMemory().replicaId("tls-phone").open();
             Cairn laptop = Cairn.builder().inMemory().replicaId("tls-laptop").open()) {
            SyncClient phoneSync = SyncClient.builder(phone, wss(s), () -> s.token(user)).sslContext(trusting)
                    .backoff(Duration.ofMillis(20), Duration.ofMillis(400)).build();
            SyncClient laptopSync = SyncClient.builder(laptop, wss(s), () -> s.token(user)).sslContext(trusting)
                    .backoff(Duration.ofMillis(20), Duration.ofMillis(400)).build();
            try (phoneSync; laptopSync) {
                phoneSync.start();
                laptopSync.start();
                phone.preferences().set("secure", "yes");
                phoneSync.syncNow().get(20, TimeUnit.SECONDS);
                TokenExpiryIT.until("the laptop to receive the phone's value over wss", Duration.ofSeconds(15),
                        () -> "yes".equals(laptop.preferences().get("secure", String.class, null)));
                assertTrue(s.canonical(user).contains("secure"), "the server stored it");
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("servers")
    void httpsWorksAndSendsHsts(String kind) throws Exception {
        TestServer s = server(kind);
        HttpClient client = HttpClient.newBuilder().sslContext(trusting).connectTimeout(Duration.ofSeconds(5)).build();
        HttpResponse<String> health = client.send(HttpRequest.newBuilder(https(s, "/health")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, health.statusCode(), health.body());
        assertEquals("max-age=31536000", health.headers().firstValue("Strict-Transport-Security").orElse(null));
        HttpResponse<String> write = client.send(HttpRequest.newBuilder(https(s, "/api/preferences"))
                .header("Authorization", "Bearer " + s.token("tls-http")).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"theme\":\"dark\"}")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, write.statusCode(), write.body());
        HttpResponse<String> page = client.send(HttpRequest.newBuilder(https(s, "/")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, page.statusCode());
        assertTrue(page.headers().firstValue("Content-Security-Policy").orElse("").contains("wss://127.0.0.1:" + s.port()));
    }

    @Test
    void aClientThatDoesNotTrustTheCertificateIsRefusedClearly() throws Exception {
        // the transport says what went wrong and what to do
        ExecutionException e = assertThrows(ExecutionException.class, () -> new JdkWebSocketTransport()
                .connect(wss(pkcs12), pkcs12.token("tls-untrusted"), new Transport.Listener() {
                    @Override
                    public void onText(String frame) {
                    }

                    @Override
                    public void onClosed(int code, String reason) {
                    }

                    @Override
                    public void onError(Throwable error) {
                    }
                }).get(20, TimeUnit.SECONDS));
        assertTrue(e.getCause() instanceof SyncConnectException, String.valueOf(e.getCause()));
        String message = e.getCause().getMessage();
        assertTrue(message.contains("TLS handshake") && message.contains("sslContext"), message);

        // and a SyncClient reports it and never goes live
        List<String> errors = new CopyOnWriteArrayList<>();
        try (Cairn device = Cairn.builder().inMemory().replicaId("tls-untrusting").open();
             SyncClient sync = SyncClient.builder(device, wss(pkcs12), () -> pkcs12.token("tls-untrusted"))
                     .backoff(Duration.ofMillis(50), Duration.ofMillis(200)).build()) {
            sync.onStatus(st -> {
                if (st.lastError() != null) {
                    errors.add(st.lastError());
                }
            });
            sync.start();
            TokenExpiryIT.until("an error from the untrusting client", Duration.ofSeconds(15), () -> !errors.isEmpty());
            assertFalse(sync.status().isLive());
            assertTrue(errors.get(0).contains("TLS handshake"), errors.toString());
        }
        // HTTPS without trust fails too
        HttpClient plainTrust = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        IOException https = assertThrows(IOException.class,
                () -> plainTrust.send(HttpRequest.newBuilder(https(pkcs12, "/health")).build(), HttpResponse.BodyHandlers.ofString()));
        assertTrue(https instanceof javax.net.ssl.SSLHandshakeException || https.getCause() instanceof javax.net.ssl.SSLHandshakeException,
                https.toString());
    }

    @Test
    void plainHttpAndWsToTheTlsPortFail() throws Exception {
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
        assertThrows(IOException.class, () -> client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + pkcs12.port() + "/health"))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString()), "plain http to the TLS port must not be answered");
        ExecutionException e = assertThrows(ExecutionException.class, () -> new JdkWebSocketTransport()
                .connect(URI.create("ws://127.0.0.1:" + pkcs12.port() + "/sync"), pkcs12.token("tls-plain"), new Transport.Listener() {
                    @Override
                    public void onText(String frame) {
                    }

                    @Override
                    public void onClosed(int code, String reason) {
                    }

                    @Override
                    public void onError(Throwable error) {
                    }
                }).get(20, TimeUnit.SECONDS));
        assertTrue(e.getCause() instanceof SyncConnectException, String.valueOf(e.getCause()));
    }

    @Test
    void badTlsSettingsAreClearConfigurationErrors() {
        Map<Map<String, String>, String> cases = Map.of(
                Map.of("CAIRN_TLS_CERT", cert.certPem.toString()), "CAIRN_TLS_CERT and CAIRN_TLS_KEY must be set together",
                Map.of("CAIRN_TLS_CERT", cert.certPem.toString(), "CAIRN_TLS_KEY", cert.keyPem.toString(), "CAIRN_TLS_KEYSTORE",
                        cert.keystore.toString()), "not both",
                Map.of("CAIRN_TLS_KEYSTORE", dir.resolve("missing.p12").toString()), "CAIRN_TLS_KEYSTORE is not a readable file");
        cases.forEach((env, expected) -> {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ServerConfig.fromEnv(env), env.toString());
            assertTrue(e.getMessage().contains(expected), e.getMessage());
        });
        // a wrong keystore password fails the start with a message, not a half-started server
        AssertionError start = assertThrows(AssertionError.class, () -> TestServer.embedded()
                .env("CAIRN_TLS_KEYSTORE", cert.keystore.toString()).env("CAIRN_TLS_KEYSTORE_PASSWORD", "wrong").start());
        assertTrue(start.getMessage().contains("did not start"), start.getMessage());
    }
}
