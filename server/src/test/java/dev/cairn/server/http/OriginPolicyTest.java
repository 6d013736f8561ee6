package dev.cairn.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Same-origin: the Origin header names the host and port the request was sent to (its Host header). */
class OriginPolicyTest {

    @ParameterizedTest(name = "{0} vs Host {1}: {2}")
    @CsvSource({
            "http://127.0.0.1:8080, 127.0.0.1:8080, true",
            "https://127.0.0.1:8080, 127.0.0.1:8080, true",
            "HTTP://Cairn.Example:8080, cairn.example:8080, true",
            "https://cairn.example, cairn.example, true",
            "http://cairn.example, cairn.example, true",
            "https://cairn.example:443, cairn.example:443, true",
            "https://cairn.example, cairn.example:443, true",
            "http://cairn.example, cairn.example:443, false",
            "https://cairn.example:8443, cairn.example, false",
            "http://[::1]:8080, [::1]:8080, true",
            "http://127.0.0.1:8081, 127.0.0.1:8080, false",
            "http://localhost:8080, 127.0.0.1:8080, false",
            "http://127.0.0.1:8080.evil.example, 127.0.0.1:8080, false",
            "http://evil.example, 127.0.0.1:8080, false",
            "null, 127.0.0.1:8080, false",
            "http://127.0.0.1:8080/, 127.0.0.1:8080, false",
            "http://user@127.0.0.1:8080, 127.0.0.1:8080, false",
            "ws://127.0.0.1:8080, 127.0.0.1:8080, false",
            "http://127.0.0.1:8080, '', false",
    })
    void sameOrigin(String origin, String host, boolean same) {
        assertEquals(same, OriginPolicy.sameOrigin(origin, host));
    }
}
