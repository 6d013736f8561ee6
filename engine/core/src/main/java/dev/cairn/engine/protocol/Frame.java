package dev.cairn.engine.protocol;

import dev.cairn.engine.crdt.Change;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;

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
    record Hello(int protocol, String replica, long cursor, List<Integer> versions, Map<String, Long> spaces) implements Frame {
        /**
         * NullPointerException for a null replica, IllegalArgumentException for a negative cursor,
         * a space id that is not valid or a negative space cursor; {@code versions} and
         * {@code spaces} are copied (null stays null).
         *
         * @param spaces the spaces the client holds data of, each with its cursor (PROTOCOL.md 8.1);
         *               null when the client does not sync spaces
         */
        public Hello {
            Objects.requireNonNull(replica, "replica");
            if (cursor < 0) {
                throw new IllegalArgumentException("cursor must be >= 0: " + cursor);
            }
            versions = versions == null ? null : List.copyOf(versions);
            if (spaces != null) {
                Map<String, Long> copy = new TreeMap<>();
                spaces.forEach((id, c) -> {
                    Frame.checkSpace(id);
                    if (c == null || c < 0) {
                        throw new IllegalArgumentException("the cursor of space '" + id + "' must be >= 0");
                    }
                    copy.put(id, c);
                });
                spaces = Collections.unmodifiableMap(copy);
            }
        }

        /** A hello that offers only {@code protocol} (a v1 client's). */
        public Hello(int protocol, String replica, long cursor) {
            this(protocol, replica, cursor, null, null);
        }

        /** A hello that syncs no spaces. */
        public Hello(int protocol, String replica, long cursor, List<Integer> versions) {
            this(protocol, replica, cursor, versions, null);
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
                   Map<String, String> sections, Map<String, SpaceInfo> spaces) implements Frame {
        /** Assumed when a server does not say (the default server limit). */
        public static final long DEFAULT_MAX_FRAME_BYTES = 1 << 20;

        /**
         * @param sections every section the server knows, name to kind ({@code "map"}, {@code "log"}),
         *                 or null when the server did not say (PROTOCOL.md 3.1: optional)
         * @param spaces   every space the user is a member of when the session starts, with the
         *                 role and the space's head (PROTOCOL.md 8.1), or null when the session
         *                 does not sync spaces
         */
        public Welcome {
            sections = sections == null ? null : Collections.unmodifiableMap(new TreeMap<>(sections));
            if (spaces != null) {
                spaces.keySet().forEach(Frame::checkSpace);
                spaces = Collections.unmodifiableMap(new TreeMap<>(spaces));
            }
        }

        /** A welcome without spaces. */
        public Welcome(int protocol, String user, long head, int maxBatch, long maxAheadMillis, long maxFrameBytes,
                       Map<String, String> sections) {
            this(protocol, user, head, maxBatch, maxAheadMillis, maxFrameBytes, sections, null);
        }

        /** A welcome that does not list the server's sections. */
        public Welcome(int protocol, String user, long head, int maxBatch, long maxAheadMillis, long maxFrameBytes) {
            this(protocol, user, head, maxBatch, maxAheadMillis, maxFrameBytes, null, null);
        }

        @Override
        public FrameType type() {
            return FrameType.WELCOME;
        }
    }

    /**
     * Server to client: a page of catch-up or live changes, and the cursor it covers; of the
     * user's own state ({@code space} null) or of a space (PROTOCOL.md 8.3, page kind 4).
     */
    record Changes(List<SeqChange> changes, long cursor, String space) implements Frame {
        /** {@code changes} is copied: the frame is immutable; a space id must be valid. */
        public Changes {
            changes = List.copyOf(changes);
            if (space != null) {
                checkSpace(space);
            }
        }

        /** A page of the user's own state. */
        public Changes(List<SeqChange> changes, long cursor) {
            this(changes, cursor, null);
        }

        @Override
        public FrameType type() {
            return FrameType.CHANGES;
        }
    }

    /** Server to client: catch-up is complete; the session is live (in {@code space}, when not null: PROTOCOL.md 8.1). */
    record CaughtUp(long cursor, String space) implements Frame {
        /** A space id must be valid. */
        public CaughtUp {
            if (space != null) {
                checkSpace(space);
            }
        }

        /** The user's own catch-up is complete. */
        public CaughtUp(long cursor) {
            this(cursor, null);
        }

        @Override
        public FrameType type() {
            return FrameType.CAUGHT_UP;
        }
    }

    /** Client to server: a batch of local changes, of the user's own state ({@code space} null) or of a space (page kind 5). */
    record Push(long batch, List<Change> changes, String space) implements Frame {
        /** {@code changes} is copied: the frame is immutable; a space id must be valid. */
        public Push {
            changes = List.copyOf(changes);
            if (space != null) {
                checkSpace(space);
            }
        }

        /** A push of the user's own changes. */
        public Push(long batch, List<Change> changes) {
            this(batch, changes, null);
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

    /**
     * An error; {@code batch} is set when it answers a push, {@code space} when it is about a
     * space (a refused space push, a refused presence: PROTOCOL.md 8.2, 8.6).
     */
    record Error(ErrorCode code, String message, Long batch, String space) implements Frame {
        /** NullPointerException for a null code or message; {@code batch} and {@code space} may be null. */
        public Error {
            Objects.requireNonNull(code, "code");
            Objects.requireNonNull(message, "message");
            if (space != null) {
                checkSpace(space);
            }
        }

        /** An error about no space. */
        public Error(ErrorCode code, String message, Long batch) {
            this(code, message, batch, null);
        }

        @Override
        public FrameType type() {
            return FrameType.ERROR;
        }
    }

    /**
     * Server to client: the user left {@code space}, was removed, the space was deleted, or the
     * user was never a member of a space its hello named (PROTOCOL.md 8.4); nothing more of it follows.
     */
    record SpaceLeft(String space, String reason) implements Frame {
        /** The reasons PROTOCOL.md 8.4 names. */
        public static final java.util.Set<String> REASONS = java.util.Set.of("removed", "left", "deleted", "not-a-member");

        /** A valid space id and one of {@link #REASONS}, else IllegalArgumentException. */
        public SpaceLeft {
            checkSpace(space);
            if (!REASONS.contains(reason)) {
                throw new IllegalArgumentException("space-left reason must be one of " + new TreeSet<>(REASONS) + ", got '" + reason + "'");
            }
        }

        @Override
        public FrameType type() {
            return FrameType.SPACE_LEFT;
        }
    }

    /**
     * Presence in a space (PROTOCOL.md 8.6): ephemeral, never stored. From a client it has only
     * {@code space} and {@code state}; from the server also the {@code user} and {@code replica}
     * it is about.
     *
     * @param state the state's compact canonical JSON text, or null: withdrawn ({@code "state":null})
     */
    record Presence(String space, String user, String replica, String state) implements Frame {
        /** A valid space id; {@code user} and {@code replica} both set or both null. */
        public Presence {
            checkSpace(space);
            if ((user == null) != (replica == null)) {
                throw new IllegalArgumentException("a presence has 'user' and 'replica' both (from the server) or neither (a client's: only 'type', 'space' and 'state')");
            }
        }

        /** A client's presence: its state in {@code space} (null withdraws it). */
        public Presence(String space, String state) {
            this(space, null, null, state);
        }

        @Override
        public FrameType type() {
            return FrameType.PRESENCE;
        }
    }

    /** The role the user has in a space and the space's head when the session started (welcome's {@code spaces}). */
    record SpaceInfo(String role, long head) {
        /** NullPointerException for a null role, IllegalArgumentException for a negative head. */
        public SpaceInfo {
            Objects.requireNonNull(role, "role");
            if (head < 0) {
                throw new IllegalArgumentException("head must be >= 0: " + head);
            }
        }
    }

    /** A change with the seq the server gave it. */
    record SeqChange(long seq, Change change) {
    }

    /** True for a valid space id (PROTOCOL.md 8): 1-64 characters of {@code A-Z a-z 0-9 - _}. */
    static boolean isValidSpaceId(String id) {
        if (id == null || id.isEmpty() || id.length() > 64) {
            return false;
        }
        for (int i = 0; i < id.length(); i++) {
            char c = id.charAt(i);
            if (!(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_')) {
                return false;
            }
        }
        return true;
    }

    /** IllegalArgumentException (malformed-frame when decoding) for a space id that is not valid. */
    private static void checkSpace(String id) {
        if (!isValidSpaceId(id)) {
            throw new IllegalArgumentException("invalid space id '" + id + "'");
        }
    }
}
