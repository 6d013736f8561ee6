package dev.cairn.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** Where the server binds: dev tokens (anyone may mint any user's token) stay on loopback unless told twice. */
class ServerConfigBindTest {

    private static final String SECRET = "0123456789abcdef0123456789abcdef";

    @Test
    void devTokensBindLoopbackByDefault() {
        ServerConfig config = ServerConfig.fromEnv(Map.of());
        assertTrue(config.devTokens());
        assertEquals("127.0.0.1", config.host());
    }

    @Test
    void aSecretWithoutDevTokensBindsEveryAddress() {
        ServerConfig config = ServerConfig.fromEnv(Map.of("CAIRN_JWT_SECRET", SECRET));
        assertFalse(config.devTokens());
        assertEquals("0.0.0.0", config.host());
    }

    @Test
    void devTokensOnAPublicAddressAreRefused() {
        for (Map<String, String> env : java.util.List.of(
                Map.of("CAIRN_HOST", "0.0.0.0"),
                Map.of("CAIRN_HOST", "::"),
                Map.of("CAIRN_HOST", "192.0.2.7"),
                Map.of("CAIRN_HOST", "0.0.0.0", "CAIRN_JWT_SECRET", SECRET, "CAIRN_DEV_TOKENS", "true"),
                Map.of("CAIRN_HOST", "0.0.0.0", "CAIRN_DEV_TOKENS_PUBLIC", "false"))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ServerConfig.fromEnv(env), env.toString());
            assertTrue(e.getMessage().startsWith("CAIRN_HOST=") && e.getMessage().contains("CAIRN_DEV_TOKENS_PUBLIC=true"), e.getMessage());
        }
    }

    @Test
    void loopbackAddressesAreAlwaysAllowed() {
        for (String host : java.util.List.of("127.0.0.1", "127.0.0.2", "::1", "localhost", "LOCALHOST")) {
            assertEquals(host, ServerConfig.fromEnv(Map.of("CAIRN_HOST", host)).host());
        }
    }

    @Test
    void explicitConsentOrNoDevTokensAllowAPublicAddress() {
        assertEquals("0.0.0.0", ServerConfig.fromEnv(Map.of("CAIRN_HOST", "0.0.0.0", "CAIRN_DEV_TOKENS_PUBLIC", "true")).host());
        assertEquals("0.0.0.0", ServerConfig.fromEnv(Map.of("CAIRN_HOST", "0.0.0.0", "CAIRN_DEV_TOKENS", "false")).host());
        assertEquals("0.0.0.0", ServerConfig.fromEnv(Map.of("CAIRN_HOST", "0.0.0.0", "CAIRN_JWT_SECRET", SECRET)).host());
    }

    @Test
    void aBadConsentValueIsNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ServerConfig.fromEnv(Map.of("CAIRN_HOST", "0.0.0.0", "CAIRN_DEV_TOKENS_PUBLIC", "maybe")));
        assertTrue(e.getMessage().startsWith("CAIRN_DEV_TOKENS_PUBLIC must be true or false"), e.getMessage());
    }
}
