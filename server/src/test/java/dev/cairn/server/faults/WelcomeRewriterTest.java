package dev.cairn.server.faults;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** {@link WelcomeRewriter}, the lie of {@link FaultProxy#rewriteWelcome}, on bytes cut at every point. */
class WelcomeRewriterTest {

    private static final String REQUEST = "GET /sync?access_token=t HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            + "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nSec-WebSocket-Version: 13\r\n\r\n";
    private static final String RESPONSE = "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n";
    private static final String WELCOME = "{\"type\":\"welcome\",\"protocol\":1,\"user\":\"u\",\"head\":0,\"maxBatch\":1000,"
            + "\"maxAheadMillis\":60000,\"maxFrameBytes\":262144}";
    private static final String CHANGES = "{\"type\":\"changes\",\"changes\":[],\"cursor\":0}";

    @Test
    void theRequestLosesItsExtensionOfferAndWhatFollowsPassesUnchanged() {
        byte[] in = concat(ascii(REQUEST), frame("{\"type\":\"hello\"}"));
        for (int cut = 0; cut <= in.length; cut++) {
            WelcomeRewriter w = new WelcomeRewriter(1 << 20, () -> { });
            byte[] out = concat(w.up(slice(in, 0, cut)), w.up(slice(in, cut, in.length)));
            assertArrayEquals(concat(ascii(REQUEST.replace("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n", "")),
                    frame("{\"type\":\"hello\"}")), out, "cut at " + cut);
        }
    }

    @Test
    void theWelcomeTellsTheLieAndTheResponseHeadIsNotHeldBackForIt() {
        byte[] in = concat(ascii(RESPONSE), frame(WELCOME), frame(CHANGES));
        byte[] expected = concat(ascii(RESPONSE), frame(WELCOME.replace("262144", "1048576")), frame(CHANGES));
        for (int cut = 0; cut <= in.length; cut++) {
            AtomicInteger told = new AtomicInteger();
            WelcomeRewriter w = new WelcomeRewriter(1 << 20, told::incrementAndGet);
            byte[] first = w.down(slice(in, 0, cut));
            if (cut >= RESPONSE.length()) {
                // the client needs the 101 before it sends hello, and the welcome only comes after hello
                assertArrayEquals(ascii(RESPONSE), slice(first, 0, Math.min(first.length, RESPONSE.length())),
                        "the 101 is passed on as soon as it is whole (cut at " + cut + ")");
            }
            byte[] out = concat(first, w.down(slice(in, cut, in.length)));
            assertArrayEquals(expected, out, "cut at " + cut);
            assertEquals(1, told.get());
        }
    }

    @Test
    void aLongWelcomeKeepsAValidLength() {
        String big = WELCOME.replace("\"u\"", "\"" + "u".repeat(200) + "\"");
        WelcomeRewriter w = new WelcomeRewriter(4_194_304, () -> { });
        byte[] out = w.down(concat(ascii(RESPONSE), frame(big)));
        assertArrayEquals(concat(ascii(RESPONSE), frame(big.replace("262144", "4194304"))), out);
    }

    @Test
    void aRefusedUpgradePassesUnchanged() {
        byte[] in = ascii("HTTP/1.1 401 Unauthorized\r\ncontent-length: 2\r\n\r\n{}");
        assertArrayEquals(in, new WelcomeRewriter(1 << 20, () -> { }).down(in));
    }

    /** An unmasked text frame (as a server sends). */
    static byte[] frame(String text) {
        byte[] p = text.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0x81);
        if (p.length < 126) {
            out.write(p.length);
        } else {
            out.write(126);
            out.write(p.length >>> 8);
            out.write(p.length & 0xff);
        }
        out.writeBytes(p);
        return out.toByteArray();
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    private static byte[] slice(byte[] a, int from, int to) {
        return java.util.Arrays.copyOfRange(a, from, to);
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}
