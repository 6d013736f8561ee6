package dev.cairn.engine.sync;

import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.cairn.engine.Cairn;
import dev.cairn.engine.ChangeTooLargeException;
import dev.cairn.engine.LeftSpaceCopy;
import dev.cairn.engine.LogSection;
import dev.cairn.engine.Space;
import dev.cairn.engine.SpacePresence;
import dev.cairn.engine.ValidationException;
import dev.cairn.engine.PersistentState;
import dev.cairn.engine.StateOptions;
import dev.cairn.engine.crdt.LogEntry;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.crypto.E2eKey;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.FrameCodec;
import dev.cairn.engine.protocol.PageCodec;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Runs every sync transcript of {@code spec/vectors/sync/} (format and rules in its README; the
 * browser client runs the same files) against a real {@link Cairn} engine in memory and the real
 * {@link SyncClient}, through a scripted {@link Transport}.
 */
class TranscriptTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long STEP_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(3);
    /** Steps that only look: afterMillis does not count from them. */
    private static final java.util.Set<String> CHECKS = java.util.Set.of("status", "get", "cursor", "syncNowResult", "spaceStatus", "peers");

    static Path transcriptsDir() {
        Path start = Path.of("").toAbsolutePath();
        for (Path dir = start; dir != null; dir = dir.getParent()) {
            Path candidate = dir.resolve("spec").resolve("vectors").resolve("sync");
            if (Files.isDirectory(candidate)) {
                return candidate;
            }
        }
        return fail("no spec/vectors/sync directory found in " + start + " or any parent");
    }

    @TestFactory
    Stream<DynamicTest> transcripts() throws IOException {
        List<Path> files;
        try (Stream<Path> list = Files.list(transcriptsDir())) {
            files = list.filter(p -> p.getFileName().toString().endsWith(".json")).sorted().toList();
        }
        if (files.size() < 20) {
            fail("expected at least 20 transcripts in " + transcriptsDir() + ", found " + files.size());
        }
        return files.stream().map(f -> DynamicTest.dynamicTest(f.getFileName().toString(), () -> {
            try (Run run = new Run(JSON.readTree(f.toFile()))) {
                run.play();
            }
        }));
    }

    // ------------------------------------------------------------------ the scripted server

    /** A frame the client sent, and when. */
    private record Sent(String text, JsonNode frame, long at, boolean page) {
    }

    private static final class ScriptedConnection implements Transport.Connection {
        final Transport.Listener listener;
        final LinkedBlockingDeque<Sent> sent = new LinkedBlockingDeque<>();
        volatile long closedAt;

        /** The last welcome sent named protocol 2: changes and ack go as binary pages. */
        boolean v2;

        ScriptedConnection(Transport.Listener listener) {
            this.listener = listener;
        }

        @Override
        public CompletableFuture<Void> send(String text) {
            JsonNode frame;
            try {
                frame = JSON.readTree(text);
            } catch (IOException e) {
                frame = TextNode.valueOf(text);
            }
            sent.add(new Sent(text, frame, System.nanoTime(), false));
            return CompletableFuture.completedFuture(null);
        }

        /** Protocol v2 pages are matched in their v1 JSON form (spec/vectors/sync/README.md). */
        @Override
        public CompletableFuture<Void> send(byte[] page) {
            String text;
            JsonNode frame;
            try {
                text = FrameCodec.encode(PageCodec.decode(page, 64 << 20));
                frame = JSON.readTree(text);
            } catch (RuntimeException | IOException e) {
                text = "an undecodable page: " + e.getMessage();
                frame = TextNode.valueOf(text);
            }
            sent.add(new Sent(text, frame, System.nanoTime(), true));
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public boolean binary() {
            return true;
        }

        @Override
        public void close() {
            if (closedAt == 0) {
                closedAt = System.nanoTime();
            }
        }
    }

    private record Attempt(String token, Transport.Listener listener, CompletableFuture<Transport.Connection> future, long at) {
    }

    private static final class ScriptedTransport implements Transport {
        final LinkedBlockingDeque<Attempt> attempts = new LinkedBlockingDeque<>();

        @Override
        public CompletableFuture<Connection> connect(URI uri, String bearerToken, Listener listener) {
            CompletableFuture<Connection> f = new CompletableFuture<>();
            attempts.add(new Attempt(bearerToken, listener, f, System.nanoTime()));
            return f;
        }
    }

    /** Every backoff draw is {@code jitter} of its range. */
    private static final class FixedJitter extends Random {
        private static final long serialVersionUID = 1L;
        private final double jitter;

        FixedJitter(double jitter) {
            this.jitter = jitter;
        }

        @Override
        public long nextLong(long bound) {
            return Math.min(bound - 1, (long) Math.floor(jitter * (bound - 1)));
        }

        @Override
        public double nextDouble() {
            return jitter;
        }
    }

    // ------------------------------------------------------------------ one transcript

    private static final class Run implements AutoCloseable {
        final JsonNode script;
        final Cairn cairn;
        final SyncClient sync;
        final ScriptedTransport transport = new ScriptedTransport();
        final Map<String, JsonNode> bound = new HashMap<>();
        final Map<String, CompletableFuture<Void>> syncNows = new HashMap<>();
        /** The save of the next syncNow is held on this until its releaseSave step; null: not held. */
        final java.util.concurrent.atomic.AtomicReference<CompletableFuture<Void>> holdNextSave = new java.util.concurrent.atomic.AtomicReference<>();
        /** The held saves by syncNow name. */
        final Map<String, CompletableFuture<Void>> heldSaves = new HashMap<>();
        /** The persistent-state handle the last write with saveDelayMillis or autoSave used, by key (for "save"). */
        final Map<String, PersistentState<JsonNode>> handles = new HashMap<>();
        final List<String> log = new ArrayList<>();
        /** The space handles the app got (space(S)): a dropped one stays dropped, as the app's handle would. */
        final Map<String, Space> spaceHandles = new HashMap<>();
        ScriptedConnection current;
        /**
         * Where afterMillis counts from: the last non-check step's end, when the client did what it
         * awaited, or, for a server action (send, close), just before it reached the client: the
         * client may start a timer while handling it, and a busy machine can delay this thread's
         * next clock read past it (a false "too early").
         */
        long prevEnd = System.nanoTime();
        long eventAt;
        int index;

        Run(JsonNode script) {
            this.script = script;
            JsonNode c = script.path("client");
            Cairn.Builder eb = Cairn.builder().inMemory().replicaId(c.path("replica").asText("dev-1"))
                    .maxFrameBytes(c.path("maxFrameBytes").asLong(1 << 20));
            c.path("sections").fields().forEachRemaining(e -> eb.section(e.getKey(),
                    "log".equals(e.getValue().asText()) ? SectionKind.LOG : SectionKind.MAP));
            this.cairn = eb.open();
            AtomicInteger tokens = new AtomicInteger();
            SyncClient.Builder b = SyncClient.builder(cairn, URI.create("ws://transcript.invalid/sync"), () -> "tok-" + tokens.incrementAndGet())
                    .transport(transport)
                    .batchSize(c.path("batchSize").asInt(500))
                    .maxProtocol(c.path("maxProtocol").asInt(1))
                    .user(c.path("user").asText("alice"))
                    .maxInFlightBatches(c.path("maxInFlight").asInt(4))
                    .backoff(ms(c, "backoffMinMillis", 20), ms(c, "backoffMaxMillis", 200))
                    .retry(ms(c, "retryMinMillis", 20), ms(c, "retryMaxMillis", 200))
                    .clockSkewRetry(ms(c, "skewRetryMinMillis", 100), ms(c, "skewRetryMaxMillis", 400))
                    .quotaRetry(ms(c, "quotaRetryMinMillis", 100), ms(c, "quotaRetryMaxMillis", 400))
                    .keepAlive(ms(c, "keepAliveMillis", 60_000))
                    .connectTimeout(ms(c, "connectTimeoutMillis", 5000))
                    .random(new FixedJitter(c.path("jitter").asDouble(0.5)))
                    .savedThrough(saved -> {
                        CompletableFuture<Void> gate = holdNextSave.getAndSet(null);
                        return gate == null ? saved : saved.thenCompose(v -> gate);
                    });
            // A transcript whose hello names spaces (PROTOCOL.md 8.1) runs a client that syncs spaces.
            boolean spaces = false;
            for (JsonNode step : script.get("steps")) {
                spaces |= "hello".equals(step.path("recv").path("type").asText()) && step.path("recv").has("spaces");
            }
            if (spaces) {
                b.syncSpaces("drop".equals(c.path("onSpaceLeft").asText("keep")) ? LeftSpaceCopy.DROP : LeftSpaceCopy.KEEP);
            }
            if (c.has("passphrase")) {
                List<String> e2e = new ArrayList<>();
                c.path("e2eSections").forEach(s -> e2e.add(s.asText()));
                b.endToEnd(E2eKey.derive(c.get("passphrase").asText().toCharArray(), "alice", 1000), e2e);
            }
            this.sync = b.build();
            sync.start();
        }

        private static Duration ms(JsonNode c, String name, long fallback) {
            return Duration.ofMillis(c.path(name).asLong(fallback));
        }

        void play() {
            for (JsonNode step : script.get("steps")) {
                index++;
                log.add(index + ": " + step);
                try {
                    run(step);
                } catch (AssertionError e) {
                    throw new AssertionError("step " + index + " " + step + ": " + e.getMessage() + "\n  status: " + sync.status()
                            + "\n  lastError: " + sync.status().lastError(), e);
                }
                if (!CHECKS.contains(step.fieldNames().next())) {
                    prevEnd = Math.max(prevEnd, eventAt != 0 ? eventAt : System.nanoTime());
                }
                eventAt = 0;
            }
        }

        private void run(JsonNode step) {
            // no lower bound without afterMillis: what the client did before this step counts too
            long after = step.has("afterMillis") ? prevEnd + TimeUnit.MILLISECONDS.toNanos(step.get("afterMillis").asLong()) : Long.MIN_VALUE;
            if (step.has("connect")) {
                connect(step, after);
            } else if (step.has("recv")) {
                recv(step.get("recv"), after, step.get("page"));
            } else if (step.has("send")) {
                eventAt = System.nanoTime(); // a server action counts from before the client has it (prevEnd)
                send(substitute(step.get("send")));
            } else if (step.has("sendPage")) {
                eventAt = System.nanoTime();
                requireConnection().listener.onBinary(java.util.HexFormat.of().parseHex(step.get("sendPage").asText()));
            } else if (step.has("sendRaw")) {
                eventAt = System.nanoTime();
                requireConnection().listener.onText(step.get("sendRaw").asText());
            } else if (step.has("close")) {
                ScriptedConnection c = requireConnection();
                eventAt = System.nanoTime();
                c.close();
                c.listener.onClosed(step.get("close").path("code").asInt(1000), step.get("close").path("reason").asText(""));
            } else if (step.has("expectClose")) {
                ScriptedConnection c = requireConnection();
                await("the client closes the socket", () -> c.closedAt != 0);
                if (c.closedAt < after) {
                    fail("the client closed the socket " + ago(c.closedAt) + " too early");
                }
                eventAt = c.closedAt;
            } else if (step.has("silence")) {
                silence(step.get("silence").asLong());
            } else if (step.has("wait")) {
                SyncTestSupport.pause(step.get("wait").asLong());
            } else if (step.has("write")) {
                write(step);
            } else if (step.has("status")) {
                JsonNode want = step.get("status");
                await("status " + want, () -> statusMatches(want));
            } else if (step.has("get")) {
                JsonNode want = step.get("get");
                await("value " + want, () -> valueMatches(want));
            } else if (step.has("cursor")) {
                long want = step.get("cursor").asLong();
                await("cursor " + want, () -> cairn.cursor() == want);
            } else if (step.has("syncNow")) {
                if (step.path("saveHeld").asBoolean(false)) {
                    CompletableFuture<Void> gate = new CompletableFuture<>();
                    heldSaves.put(step.get("syncNow").asText(), gate);
                    holdNextSave.set(gate);
                }
                syncNows.put(step.get("syncNow").asText(), sync.syncNow());
            } else if (step.has("releaseSave")) {
                CompletableFuture<Void> gate = heldSaves.get(step.get("releaseSave").asText());
                if (gate == null) {
                    fail("no syncNow with saveHeld named " + step.get("releaseSave").asText());
                }
                gate.complete(null);
            } else if (step.has("syncNowResult")) {
                syncNowResult(step.get("syncNowResult"));
            } else if (step.has("save")) {
                String key = step.get("save").asText();
                PersistentState<JsonNode> handle = handles.get(key);
                if (handle == null) {
                    fail("save: no write of key " + key + " through the persistent-state API");
                }
                handle.save().orTimeout(3, TimeUnit.SECONDS).join();
            } else if (step.has("spaceStatus")) {
                JsonNode want = step.get("spaceStatus");
                await("space status " + want, () -> spaceStatusMatches(want));
            } else if (step.has("dropRefused")) {
                space(step.get("dropRefused").path("space").asText()).dropRefused();
            } else if (step.has("presence")) {
                JsonNode p = step.get("presence");
                JsonNode state = p.get("state");
                space(p.path("space").asText()).setPresence(state == null || state.isNull() ? null : state.toString());
            } else if (step.has("peers")) {
                JsonNode want = step.get("peers");
                await("peers " + want, () -> peersMatch(want));
            } else if (step.has("goOffline")) {
                sync.goOffline();
            } else if (step.has("goOnline")) {
                sync.goOnline();
            } else {
                fail("unknown step");
            }
        }

        private void connect(JsonNode step, long after) {
            Attempt a = poll(transport.attempts, "the client opens a socket");
            if (a.at() < after) {
                fail("the client opened a socket " + ago(a.at()) + " too early");
            }
            if (step.has("token") && !step.get("token").asText().equals(a.token())) {
                fail("the client carried token " + a.token() + ", expected " + step.get("token").asText());
            }
            JsonNode refuse = step.get("refuse");
            if (refuse != null && refuse.path("unanswered").asBoolean()) {
                return; // the upgrade is never answered: only the client's own timer ends the attempt
            }
            if (refuse != null) {
                int status = refuse.path("status").asInt(401);
                JsonNode body = refuse.get("body");
                String text = body == null ? "{\"error\":\"" + defaultCode(status) + "\",\"message\":\"refused\"}"
                        : body.isTextual() ? body.asText() : body.toString();
                a.future().completeExceptionally(new SyncConnectException("the server refused the WebSocket upgrade with HTTP " + status,
                        status, text, null));
                return;
            }
            current = new ScriptedConnection(a.listener());
            a.future().complete(current);
        }

        private static String defaultCode(int status) {
            return switch (status) {
                case 400 -> "bad-request";
                case 401 -> "unauthorized";
                case 403 -> "forbidden-origin";
                case 429 -> "too-many-sockets";
                case 503 -> "server-full";
                default -> "error";
            };
        }

        /** A welcome naming protocol 2 switches the socket to pages: changes and ack frames are then sent as binary pages. */
        private void send(JsonNode frame) {
            ScriptedConnection c = requireConnection();
            String type = frame.path("type").asText();
            if ("welcome".equals(type)) {
                c.v2 = frame.path("protocol").asInt() == Frame.PROTOCOL_V2;
            }
            if (c.v2 && ("changes".equals(type) || "ack".equals(type))) {
                c.listener.onBinary(PageCodec.encode(FrameCodec.decode(frame.toString())));
            } else {
                c.listener.onText(frame.toString());
            }
        }

        private void recv(JsonNode pattern, long after, JsonNode page) {
            ScriptedConnection c = requireConnection();
            boolean wantPing = "ping".equals(pattern.path("type").asText());
            long deadline = System.nanoTime() + STEP_TIMEOUT_NANOS;
            while (true) {
                Sent s = pollUntil(c.sent, deadline);
                if (s == null) {
                    fail("the client sent no frame matching " + pattern);
                }
                if (!wantPing && "ping".equals(s.frame().path("type").asText())) {
                    continue;
                }
                Map<String, JsonNode> tentative = new HashMap<>(bound);
                if (!matches(pattern, s.frame(), tentative)) {
                    fail("the client sent " + s.text() + ", expected " + pattern);
                }
                if (s.at() < after) {
                    fail("the client sent " + s.text() + " " + ago(s.at()) + " too early");
                }
                if (page != null && page.asBoolean() != s.page()) {
                    fail("the client sent " + s.text() + (s.page() ? " as a binary page" : " as text") + ", expected it "
                            + (page.asBoolean() ? "as a binary page" : "as text"));
                }
                bound.putAll(tentative);
                eventAt = s.at();
                return;
            }
        }

        private void silence(long millis) {
            long start = System.nanoTime();
            SyncTestSupport.pause(millis);
            if (!transport.attempts.isEmpty()) {
                fail("the client opened a socket during the silence");
            }
            if (current != null) {
                for (Sent s : current.sent) {
                    if (s.at() >= start && !"ping".equals(s.frame().path("type").asText())) {
                        fail("the client sent " + s.text() + " during the silence");
                    }
                }
            }
        }

        private void write(JsonNode step) {
            JsonNode w = step.get("write");
            String refused = step.path("refused").asText(null);
            Space space = w.has("space") ? space(w.get("space").asText()) : null;
            Supplier<String> canonical = space == null ? cairn::canonicalState : space::canonicalState;
            Supplier<Integer> pending = space == null ? cairn::pendingChanges : space::pendingChanges;
            String before = canonical.get();
            int pendingBefore = pending.get();
            try {
                doWrite(w, step, space);
            } catch (ValidationException e) {
                // A local write of a server-only section (spaces, members): forbidden (PROTOCOL.md 8)
                String code = e.getMessage().startsWith("forbidden:") ? "forbidden" : "validation";
                if (!code.equals(refused)) {
                    throw new AssertionError("the write was refused (" + code + ", expected " + refused + "): " + e.getMessage(), e);
                }
                if (!before.equals(canonical.get()) || pendingBefore != pending.get()) {
                    fail("a refused write changed the state");
                }
                return;
            } catch (ChangeTooLargeException e) {
                if (refused == null) {
                    throw new AssertionError("the write was refused: " + e.getMessage(), e);
                }
                if (!refused.equals(e.code())) {
                    fail("the write was refused with " + e.code() + ", expected " + refused);
                }
                if (!before.equals(cairn.canonicalState()) || pendingBefore != cairn.pendingChanges()) {
                    fail("a refused write changed the state");
                }
                return;
            }
            if (refused != null) {
                fail("the write was not refused (expected " + refused + ")");
            }
        }

        private void doWrite(JsonNode w, JsonNode step, Space space) {
            if (space != null) {
                doSpaceWrite(w, space);
                return;
            }
            String op = w.path("op").asText();
            String section = w.path("section").asText();
            JsonNode value = w.has("valueBytes") ? TextNode.valueOf("x".repeat(w.get("valueBytes").asInt())) : w.get("value");
            switch (op) {
                case "set" -> {
                    if (step.has("saveDelayMillis") || step.has("autoSave")) {
                        StateOptions<JsonNode> options = StateOptions.defaults();
                        if (step.has("saveDelayMillis")) {
                            options = options.saveDelay(Duration.ofMillis(step.get("saveDelayMillis").asLong()));
                        }
                        if (step.has("autoSave")) {
                            options = options.autoSave(step.get("autoSave").asBoolean());
                        }
                        PersistentState<JsonNode> handle = cairn.state(w.get("key").asText(), JsonNode.class, null, options);
                        handles.put(w.get("key").asText(), handle);
                        handle.set(value);
                    } else {
                        cairn.map(section).put(w.get("key").asText(), value);
                    }
                }
                case "delete" -> cairn.map(section).remove(w.get("key").asText());
                case "append" -> cairn.log(section).append(w.get("stream").asText(), value);
                case "clear" -> {
                    if (w.has("stream")) {
                        cairn.clear(section, w.get("stream").asText());
                    } else {
                        cairn.clear(section);
                    }
                }
                default -> fail("unknown write op " + op);
            }
        }

        /** A write into a space (the app got the handle with space(S)): the same API as the user's. */
        private void doSpaceWrite(JsonNode w, Space space) {
            String section = w.path("section").asText();
            JsonNode value = w.get("value");
            switch (w.path("op").asText()) {
                case "set" -> space.map(section).put(w.get("key").asText(), value);
                case "delete" -> space.map(section).remove(w.get("key").asText());
                case "append" -> space.log(section).append(w.get("stream").asText(), value);
                case "clear" -> space.clear(section);
                default -> fail("unknown write op " + w.path("op").asText());
            }
        }

        private Space space(String id) {
            Space held = spaceHandles.get(id);
            if (held == null || (!held.isDropped() && held != cairn.space(id))) {
                held = cairn.space(id);
                spaceHandles.put(id, held);
            }
            return held;
        }

        private boolean spaceStatusMatches(JsonNode want) {
            String id = want.path("space").asText();
            SpaceStatus s = sync.spaceStatus(id);
            if (s == null) {
                return false;
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = want.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                JsonNode v = e.getValue();
                boolean ok = switch (e.getKey()) {
                    case "space" -> true;
                    case "state" -> v.asText().equals(s.state().name().toLowerCase().replace('_', '-'));
                    case "cursor" -> v.asLong() == s.cursor();
                    case "refused" -> v.asInt() == s.refused();
                    case "left" -> v.asText().equals(s.leftReason());
                    case "pending" -> {
                        Space space = space(id);
                        yield v.asInt() == (space.isDropped() ? 0 : space.pendingChanges());
                    }
                    default -> throw new AssertionError("unknown spaceStatus member " + e.getKey());
                };
                if (!ok) {
                    return false;
                }
            }
            return true;
        }

        private boolean peersMatch(JsonNode want) {
            List<Map<String, Object>> present = new ArrayList<>();
            for (SpacePresence p : space(want.path("space").asText()).presence()) {
                Map<String, Object> m = new java.util.LinkedHashMap<>();
                m.put("user", p.user());
                m.put("replica", p.replica());
                m.put("state", readTree(p.state()));
                present.add(m);
            }
            return matches(want.get("present"), JSON.valueToTree(present), new HashMap<>());
        }

        private boolean statusMatches(JsonNode want) {
            SyncStatus s = sync.status();
            for (Iterator<Map.Entry<String, JsonNode>> it = want.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                JsonNode v = e.getValue();
                boolean ok = switch (e.getKey()) {
                    case "state" -> v.asText().equals(s.state().name().toLowerCase().replace('_', '-'));
                    case "pending" -> v.asInt() == s.pendingChanges();
                    case "error" -> v.isNull() ? s.lastErrorCode() == null : v.asText().equals(s.lastErrorCode());
                    case "cursor" -> v.asLong() == s.cursor();
                    default -> throw new AssertionError("unknown status member " + e.getKey());
                };
                if (!ok) {
                    return false;
                }
            }
            return true;
        }

        private boolean valueMatches(JsonNode want) {
            String section = want.path("section").asText();
            Space space = want.has("space") ? space(want.get("space").asText()) : null;
            if (space != null && space.isDropped()) {
                return want.path("absent").asBoolean(false) || (want.has("values") && want.get("values").isEmpty());
            }
            if (want.has("stream")) {
                LogSection log = space == null ? cairn.log(section) : space.log(section);
                List<JsonNode> values = new ArrayList<>();
                for (LogEntry e : log.entries(want.get("stream").asText())) {
                    values.add(readTree(e.value()));
                }
                return matches(want.get("values"), JSON.valueToTree(values), new HashMap<>());
            }
            String json = (space == null ? cairn.map(section) : space.map(section)).json(want.path("key").asText());
            if (want.path("absent").asBoolean(false)) {
                return json == null;
            }
            return json != null && matches(want.get("value"), readTree(json), new HashMap<>());
        }

        private void syncNowResult(JsonNode want) {
            CompletableFuture<Void> f = syncNows.get(want.path("id").asText());
            if (f == null) {
                fail("no syncNow named " + want.path("id").asText());
            }
            await("syncNow " + want.path("id").asText() + " settles", f::isDone);
            Throwable error = null;
            try {
                f.join();
            } catch (CompletionException e) {
                error = e.getCause();
            } catch (RuntimeException e) {
                error = e;
            }
            if (want.path("ok").asBoolean()) {
                if (error != null) {
                    fail("syncNow failed: " + error);
                }
                return;
            }
            if (error == null) {
                fail("syncNow succeeded, expected it to fail with " + want.path("error").asText());
            }
            String code = error instanceof SyncException se ? se.code() : null;
            if (want.has("error") && !want.get("error").asText().equals(code)) {
                fail("syncNow failed with code " + code + " (" + error.getMessage() + "), expected " + want.get("error").asText());
            }
        }

        // -------------------------------------------------------------- helpers

        private ScriptedConnection requireConnection() {
            if (current == null) {
                fail("no socket is open");
            }
            return current;
        }

        private JsonNode substitute(JsonNode node) {
            if (node.isTextual() && node.asText().startsWith("$")) {
                JsonNode v = bound.get(node.asText());
                if (v == null) {
                    fail("unbound " + node.asText());
                }
                return v;
            }
            if (node.isObject()) {
                ObjectNode out = JSON.createObjectNode();
                node.fields().forEachRemaining(e -> out.set(e.getKey(), substitute(e.getValue())));
                return out;
            }
            if (node.isArray()) {
                var out = JSON.createArrayNode();
                node.forEach(n -> out.add(substitute(n)));
                return out;
            }
            return node;
        }

        /** The README's matching: same members, "*" matches anything, "$name" binds once. */
        static boolean matches(JsonNode pattern, JsonNode actual, Map<String, JsonNode> bindings) {
            if (pattern.isTextual()) {
                String p = pattern.asText();
                if (p.equals("*")) {
                    return true;
                }
                if (p.startsWith("$")) {
                    JsonNode was = bindings.get(p);
                    if (was == null) {
                        if (actual == null || actual.isMissingNode()) {
                            return false;
                        }
                        bindings.put(p, actual);
                        return true;
                    }
                    return was.equals(actual);
                }
            }
            if (actual == null || actual.isMissingNode()) {
                return false;
            }
            if (pattern.isObject()) {
                if (!actual.isObject()) {
                    return false;
                }
                for (Iterator<String> it = actual.fieldNames(); it.hasNext(); ) {
                    if (!pattern.has(it.next())) {
                        return false;
                    }
                }
                for (Iterator<Map.Entry<String, JsonNode>> it = pattern.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = it.next();
                    JsonNode a = actual.get(e.getKey());
                    if (a == null && e.getValue().isTextual() && e.getValue().asText().equals("*")) {
                        continue;
                    }
                    if (!matches(e.getValue(), a, bindings)) {
                        return false;
                    }
                }
                return true;
            }
            if (pattern.isArray()) {
                if (!actual.isArray() || actual.size() != pattern.size()) {
                    return false;
                }
                for (int i = 0; i < pattern.size(); i++) {
                    if (!matches(pattern.get(i), actual.get(i), bindings)) {
                        return false;
                    }
                }
                return true;
            }
            if (pattern.isNumber() && actual.isNumber()) {
                return pattern.decimalValue().compareTo(actual.decimalValue()) == 0;
            }
            return pattern.equals(actual);
        }

        private static JsonNode readTree(String json) {
            try {
                return JSON.readTree(json);
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        }

        private static <T> T poll(LinkedBlockingDeque<T> queue, String what) {
            T t = pollUntil(queue, System.nanoTime() + STEP_TIMEOUT_NANOS);
            if (t == null) {
                fail("timed out: " + what);
            }
            return t;
        }

        private static <T> T pollUntil(LinkedBlockingDeque<T> queue, long deadline) {
            try {
                return queue.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }

        private static void await(String what, Supplier<Boolean> condition) {
            long deadline = System.nanoTime() + STEP_TIMEOUT_NANOS;
            while (!condition.get()) {
                if (System.nanoTime() > deadline) {
                    fail("timed out waiting for " + what);
                }
                SyncTestSupport.pause(2);
            }
        }

        private String ago(long at) {
            return (at - prevEnd) / 1_000_000 + " ms after the previous step ended:";
        }

        @Override
        public void close() {
            try {
                sync.close();
            } finally {
                cairn.close();
            }
        }
    }
}
