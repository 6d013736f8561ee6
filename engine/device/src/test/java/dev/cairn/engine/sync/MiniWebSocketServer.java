package dev.cairn.engine.sync;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * Just enough of RFC 6455 on plain JDK sockets to test {@link JdkWebSocketTransport} for real:
 * the upgrade handshake (or refusing it with an HTTP status), masked client frames,
 * fragmented text in both directions, ping and close. One thread per connection.
 */
final class MiniWebSocketServer implements AutoCloseable {

    private static final String GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    private final ServerSocket socket;
    private final List<Peer> peers = new CopyOnWriteArrayList<>();
    final List<String> authorizations = new CopyOnWriteArrayList<>();
    final BlockingQueue<String> received = new LinkedBlockingQueue<>();

    /** An HTTP status to answer upgrade requests with instead of 101 (0: upgrade). */
    volatile int refuseWith;
    volatile Consumer<Peer> onOpen = p -> { };
    volatile BiConsumer<Peer, String> onMessage = (p, text) -> received.add(text);
    volatile Consumer<Peer> onClose = p -> { };

    MiniWebSocketServer() throws IOException {
        socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread acceptor = new Thread(this::acceptLoop, "mini-ws-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** Serves the sync protocol: each WebSocket is bridged to a connection of the in-JVM {@code protocol} server. */
    MiniWebSocketServer bridgeTo(FakeServer protocol) {
        Map<Peer, CompletableFuture<Transport.Connection>> bridges = new ConcurrentHashMap<>();
        onOpen = peer -> bridges.put(peer, protocol.connect(uri(), peer.authorization.substring("Bearer ".length()),
                new Transport.Listener() {
                    @Override
                    public void onText(String frame) {
                        peer.sendText(frame);
                    }

                    @Override
                    public void onClosed(int code, String reason) {
                        peer.sendClose(code, reason);
                    }

                    @Override
                    public void onError(Throwable error) {
                        peer.sendClose(1011, "error");
                    }
                }));
        onMessage = (peer, text) -> bridges.get(peer).join().send(text);
        onClose = peer -> {
            CompletableFuture<Transport.Connection> c = bridges.remove(peer);
            if (c != null) {
                c.join().close();
            }
        };
        return this;
    }

    URI uri() {
        return URI.create("ws://127.0.0.1:" + socket.getLocalPort() + "/sync");
    }

    List<Peer> peers() {
        return peers;
    }

    private void acceptLoop() {
        while (!socket.isClosed()) {
            try {
                Socket s = socket.accept();
                Thread t = new Thread(() -> serve(s), "mini-ws-peer");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    /** One client connection. */
    final class Peer {
        private final Socket socket;
        private final OutputStream out;
        final String authorization;

        Peer(Socket socket, OutputStream out, String authorization) {
            this.socket = socket;
            this.out = out;
            this.authorization = authorization;
        }

        void sendText(String text) {
            frame(0x1, true, text.getBytes(StandardCharsets.UTF_8));
        }

        /** Sends a text message as {@code parts} frames (text, then continuations). */
        void sendFragmented(String text, int parts) {
            byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
            int step = Math.max(1, bytes.length / parts);
            int at = 0;
            boolean first = true;
            while (at < bytes.length) {
                int end = bytes.length - at <= step ? bytes.length : at + step;
                byte[] piece = java.util.Arrays.copyOfRange(bytes, at, end);
                frame(first ? 0x1 : 0x0, end == bytes.length, piece);
                first = false;
                at = end;
            }
        }

        void sendClose(int code, String reason) {
            byte[] r = reason.getBytes(StandardCharsets.UTF_8);
            byte[] payload = new byte[2 + r.length];
            payload[0] = (byte) (code >> 8);
            payload[1] = (byte) code;
            System.arraycopy(r, 0, payload, 2, r.length);
            frame(0x8, true, payload);
        }

        synchronized void frame(int opcode, boolean fin, byte[] payload) {
            try {
                ByteArrayOutputStream header = new ByteArrayOutputStream();
                header.write((fin ? 0x80 : 0) | opcode);
                if (payload.length < 126) {
                    header.write(payload.length);
                } else if (payload.length < 65536) {
                    header.write(126);
                    header.write(payload.length >> 8);
                    header.write(payload.length);
                } else {
                    header.write(127);
                    for (int i = 7; i >= 0; i--) {
                        header.write((int) ((long) payload.length >> (8 * i)));
                    }
                }
                out.write(header.toByteArray());
                out.write(payload);
                out.flush();
            } catch (IOException e) {
                // the client went away
            }
        }

        void kill() throws IOException {
            socket.close();
        }
    }

    private void serve(Socket s) {
        try (s) {
            InputStream in = new BufferedInputStream(s.getInputStream());
            OutputStream out = s.getOutputStream();
            Map<String, String> headers = readHeaders(in);
            String auth = headers.get("authorization");
            if (auth != null) {
                authorizations.add(auth);
            }
            if (refuseWith != 0) {
                byte[] body = "{\"error\":\"unauthorized\",\"message\":\"token expired\"}".getBytes(StandardCharsets.UTF_8);
                out.write(("HTTP/1.1 " + refuseWith + " Refused\r\nContent-Type: application/json\r\nContent-Length: " + body.length
                        + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                out.write(body);
                out.flush();
                return;
            }
            String accept = Base64.getEncoder().encodeToString(MessageDigest.getInstance("SHA-1")
                    .digest((headers.get("sec-websocket-key") + GUID).getBytes(StandardCharsets.US_ASCII)));
            out.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
                    + accept + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            Peer peer = new Peer(s, out, auth);
            peers.add(peer);
            onOpen.accept(peer);
            readFrames(in, peer);
        } catch (IOException | NoSuchAlgorithmException e) {
            // connection over
        }
    }

    private void readFrames(InputStream in, Peer peer) throws IOException {
        ByteArrayOutputStream message = new ByteArrayOutputStream();
        try {
            while (true) {
                int b0 = in.read();
                if (b0 < 0) {
                    return;
                }
                boolean fin = (b0 & 0x80) != 0;
                int opcode = b0 & 0x0F;
                int b1 = read(in);
                long length = b1 & 0x7F;
                if (length == 126) {
                    length = (read(in) << 8) | read(in);
                } else if (length == 127) {
                    length = 0;
                    for (int i = 0; i < 8; i++) {
                        length = (length << 8) | read(in);
                    }
                }
                byte[] mask = (b1 & 0x80) != 0 ? in.readNBytes(4) : null;
                byte[] payload = in.readNBytes((int) length);
                if (payload.length != length) {
                    throw new EOFException();
                }
                if (mask != null) {
                    for (int i = 0; i < payload.length; i++) {
                        payload[i] ^= mask[i % 4];
                    }
                }
                switch (opcode) {
                    case 0x0, 0x1 -> {
                        message.write(payload);
                        if (fin) {
                            String text = message.toString(StandardCharsets.UTF_8);
                            message.reset();
                            onMessage.accept(peer, text);
                        }
                    }
                    case 0x8 -> {
                        peer.frame(0x8, true, payload); // echo the close
                        return;
                    }
                    case 0x9 -> peer.frame(0xA, true, payload);
                    default -> {
                        // pong, binary: ignored
                    }
                }
            }
        } finally {
            peers.remove(peer);
            onClose.accept(peer);
        }
    }

    private static int read(InputStream in) throws IOException {
        int b = in.read();
        if (b < 0) {
            throw new EOFException();
        }
        return b;
    }

    private static Map<String, String> readHeaders(InputStream in) throws IOException {
        Map<String, String> headers = new HashMap<>();
        StringBuilder line = new StringBuilder();
        boolean requestLine = true;
        while (true) {
            int c = read(in);
            if (c == '\n') {
                String l = line.toString().strip();
                line.setLength(0);
                if (l.isEmpty()) {
                    return headers;
                }
                if (requestLine) {
                    requestLine = false;
                } else {
                    int colon = l.indexOf(':');
                    headers.put(l.substring(0, colon).trim().toLowerCase(Locale.ROOT), l.substring(colon + 1).trim());
                }
            } else {
                line.append((char) c);
            }
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
        for (Peer p : peers) {
            p.kill();
        }
    }
}
