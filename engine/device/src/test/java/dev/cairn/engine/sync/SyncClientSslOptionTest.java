package dev.cairn.engine.sync;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.Cairn;
import java.net.URI;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.Test;

/** {@link SyncClient.Builder#sslContext}: configures the default transport only, once. */
class SyncClientSslOptionTest {

    private static final URI WSS = URI.create("wss://127.0.0.1:1/sync");

    @Test
    void sslContextConfiguresTheDefaultTransport() throws Exception {
        try (Cairn cairn = Cairn.builder().inMemory().replicaId("ssl-1").open();
             SyncClient client = SyncClient.builder(cairn, WSS, () -> "t").sslContext(SSLContext.getDefault()).build()) {
            assertTrue(client.status() != null);
        }
    }

    @Test
    void sslContextAndACustomTransportDoNotMix() throws Exception {
        try (Cairn cairn = Cairn.builder().inMemory().replicaId("ssl-2").open()) {
            SSLContext ctx = SSLContext.getDefault();
            IllegalStateException a = assertThrows(IllegalStateException.class,
                    () -> SyncClient.builder(cairn, WSS, () -> "t").transport(new JdkWebSocketTransport()).sslContext(ctx));
            assertTrue(a.getMessage().contains("sslContext"), a.getMessage());
            assertThrows(IllegalStateException.class,
                    () -> SyncClient.builder(cairn, WSS, () -> "t").sslContext(ctx).transport(new JdkWebSocketTransport()));
            assertThrows(IllegalStateException.class, () -> SyncClient.builder(cairn, WSS, () -> "t").sslContext(ctx).sslContext(ctx));
            assertThrows(NullPointerException.class, () -> SyncClient.builder(cairn, WSS, () -> "t").sslContext(null));
        }
    }
}
