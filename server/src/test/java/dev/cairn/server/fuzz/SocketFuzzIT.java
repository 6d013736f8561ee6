package dev.cairn.server.fuzz;

import static dev.cairn.server.TestChanges.goodSet;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.cairn.engine.fuzz.Corpus;
import dev.cairn.engine.fuzz.FuzzLoop;
import dev.cairn.engine.fuzz.Mutator;
import dev.cairn.engine.fuzz.ValidInputs;
import dev.cairn.engine.protocol.ErrorCode;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.FrameCodec;
import dev.cairn.engine.protocol.PageCodec;
import dev.cairn.engine.protocol.ProtocolException;
import dev.cairn.server.RawSocket;
import dev.cairn.server.TestServer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import net.jqwik.api.Example;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Fuzzes the sync socket of a real server (embedded store, random port) with hostile frames, as
 * bytes on the wire (invalid UTF-8 included): as the first frame of a fresh socket (the handshake)
 * and on a socket after hello; and with hostile binary pages on a socket that negotiated protocol 2. For every input the server answers only with well-formed frames,
 * refuses with a declared error code or close code, writes nothing for a refused frame (the
 * user's head is unchanged), answers within a second, and keeps serving: the same socket answers
 * a ping afterwards unless it was closed with a reason, and a bystander user's socket is served
 * throughout.
 */
class SocketFuzzIT {

    static final int MAX_FRAME_BYTES = 64 << 10;
    static final int MAX_BATCH = 10;
    private static final String PING = "{\"type\":\"ping\"}";
    private static final int WAIT_MS = 10_000;

    /** Errors a server may answer a client frame with (slow-consumer, unavailable and rate-limited cannot happen here). */
    private static final Set<ErrorCode> AFTER_HELLO = EnumSet.of(ErrorCode.MALFORMED_FRAME, ErrorCode.INVALID_CHANGE,
            ErrorCode.CLOCK_SKEW, ErrorCode.BATCH_TOO_LARGE, ErrorCode.NOT_READY);
    /** Close codes for a hostile frame: bad protocol version, invalid UTF-8, too large. */
    private static final Set<Integer> CLOSE_CODES = Set.of(1002, 1007, 1009);

    private static TestServer server;
    private static RawSocket bystander;
    /** When the bystander last pinged: like a real client it keeps its socket alive (the server closes sockets idle for 120 s). */
    private static long bystanderPingedAt = System.nanoTime();
    private static final AtomicLong BATCHES = new AtomicLong(1_000_000);

    private RawWire ready;
    private RawWire v2;
    private long inputs;

    @BeforeContainer
    static void start() {
        server = TestServer.embedded().limits(MAX_FRAME_BYTES, MAX_BATCH, 1_000_000, 100).start();
        bystander = RawSocket.connect(server.syncUri(), server.token("bystander"));
        bystander.hello("bystander-1", 0);
    }

    @AfterContainer
    static void stop() {
        if (bystander != null) {
            bystander.close();
        }
        if (server != null) {
            server.close();
        }
    }

    @Example // jqwik, not JUnit: its generators only run on a jqwik thread
    void framesAfterHello() {
        Mutator mutator = new Mutator(ValidInputs.samples(ValidInputs.CLIENT_FRAME_TEXT, 64, 5), MAX_FRAME_BYTES);
        try {
            new FuzzLoop<>("SocketFuzzIT.framesAfterHello", new Corpus("socket-frames"), FuzzLoop.Format.BYTES,
                    FuzzLoop.byteMutationsOf(ValidInputs.CLIENT_FRAME_TEXT, mutator), this::afterHello, 2000).run();
        } finally {
            if (ready != null) {
                ready.close();
            }
        }
        assertBystanderServed();
    }

    /** Hostile binary messages on a protocol v2 socket (PROTOCOL.md 7): pages, broken pages, deflate bombs. */
    @Example
    void pagesAfterV2Hello() {
        try {
            new FuzzLoop<>("SocketFuzzIT.pagesAfterV2Hello", new Corpus("socket-pages"), FuzzLoop.Format.BYTES,
                    dev.cairn.engine.fuzz.PageCodecFuzzTest::input, this::pageAfterHello, 1000).run();
        } finally {
            if (v2 != null) {
                v2.close();
            }
        }
        assertBystanderServed();
    }

    @Example
    void handshake() {
        Mutator mutator = new Mutator(ValidInputs.samples(ValidInputs.CLIENT_FRAME_TEXT, 64, 6), MAX_FRAME_BYTES);
        new FuzzLoop<>("SocketFuzzIT.handshake", new Corpus("socket-handshake"), FuzzLoop.Format.BYTES,
                FuzzLoop.byteMutationsOf(ValidInputs.CLIENT_FRAME_TEXT, mutator), this::firstFrame, 500).run();
        assertBystanderServed();
    }

    // ------------------------------------------------------------------ targets

    /** One hostile frame on a socket that said hello; returns true if the server took it (an ack or a pong). */
    private boolean afterHello(byte[] input) throws IOException {
        keepBystanderAlive();
        try {
            return afterHelloOn(input);
        } catch (IOException | RuntimeException | AssertionError e) {
            if (ready != null) {
                ready.close(); // the next input starts on a fresh socket
                ready = null;
            }
            throw e;
        }
    }

    private boolean afterHelloOn(byte[] input) throws IOException {
        String user = "fuzz-after-hello";
        if (ready == null) {
            ready = RawWire.connect(server.port(), server.token(user));
            ready.sendText("{\"type\":\"hello\",\"protocol\":1,\"replica\":\"fuzz-1\",\"cursor\":" + server.head(user) + "}");
            ready.sendText(PING);
            Answer hello = Answer.until(ready, 1, null);
            if (hello.welcomes != 1 || hello.closeCode != null) {
                throw new AssertionError("hello was not answered with welcome: " + hello);
            }
        }
        long before = server.head(user);
        Frame local = decodeLocally(input);
        boolean sent = sendQuietly(ready, input);
        boolean closed = false;
        Answer a;
        if (!(local instanceof Frame.Ping)) {
            sendQuietly(ready, PING); // its pong marks the end of the answer to the input
        }
        a = Answer.until(ready, 1, local instanceof Frame.Push p ? p.batch() : null);
        if (a.closeCode != null) {
            closed = true;
            // A frame over the limit is refused from its header: the server may close while we still write.
            if (!CLOSE_CODES.contains(a.closeCode) && !(a.closeCode == 1006 && !sent && input.length > MAX_FRAME_BYTES)) {
                throw new AssertionError("socket closed with " + a.closeCode + ", not a declared close code");
            }
            ready.close();
            ready = null;
        }
        for (ErrorCode code : a.errorCodes) {
            if (!AFTER_HELLO.contains(code)) {
                throw new AssertionError("error code " + code.wire() + " is not one a hostile frame may get");
            }
        }
        if (a.welcomes > 0) {
            throw new AssertionError("a second welcome on one socket");
        }
        if (local instanceof Frame.Push push && a.acked && !push.changes().isEmpty()) {
            return true; // accepted: the head may move
        }
        long after = server.head(user);
        if (after != before) {
            throw new AssertionError("a refused frame wrote: head " + before + " -> " + after + " (" + a + ")");
        }
        if (++inputs % 250 == 0) {
            assertBystanderServed();
        }
        return !closed && a.errorCodes.isEmpty();
    }

    /** One hostile binary message on a socket that negotiated protocol 2; returns true if the server took it. */
    private boolean pageAfterHello(byte[] input) throws IOException {
        keepBystanderAlive();
        String user = "fuzz-pages";
        try {
            if (v2 == null) {
                v2 = RawWire.connect(server.port(), server.token(user));
                v2.sendText("{\"type\":\"hello\",\"protocol\":1,\"versions\":[1,2],\"replica\":\"fuzz-2\",\"cursor\":" + server.head(user) + "}");
                v2.sendText(PING);
                Answer hello = Answer.until(v2, 1, null);
                if (hello.welcomes != 1 || hello.closeCode != null || !hello.texts.get(0).contains("\"protocol\":2")) {
                    throw new AssertionError("a v2 hello was not answered with a v2 welcome: " + hello);
                }
            }
            long before = server.head(user);
            Frame local;
            try {
                local = PageCodec.decode(input, MAX_FRAME_BYTES);
            } catch (RuntimeException e) {
                local = null;
            }
            boolean sent;
            try {
                v2.sendBinary(input);
                sent = true;
            } catch (IOException e) {
                sent = false;
            }
            sendQuietly(v2, PING);
            Answer a = Answer.until(v2, 1, local instanceof Frame.Push p ? p.batch() : null);
            boolean closed = a.closeCode != null;
            if (closed) {
                if (!CLOSE_CODES.contains(a.closeCode) && !(a.closeCode == 1006 && !sent && input.length > MAX_FRAME_BYTES)) {
                    throw new AssertionError("socket closed with " + a.closeCode + ", not a declared close code");
                }
                v2.close();
                v2 = null;
            }
            for (ErrorCode code : a.errorCodes) {
                if (!AFTER_HELLO.contains(code)) {
                    throw new AssertionError("error code " + code.wire() + " is not one a hostile page may get");
                }
            }
            if (local instanceof Frame.Push push && a.acked && !push.changes().isEmpty()) {
                return true;
            }
            if (server.head(user) != before) {
                throw new AssertionError("a refused page wrote: head " + before + " -> " + server.head(user) + " (" + a + ")");
            }
            return !closed && a.errorCodes.isEmpty();
        } catch (IOException | RuntimeException | AssertionError e) {
            if (v2 != null) {
                v2.close();
                v2 = null;
            }
            throw e;
        }
    }

    /** A hostile first frame on a fresh socket: the handshake. Pushes before hello are never applied. */
    private boolean firstFrame(byte[] input) throws IOException {
        keepBystanderAlive();
        String user = "fuzz-handshake";
        try (RawWire ws = RawWire.connect(server.port(), server.token(user))) {
            Frame local = decodeLocally(input);
            boolean sent = sendQuietly(ws, input);
            sendQuietly(ws, PING);
            Answer a = Answer.until(ws, 1, null);
            if (a.closeCode != null && !CLOSE_CODES.contains(a.closeCode) && !(a.closeCode == 1006 && !sent && input.length > MAX_FRAME_BYTES)) {
                throw new AssertionError("socket closed with " + a.closeCode + ", not a declared close code");
            }
            // valid: a version the server speaks is offered (PROTOCOL.md 7.1: protocol, or versions)
            boolean validHello = local instanceof Frame.Hello h && h.negotiate(Frame.SUPPORTED_VERSIONS) >= 0
                    && dev.cairn.engine.clock.Stamp.isValidReplicaId(h.replica());
            if (a.welcomes != (validHello ? 1 : 0)) {
                throw new AssertionError((validHello ? "no welcome for a valid hello" : "a welcome without a valid hello") + ": " + a);
            }
            for (ErrorCode code : a.errorCodes) {
                if (!AFTER_HELLO.contains(code) && code != ErrorCode.PROTOCOL_VERSION) {
                    throw new AssertionError("error code " + code.wire() + " is not one a hostile first frame may get");
                }
            }
            if (server.head(user) != 0) {
                throw new AssertionError("a frame before hello wrote something");
            }
            return validHello;
        }
    }

    // ------------------------------------------------------------------ helpers

    /** What the server sent until the expected pongs (or a close). Every frame must be well-formed. */
    private static final class Answer {
        int pongs;
        int welcomes;
        boolean acked;
        Integer closeCode;
        final java.util.List<ErrorCode> errorCodes = new java.util.ArrayList<>();
        final java.util.List<String> texts = new java.util.ArrayList<>();

        /** Reads until {@code pongs} pongs arrived and, if {@code batch} is set and not refused, its ack. */
        static Answer until(RawWire ws, int pongs, Long batch) throws IOException {
            Answer a = new Answer();
            boolean batchSettled = batch == null;
            while (a.pongs < pongs || !batchSettled) {
                RawWire.Message m = ws.read(WAIT_MS);
                if (m == null) {
                    throw new AssertionError("no answer within " + WAIT_MS + " ms; so far: " + a);
                }
                if (m.opcode() == 8) {
                    a.closeCode = m.closeCode();
                    return a;
                }
                String text = m.opcode() == 2 ? "a page of " + m.payload().length + " bytes" : m.text();
                a.texts.add(text);
                Frame f;
                try {
                    f = m.opcode() == 2 ? PageCodec.decode(m.payload(), 64 << 20) : FrameCodec.decode(text);
                } catch (ProtocolException | dev.cairn.engine.protocol.PageTooLargeException e) {
                    throw new AssertionError("the server sent a frame that breaks the protocol (" + e.getMessage() + "): " + text);
                }
                if (f instanceof Frame.Pong) {
                    a.pongs++;
                } else if (f instanceof Frame.Welcome) {
                    a.welcomes++;
                } else if (f instanceof Frame.Ack ack) {
                    if (batch != null && ack.batch() == batch) {
                        a.acked = true;
                        batchSettled = true;
                    }
                } else if (f instanceof Frame.Error e) {
                    if (e.message().isBlank()) {
                        throw new AssertionError("error frame without a message: " + text);
                    }
                    a.errorCodes.add(e.code());
                    if (batch != null && (e.batch() == null || e.batch().longValue() == batch)) {
                        batchSettled = true;
                    }
                    if (e.code().closesSocket()) {
                        batchSettled = true;
                    }
                }
            }
            return a;
        }

        @Override
        public String toString() {
            return "pongs=" + pongs + " welcomes=" + welcomes + " acked=" + acked + " close=" + closeCode + " errors=" + errorCodes
                    + " frames=" + texts.stream().map(t -> FuzzLoop.abbreviate(t)).toList();
        }
    }

    /** The frame as the server's decoder sees it, or null if it is not valid UTF-8 or not a valid frame. */
    static Frame decodeLocally(byte[] input) {
        try {
            String text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(input)).toString();
            return FrameCodec.decode(text);
        } catch (CharacterCodingException | ProtocolException e) {
            return null;
        }
    }

    static boolean isUtf8(byte[] bytes) {
        try {
            StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes));
            return true;
        } catch (CharacterCodingException e) {
            return false;
        }
    }

    private static void keepBystanderAlive() {
        if (System.nanoTime() - bystanderPingedAt > 30_000_000_000L) {
            bystander.send(PING);
            bystanderPingedAt = System.nanoTime();
        }
    }

    private static void assertBystanderServed() {
        assertFalse(bystander.isClosed(), "the bystander's socket was closed");
        long before = server.head("bystander");
        bystander.pushAcked(BATCHES.incrementAndGet(), goodSet("still-here-" + BATCHES.get(), "bystander-1"));
        assertEquals(before + 1, server.head("bystander"), "the bystander's push was not applied");
        TestServer.Response health = server.get("/health", null);
        assertEquals(200, health.status(), "health: " + health);
    }

    /** The server may already have closed the socket because of the input: then the close frame is the answer. */
    private static boolean sendQuietly(RawWire ws, String text) {
        return sendQuietly(ws, text.getBytes(StandardCharsets.UTF_8));
    }

    private static boolean sendQuietly(RawWire ws, byte[] bytes) {
        try {
            ws.sendText(bytes);
            return true;
        } catch (IOException e) {
            return false; // read() reports the close
        }
    }
}
