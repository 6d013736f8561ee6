package dev.cairn.server.faults;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Each fault of {@link FaultProxy} does what it says, shown against a tiny echo server. */
class FaultProxyTest {

    private ServerSocket echo;
    private final AtomicInteger echoEnds = new AtomicInteger();
    private FaultProxy proxy;

    @BeforeEach
    void startEcho() throws IOException {
        echo = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread t = new Thread(() -> {
            while (!echo.isClosed()) {
                try {
                    Socket s = echo.accept();
                    Thread h = new Thread(() -> echoLoop(s), "echo");
                    h.setDaemon(true);
                    h.start();
                } catch (IOException e) {
                    return;
                }
            }
        }, "echo-accept");
        t.setDaemon(true);
        t.start();
        proxy = FaultProxy.start("127.0.0.1", echo.getLocalPort(), 42);
    }

    private void echoLoop(Socket s) {
        try (s) {
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            byte[] buf = new byte[8192];
            int n;
            while ((n = in.read(buf)) >= 0) {
                out.write(buf, 0, n);
                out.flush();
            }
        } catch (IOException ignored) {
            // reset: fine
        }
        echoEnds.incrementAndGet();
    }

    @AfterEach
    void stop() throws IOException {
        proxy.close();
        echo.close();
    }

    private Socket connect() throws IOException {
        Socket s = new Socket("127.0.0.1", proxy.port());
        s.setSoTimeout(5_000);
        s.setTcpNoDelay(true);
        return s;
    }

    private static byte[] readExactly(Socket s, int n) throws IOException {
        byte[] got = s.getInputStream().readNBytes(n);
        assertEquals(n, got.length, "end of stream after " + got.length + " of " + n + " bytes");
        return got;
    }

    private static void send(Socket s, String text) throws IOException {
        s.getOutputStream().write(text.getBytes(StandardCharsets.UTF_8));
        s.getOutputStream().flush();
    }

    @Test
    void forwardsBothWaysWithoutFaults() throws IOException {
        try (Socket s = connect()) {
            send(s, "hello");
            assertEquals("hello", new String(readExactly(s, 5), StandardCharsets.UTF_8));
            byte[] big = new byte[200_000];
            for (int i = 0; i < big.length; i++) {
                big[i] = (byte) (i * 31);
            }
            Thread w = new Thread(() -> {
                try {
                    s.getOutputStream().write(big);
                } catch (IOException ignored) {
                    // fails the read below
                }
            });
            w.start();
            assertArrayEquals(big, readExactly(s, big.length));
        }
    }

    @Test
    void dropBlackholesBothWaysKeepsTheConnectionOpenAndPoisonsTheLink() throws Exception {
        try (Socket s = connect()) {
            send(s, "a");
            readExactly(s, 1);
            FaultProxy.Link link = proxy.links().get(0);
            link.faults().drop(true);
            send(s, "lost");
            s.setSoTimeout(700);
            assertThrows(SocketTimeoutException.class, () -> s.getInputStream().read(), "nothing may come back through a blackhole");
            // still open: writing works, and no end of stream or reset arrived
            send(s, "more");
            assertTrue(link.open());
            assertTrue(link.bytesDropped() >= 4, link.toString());
            // the fault lifted: this link stays dead (its stream has a hole), a new one works
            link.faults().drop(false);
            send(s, "after");
            assertThrows(SocketTimeoutException.class, () -> s.getInputStream().read(), "a poisoned link must stay dead");
            assertTrue(link.poisoned());
            try (Socket fresh = connect()) {
                send(fresh, "new");
                assertEquals("new", new String(readExactly(fresh, 3), StandardCharsets.UTF_8));
            }
        }
    }

    @Test
    void globalDropAlsoSwallowsNewConnections() throws IOException {
        proxy.faults().drop(true);
        try (Socket s = connect()) {
            send(s, "x");
            s.setSoTimeout(500);
            assertThrows(SocketTimeoutException.class, () -> s.getInputStream().read());
        }
        proxy.heal();
        try (Socket s = connect()) {
            send(s, "y");
            assertEquals('y', readExactly(s, 1)[0]);
        }
    }

