package dev.cairn.engine.protocol;

import dev.cairn.engine.crdt.Change;
import java.util.List;
import java.util.Objects;

/** The frames of PROTOCOL.md section 3, one record per {@link FrameType}. */
public sealed interface Frame {

    /** Protocol version 1: every frame JSON text (PROTOCOL.md 3); what a hello without {@code versions} speaks. */
    int PROTOCOL_VERSION = 1;

    /** Protocol version 2: changes, push and ack as binary pages (PROTOCOL.md 7). */
    int PROTOCOL_V2 = 2;

    /** Every version this code speaks, lowest first. */
    List<Integer> SUPPORTED_VERSIONS = List.of(PROTOCOL_VERSION, PROTOCOL_V2);

    /** The frame's type, which is its {@code "type"} member on the wire. */
    FrameType type();

    /**
     * Client to server, first frame: protocol version, replica id, cursor, and optionally every
     * version the client speaks ({@code versions}, PROTOCOL.md 7.1; null when it offers only
     * {@code protocol}, as a v1 client does).
     */
    record Hello(int protocol, String replica, long cursor, List<Integer> versions) implements Frame {
        /**
         * NullPointerException for a null replica, IllegalArgumentException for a negative cursor;
         * {@code versions} is copied (null stays null).
         */
        public Hello {
            Objects.requireNonNull(replica, "replica");
            if (cursor < 0) {
                throw new IllegalArgumentException("cursor must be >= 0: " + cursor);
            }
            versions = versions == null ? null : List.copyOf(versions);
        }

        /** A hello that offers only {@code protocol} (a v1 client's). */
        public Hello(int protocol, String replica, long cursor) {
            this(protocol, replica, cursor, null);
        }

        /**
         * The version the server answers with: the highest it speaks among those offered
         * ({@code versions}, or {@code protocol} alone), or -1 if there is none.
         */
        public int negotiate(List<Integer> serverSpeaks) {
            List<Integer> offered = versions == null ? List.of(protocol) : versions;
            int best = -1;
            for (int v : offered) {
                if (serverSpeaks.contains(v) && v > best) {
                    best = v;
                }
            }
            return best;
        }

        @Override
        public FrameType type() {
            return FrameType.HELLO;
        }
    }

    /** Server to client, answer to hello, with the limits a client must respect. */
    record Welcome(int protocol, String user, long head, int maxBatch, long maxAheadMillis, long maxFrameBytes,
                   java.util.Map<String, String> sections) implements Frame {
        /** Assumed when a server does not say (the default server limit). */
        public static final long DEFAULT_MAX_FRAME_BYTES = 1 << 20;

        /**
         * @param sections every section the server knows, name to kind ({@code "map"}, {@code "log"}),
         *                 or null when the server did not say (PROTOCOL.md 3.1: optional)
         */
        public Welcome {
            sections = sections == null ? null : java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(sections));
        }

        /** A welcome that does not list the server's sections. */
        public Welcome(int protocol, String user, long head, int maxBatch, long maxAheadMillis, long maxFrameBytes) {
            this(protocol, user, head, maxBatch, maxAheadMillis, maxFrameBytes, null);
        }

        @Override
        public FrameType type() {
            return FrameType.WELCOME;
        }
    }

    /** Server to client: a page of catch-up or live changes, and the cursor it covers. */
    record Changes(List<SeqChange> changes, long cursor) implements Frame {
        /** {@code changes} is copied: the frame is immutable. */
        public Changes {
            changes = List.copyOf(changes);
        }

        @Override
        public FrameType type() {
            return FrameType.CHANGES;
        }
    }

    /** Server to client: catch-up is complete; the session is live. */
    record CaughtUp(long cursor) implements Frame {
        @Override
        public FrameType type() {
            return FrameType.CAUGHT_UP;
        }
    }

    /** Client to server: a batch of local changes. */
    record Push(long batch, List<Change> changes) implements Frame {
        /** {@code changes} is copied: the frame is immutable. */
        public Push {
            changes = List.copyOf(changes);
        }

        @Override
        public FrameType type() {
            return FrameType.PUSH;
        }
    }

    /** Server to client: the batch is durable. */
    record Ack(long batch) implements Frame {
        @Override
        public FrameType type() {
            return FrameType.ACK;
        }
    }

    /** Either side: a keepalive the other side answers with {@link Pong} (PROTOCOL.md 3.4). */
    record Ping() implements Frame {
        @Override
        public FrameType type() {
            return FrameType.PING;
        }
    }

    /** Either side: the answer to a {@link Ping}. */
    record Pong() implements Frame {
        @Override
        public FrameType type() {
            return FrameType.PONG;
        }
    }

    /** An error; {@code batch} is set when it answers a push. */
    record Error(ErrorCode code, String message, Long batch) implements Frame {
        /** NullPointerException for a null code or message; {@code batch} may be null. */
        public Error {
            Objects.requireNonNull(code, "code");
            Objects.requireNonNull(message, "message");
        }

        @Override
        public FrameType type() {
            return FrameType.ERROR;
        }
    }

    /** A change with the seq the server gave it. */
    record SeqChange(long seq, Change change) {
    }
}
