package dev.cairn.server.faults;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.function.Consumer;

/**
 * A WebSocket client on a bare TCP socket that reads only when told to, and then only as many
 * bytes as it is allowed: the slow readers and never-readers of {@link SlowConsumersIT}. It
 * does the HTTP upgrade and sends {@code hello}, then leaves the socket alone; a small receive
 * buffer (set before connecting, so the kernel does not grow it) makes the server's side fill fast.
 *
 * <p>{@link #read(int)} parses whatever arrived into whole text messages (server frames are not
 * masked; fragmented messages are joined) and hands each to the consumer, and reports a close
 * frame's status. Not thread-safe: one thread drives all of them.
 */
final class StallingSocket implements AutoCloseable {

    private static final SecureRandom RANDOM = new SecureRandom();

    private final SocketChannel channel;
    private final Consumer<String> onMessage;
    private ByteBuffer in = ByteBuffer.allocate(64 << 10);
    private final ByteArrayOutputStream message = new ByteArrayOutputStream();
    private long bytesRead;
    private int closeStatus = -1;
    private boolean eof;

    private StallingSocket(SocketChannel channel, Consumer<String> onMessage) {
        this.channel = channel;
        this.onMessage = onMessage;
    }

    /** Connects, upgrades with the bearer token, sends {@code helloJson}; then non-blocking. */
    static StallingSocket open(int port, String token, String helloJson, int receiveBuffer, Consumer<String> onMessage) throws IOException {
        SocketChannel ch = SocketChannel.open();
        ch.setOption(StandardSocketOptions.SO_RCVBUF, receiveBuffer);
        ch.connect(new InetSocketAddress("127.0.0.1", port));
        String key = Base64.getEncoder().encodeToString(RANDOM.generateSeed(16));
        String request = "GET /sync HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer " + token + "\r\n\r\n";
        writeFully(ch, ByteBuffer.wrap(request.getBytes(StandardCharsets.US_ASCII)));
        // Read the response one byte at a time: nothing after its end may be swallowed.
        StringBuilder head = new StringBuilder();
        ByteBuffer one = ByteBuffer.allocate(1);
        while (!head.toString().endsWith("\r\n\r\n")) {
            one.clear();
            if (ch.read(one) < 0) {
                throw new IOException("connection closed during the upgrade: " + head);
            }
            head.append((char) one.get(0));
            if (head.length() > 8192) {
                throw new IOException("upgrade response too long");
            }
        }
        if (!head.toString().startsWith("HTTP/1.1 101")) {
            ch.close();
            throw new IOException("upgrade refused: " + head.toString().lines().findFirst().orElse(""));
        }
        StallingSocket socket = new StallingSocket(ch, onMessage);
        socket.sendText(helloJson);
        ch.configureBlocking(false);
        return socket;
    }

    /** Reads at most {@code maxBytes} that have arrived (never blocks); returns how many. */
    int read(int maxBytes) throws IOException {
        if (eof) {
            return -1;
        }
        int total = 0;
        while (total < maxBytes) {
            int room = Math.min(in.remaining(), maxBytes - total);
            if (room == 0) {
                break;
            }
            ByteBuffer slice = in.slice();
            slice.limit(room);
            int n;
            try {
                n = channel.read(slice);
            } catch (IOException e) {
                eof = true; // reset by the server
                return total == 0 ? -1 : total;
            }
            if (n < 0) {
                eof = true;
                break;
            }
            if (n == 0) {
                break;
            }
            in.position(in.position() + n);
            total += n;
            bytesRead += n;
            parse();
        }
        return eof && total == 0 ? -1 : total;
    }

    /** Frames complete in the buffer, in order. */
    private void parse() {
        in.flip();
        while (in.remaining() >= 2) {
            int start = in.position();
            int b0 = in.get() & 0xff;
            int b1 = in.get() & 0xff;
            long len = b1 & 0x7f;
            if (len == 126) {
                if (in.remaining() < 2) {
                    in.position(start);
                    break;
                }
                len = in.getShort() & 0xffff;
            } else if (len == 127) {
                if (in.remaining() < 8) {
                    in.position(start);
                    break;
                }
                len = in.getLong();
            }
            if (in.remaining() < len) {
                in.position(start);
                if (len + 16 > in.capacity()) {
                    // The server sends a page as one frame (up to its maxFrameBytes): grow to fit it.
                    ByteBuffer bigger = ByteBuffer.allocate((int) len + 16);
                    bigger.put(in);
                    in = bigger;
                    return; // in is in write mode again, positioned after the bytes kept
                }
                break;
            }
            byte[] payload = new byte[(int) len];
            in.get(payload);
            int opcode = b0 & 0x0f;
            boolean fin = (b0 & 0x80) != 0;
            if (opcode == 0x8) {
                closeStatus = payload.length >= 2 ? ((payload[0] & 0xff) << 8) | (payload[1] & 0xff) : 1005;
            } else if (opcode == 0x1 || opcode == 0x0) {
                message.writeBytes(payload);
                if (fin) {
                    onMessage.accept(message.toString(StandardCharsets.UTF_8));
                    message.reset();
                }
            } // ping/pong: ignored (a stalled reader does not answer either)
        }
        in.compact();
    }

    /** Sends one masked text frame (blocking briefly if needed). */
    void sendText(String text) throws IOException {
        byte[] payload = text.getBytes(StandardCharsets.UTF_8);
        ByteBuffer frame = ByteBuffer.allocate(payload.length + 14);
        frame.put((byte) 0x81);
        if (payload.length < 126) {
            frame.put((byte) (0x80 | payload.length));
        } else if (payload.length < 65536) {
            frame.put((byte) (0x80 | 126)).putShort((short) payload.length);
        } else {
            frame.put((byte) (0x80 | 127)).putLong(payload.length);
        }
        byte[] mask = new byte[4];
        RANDOM.nextBytes(mask);
        frame.put(mask);
        for (int i = 0; i < payload.length; i++) {
            frame.put((byte) (payload[i] ^ mask[i & 3]));
        }
        frame.flip();
        writeFully(channel, frame);
    }

    private static void writeFully(SocketChannel ch, ByteBuffer buf) throws IOException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (buf.hasRemaining()) {
            if (ch.write(buf) == 0) {
                if (System.nanoTime() > deadline) {
                    throw new IOException("could not send within 5 s");
                }
                Thread.onSpinWait();
            }
        }
    }

    boolean isClosed() {
        return eof;
    }

    /** The status of the close frame read so far, or -1. */
    int closeStatus() {
        return closeStatus;
    }

    long bytesRead() {
        return bytesRead;
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }
}