    @Test
    void delayHoldsEveryChunkAndKeepsOrder() throws Exception {
        proxy.faults().delay(150, 100);
        try (Socket s = connect()) {
            long start = System.nanoTime();
            send(s, "p");
            readExactly(s, 1);
            long rtt = (System.nanoTime() - start) / 1_000_000;
            assertTrue(rtt >= 300, "a round trip through two delayed directions took only " + rtt + " ms");
            // many small chunks with jitter arrive in order
            proxy.faults().delay(0, 30);
            StringBuilder sent = new StringBuilder();
            for (int i = 0; i < 200; i++) {
                String piece = i + ",";
                sent.append(piece);
                send(s, piece);
            }
            String got = new String(readExactly(s, sent.length()), StandardCharsets.UTF_8);
            assertEquals(sent.toString(), got, "jitter must never reorder bytes");
        }
    }

    @Test
    void cutClosesBothSidesCleanly() throws Exception {
        try (Socket s = connect()) {
            send(s, "a");
            readExactly(s, 1);
            int before = echoEnds.get();
            proxy.cutAll();
            assertEquals(-1, s.getInputStream().read(), "the client must read end of stream (FIN), not a reset");
            long end = System.nanoTime() + 5_000_000_000L;
            while (echoEnds.get() == before && System.nanoTime() - end < 0) {
                Thread.sleep(10);
            }
            assertEquals(before + 1, echoEnds.get(), "the server side must see the close too");
            assertTrue(proxy.links().isEmpty());
        }
    }

    @Test
    void resetAbortsWithRst() throws Exception {
        try (Socket s = connect()) {
            send(s, "a");
            readExactly(s, 1);
            proxy.resetAll();
            Thread.sleep(100);
            IOException e = assertThrows(IOException.class, () -> {
                // the first write may still succeed; the RST shows on a read or a later write
                for (int i = 0; i < 50; i++) {
                    send(s, "b");
                    if (s.getInputStream().read() < 0) {
                        throw new AssertionError("read end of stream (FIN) instead of a reset");
                    }
                }
            });
            assertTrue(e instanceof SocketException, "expected a connection reset, got " + e);
        }
    }

    @Test
    void bandwidthCapSlowsTheTransfer() throws Exception {
        proxy.faults().bandwidth(40_000);
        byte[] data = new byte[20_000];
        try (Socket s = connect()) {
            s.setSoTimeout(10_000);
            long start = System.nanoTime();
            s.getOutputStream().write(data);
            readExactly(s, data.length);
            long took = (System.nanoTime() - start) / 1_000_000;
            // 20 kB at 40 kB/s is 0.5 s per direction; allow for the pipelining of both directions
            assertTrue(took >= 450, "20 kB at 40 kB/s arrived in " + took + " ms");
        }
    }

    @Test
    void refuseResetsNewConnectionsButKeepsOpenOnes() throws Exception {
        try (Socket open = connect()) {
            send(open, "a");
            readExactly(open, 1);
            proxy.refuseNew(true);
            try (Socket s = connect()) {
                // the reset may arrive before the first write or after it: both count
                assertThrows(IOException.class, () -> {
                    send(s, "x");
                    for (int i = 0; i < 50; i++) {
                        if (s.getInputStream().read() < 0) {
                            throw new SocketException("end of stream");
                        }
                        send(s, "x");
                    }
                });
            }
            assertEquals(1, proxy.refused());
            send(open, "b");
            assertEquals('b', readExactly(open, 1)[0], "an open link must keep working while new ones are refused");
            proxy.refuseNew(false);
            try (Socket s = connect()) {
                send(s, "c");
                assertEquals('c', readExactly(s, 1)[0]);
            }
        }
    }
}
