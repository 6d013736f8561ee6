package dev.cairn.server.fuzz;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Base64;

/**
 * The smallest WebSocket client that sends ANY bytes as a text message, invalid UTF-8 included
 * (the JDK client refuses to), and reads what the server sends back. For fuzzing only.
 */
final class RawWire implements AutoCloseable {

    /** A message from the server: opcode 1 text, 8 close (with {@link #closeCode}). */
    record Message(int opcode, byte[] payload) {
        String text() {
            return new String(payload, StandardCharsets.UTF_8);
        }

        int closeCode() {
            return payload.length >= 2 ? ((payload[0] & 0xff) << 8) | (payload[1] & 0xff) : 1005;
        }
    }

    private static final SecureRandom RANDOM = new SecureRandom();

    private final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;

    private RawWire(Socket socket) throws IOException {
        this.socket = socket;
        this.in = new DataInputStream(socket.getInputStream());
        this.out = socket.getOutputStream();
    }

    /** Opens /sync with a bearer token; fails unless the server answers 101. */
    static RawWire connect(int port, String token) throws IOException {
        Socket s = new Socket("127.0.0.1", port);
        s.setTcpNoDelay(true);
        s.setSoTimeout(10_000);
        RawWire w = new RawWire(s);
        byte[] key = new byte[16];
        RANDOM.nextBytes(key);
        String request = "GET /sync HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: " + Base64.getEncoder().encodeToString(key) + "\r\nSec-WebSocket-Version: 13\r\n"
                + "Authorization: Bearer " + token + "\r\n\r\n";
        w.out.write(request.getBytes(StandardCharsets.US_ASCII));
        w.out.flush();
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int b = w.in.read();
            if (b < 0) {
                throw new EOFException("connection closed during the upgrade: " + head);
            }
            head.append((char) b);
        }
        if (!head.toString().startsWith("HTTP/1.1 101")) {
            s.close();
            throw new IOException("upgrade refused: " + head.toString().lines().findFirst().orElse(""));
        }
        return w;
    }

    /** Sends {@code payload} as one masked text frame, whatever its bytes. */
    void sendText(byte[] payload) throws IOException {
        send(0x81, payload);
    }

    /** Sends {@code payload} as one masked binary frame (a protocol v2 page, or a broken one). */
    void sendBinary(byte[] payload) throws IOException {
        send(0x82, payload);
    }

    private void send(int firstByte, byte[] payload) throws IOException {
        ByteArrayOutputStream frame = new ByteArrayOutputStream(payload.length + 14);
        frame.write(firstByte);
        if (payload.length < 126) {
            frame.write(0x80 | payload.length);
        } else if (payload.length < 65536) {
            frame.write(0x80 | 126);
            frame.write(payload.length >>> 8);
            frame.write(payload.length);
        } else {
            frame.write(0x80 | 127);
            long n = payload.length;
            for (int i = 7; i >= 0; i--) {
                frame.write((int) (n >>> (8 * i)));
            }
        }
        byte[] mask = new byte[4];
        RANDOM.nextBytes(mask);
        frame.write(mask);
        byte[] masked = new byte[payload.length];
        for (int i = 0; i < payload.length; i++) {
            masked[i] = (byte) (payload[i] ^ mask[i & 3]);
        }
        frame.write(masked);
        out.write(frame.toByteArray());
        out.flush();
    }

    void sendText(String text) throws IOException {
        sendText(text.getBytes(StandardCharsets.UTF_8));
    }

    /** The next whole message (continuations joined; pings skipped), or null if none comes within {@code millis}. */
    Message read(int millis) throws IOException {
        socket.setSoTimeout(millis);
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        int opcode = -1;
        try {
            while (true) {
                int b0 = in.readUnsignedByte();
                int b1 = in.readUnsignedByte();
                long len = b1 & 0x7f;
                if (len == 126) {
                    len = in.readUnsignedShort();
                } else if (len == 127) {
                    len = in.readLong();
                }
                if ((b1 & 0x80) != 0) {
                    in.readInt(); // servers do not mask; skip a key if one is there
                }
                byte[] payload = new byte[(int) len];
                in.readFully(payload);
                int op = b0 & 0x0f;
                if (op == 9 || op == 10) {
                    continue; // WebSocket-level ping/pong: not protocol frames
                }
                if (op != 0) {
                    opcode = op;
                }
                data.write(payload);
                if ((b0 & 0x80) != 0) {
                    return new Message(opcode, data.toByteArray());
                }
            }
        } catch (SocketTimeoutException e) {
            return null;
        } catch (EOFException e) {
            return new Message(8, new byte[] {(byte) 0x03, (byte) 0xee}); // dropped without a close frame: 1006
        }
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // already gone
        }
    }
}
