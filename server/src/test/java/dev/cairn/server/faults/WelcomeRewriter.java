package dev.cairn.server.faults;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One link's lie for {@link FaultProxy#rewriteWelcome}: upstream, the HTTP upgrade request loses
 * its {@code Sec-WebSocket-Extensions} header (so no frame is compressed); downstream, the first
 * WebSocket frame after the {@code 101} response, the server's {@code welcome}, gets
 * {@code "maxFrameBytes":<lie>}. Everything else passes unchanged. Bytes are held (an empty
 * result) until the request head, the response head or the whole first frame has arrived.
 * Not thread-safe per direction; each direction has one reader thread.
 */
final class WelcomeRewriter {

    private static final byte[] END_OF_HEAD = "\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
    private static final Pattern EXTENSIONS = Pattern.compile("(?im)^Sec-WebSocket-Extensions:[^\r\n]*\r\n");
    private static final Pattern MAX_FRAME = Pattern.compile("\"maxFrameBytes\":\\d+");

    private final long lie;
    private final Runnable onRewrite;
    private final ByteArrayOutputStream upHeld = new ByteArrayOutputStream();
    private boolean upDone;
    private final ByteArrayOutputStream downHeld = new ByteArrayOutputStream();
    private boolean headSeen;
    private boolean downDone;

    WelcomeRewriter(long lie, Runnable onRewrite) {
        this.lie = lie;
        this.onRewrite = onRewrite;
    }

    /** Client to server. */
    byte[] up(byte[] bytes) {
        if (upDone) {
            return bytes;
        }
        upHeld.writeBytes(bytes);
        byte[] all = upHeld.toByteArray();
        int end = indexOf(all, END_OF_HEAD, 0);
        if (end < 0) {
            return new byte[0];
        }
        upDone = true;
        String head = new String(all, 0, end + 4, StandardCharsets.ISO_8859_1);
        String stripped = EXTENSIONS.matcher(head).replaceAll("");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(stripped.getBytes(StandardCharsets.ISO_8859_1));
        out.write(all, end + 4, all.length - end - 4);
        return out.toByteArray();
    }

    /** Server to client: the response head is passed on at once, the first frame once it is whole. */
    byte[] down(byte[] bytes) {
        if (downDone) {
            return bytes;
        }
        downHeld.writeBytes(bytes);
        byte[] all = downHeld.toByteArray();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int frame = 0;
        if (!headSeen) {
            int end = indexOf(all, END_OF_HEAD, 0);
            if (end < 0) {
                return new byte[0];
            }
            headSeen = true;
            frame = end + 4;
            String head = new String(all, 0, frame, StandardCharsets.ISO_8859_1);
            if (!head.startsWith("HTTP/1.1 101")) {
                downDone = true; // refused upgrade: nothing to rewrite
                return all;
            }
            out.write(all, 0, frame); // the client needs the 101 before it sends hello
            downHeld.reset();
            downHeld.write(all, frame, all.length - frame);
            all = downHeld.toByteArray();
        }
        byte[] rest = firstFrame(all);
        if (rest == null) {
            return out.toByteArray(); // the frame is not whole yet: held
        }
        out.writeBytes(rest);
        return out.toByteArray();
    }

    /** {@code all} with its first frame rewritten, or null while that frame is incomplete. */
    private byte[] firstFrame(byte[] all) {
        // FIN/opcode, unmasked length (7, 16 or 64 bits), payload
        if (all.length < 2) {
            return null;
        }
        int b0 = all[0] & 0xff;
        int len7 = all[1] & 0x7f;
        boolean masked = (all[1] & 0x80) != 0;
        int lenBytes = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
        if (all.length < 2 + lenBytes) {
            return null;
        }
        long length = len7;
        if (lenBytes > 0) {
            length = 0;
            for (int i = 0; i < lenBytes; i++) {
                length = (length << 8) | (all[2 + i] & 0xff);
            }
        }
        int payload = 2 + lenBytes;
        if (all.length < payload + length) {
            return null;
        }
        downDone = true;
        if (masked || b0 != 0x81) {
            return all; // not an unfragmented, uncompressed text frame: leave it
        }
        String text = new String(all, payload, (int) length, StandardCharsets.UTF_8);
        Matcher m = MAX_FRAME.matcher(text);
        if (!text.contains("\"type\":\"welcome\"") || !m.find()) {
            return all;
        }
        byte[] rewritten = m.replaceFirst("\"maxFrameBytes\":" + lie).getBytes(StandardCharsets.UTF_8);
        onRewrite.run();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0x81);
        if (rewritten.length < 126) {
            out.write(rewritten.length);
        } else if (rewritten.length < 65_536) {
            out.write(126);
            out.write(rewritten.length >>> 8);
            out.write(rewritten.length & 0xff);
        } else {
            out.write(127);
            for (int i = 7; i >= 0; i--) {
                out.write((int) ((long) rewritten.length >>> (8 * i)) & 0xff);
            }
        }
        out.writeBytes(rewritten);
        int rest = payload + (int) length;
        out.write(all, rest, all.length - rest);
        return out.toByteArray();
    }

    private static int indexOf(byte[] a, byte[] b, int from) {
        outer:
        for (int i = from; i <= a.length - b.length; i++) {
            for (int j = 0; j < b.length; j++) {
                if (a[i + j] != b[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    @Override
    public String toString() {
        return "WelcomeRewriter{lie=" + lie + ", up=" + (upDone ? "done" : Arrays.toString(new int[] {upHeld.size()})) + ", down=" + downDone + "}";
    }
}
