package dev.cairn.server.faults;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.codec.ChangeJson;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.crdt.Change;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One browser device of {@link BrowserClientFaultIT}: the real browser client in a Node process
 * ({@code demo-web/src/it/fault/device.mjs}: cairn.js with IndexedDB from fake-indexeddb, Web
 * Storage, and {@code ws} as the WebSocket). Keeps what the device reported: every change it
 * wrote (by stamp), the stamps the server acknowledged on the wire (a push and its ack on one
 * socket), close codes, error frames and error events.
 */
final class NodeDevice implements AutoCloseable {

    /** The device's answer to a {@code state} command. */
    record State(String canonicalSha256, long canonicalBytes, int pending, int unsaved, String status, long cursor, String lastError) {
    }

    final String name;
    private final Process process;
    private final OutputStream stdin;
    private final Path stderr;
    private final Map<String, Change> written = new ConcurrentHashMap<>();
    private final Set<String> acked = ConcurrentHashMap.newKeySet();
    private final Set<String> pushedOnce = ConcurrentHashMap.newKeySet();
    final AtomicLong resent = new AtomicLong();
    final AtomicLong pushes = new AtomicLong();
    final AtomicLong maxPushBytes = new AtomicLong();
    /** The largest push frame since the last 1009 close: where the push budget settled. */
    final AtomicLong maxPushBytesSince1009 = new AtomicLong();
    final AtomicLong welcomes = new AtomicLong();
    /** Welcomes that chose protocol 2 (binary pages): the wire tap must have read pages, not only text. */
    final AtomicLong welcomesV2 = new AtomicLong();
    final Map<Integer, AtomicLong> closes = new ConcurrentHashMap<>();
    final Map<String, AtomicLong> refusals = new ConcurrentHashMap<>();
    final Map<String, AtomicLong> errors = new ConcurrentHashMap<>();
    private final BlockingQueue<JsonNode> answers = new ArrayBlockingQueue<>(16);
    private final AtomicLong nextId = new AtomicLong();
    private volatile String fatal;
    private volatile boolean ready;
    private final Thread reader;

    private NodeDevice(String name, Process process, Path stderr) {
        this.name = name;
        this.process = process;
        this.stdin = process.getOutputStream();
        this.stderr = stderr;
        this.reader = new Thread(this::read, "node-device-" + name);
        reader.setDaemon(true);
        reader.start();
    }

    /** Starts {@code node device.mjs} in {@code demoWeb} and waits until the client is open. */
    static NodeDevice start(String node, Path demoWeb, Path logDir, String name, String url, String token, String user, long seed)
            throws IOException, InterruptedException {
        Path err = logDir.resolve(name + ".stderr");
        ProcessBuilder pb = new ProcessBuilder(node, "src/it/fault/device.mjs", "--url", url, "--token", token, "--user", user,
                "--replica", name, "--seed", Long.toString(seed))
                .directory(demoWeb.toFile()).redirectError(err.toFile());
        NodeDevice d = new NodeDevice(name, pb.start(), err);
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!d.ready) {
            if (!d.process.isAlive() || System.nanoTime() > end || d.fatal != null) {
                d.process.destroyForcibly();
                throw new AssertionError("the Node device " + name + " did not start (" + (d.process.isAlive() ? "no ready line" : "exit " + d.process.waitFor())
                        + "); fatal: " + d.fatal + "; stderr:\n" + d.stderrText());
            }
            Thread.sleep(20);
        }
        return d;
    }

    private void read() {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                JsonNode e;
                try {
                    e = Json.MAPPER.readTree(line);
                } catch (IOException ex) {
                    fatal = "not a JSON line: " + line;
                    continue;
                }
                switch (e.path("ev").asText()) {
                    case "ready" -> ready = true;
                    case "wrote" -> {
                        Change c = ChangeJson.decode(e.path("change").asText());
                        written.put(c.stamp().toString(), c);
                    }
                    case "pushed" -> {
                        pushes.incrementAndGet();
                        maxPushBytes.accumulateAndGet(e.path("bytes").asLong(), Math::max);
                        maxPushBytesSince1009.accumulateAndGet(e.path("bytes").asLong(), Math::max);
                        for (JsonNode s : e.path("stamps")) {
                            if (!pushedOnce.add(s.asText())) {
                                resent.incrementAndGet();
                            }
                        }
                    }
                    case "acked" -> e.path("stamps").forEach(s -> acked.add(s.asText()));
                    case "welcome" -> {
                        welcomes.incrementAndGet();
                        if (e.path("protocol").asInt() == 2) {
                            welcomesV2.incrementAndGet();
                        }
                    }
                    case "closed" -> {
                        closes.computeIfAbsent(e.path("code").asInt(), k -> new AtomicLong()).incrementAndGet();
                        if (e.path("code").asInt() == 1009) {
                            maxPushBytesSince1009.set(0);
                        }
                    }
                    case "refused" -> refusals.computeIfAbsent(e.path("code").asText(), k -> new AtomicLong()).incrementAndGet();
                    case "error" -> errors.computeIfAbsent(e.path("code").asText(), k -> new AtomicLong()).incrementAndGet();
                    case "state" -> answers.offer(e);
                    case "fatal" -> fatal = e.path("message").asText();
                    default -> {
                        // status, bye: not needed for the checks
                    }
                }
            }
        } catch (IOException e) {
            if (process.isAlive()) {
                fatal = "reading the device's output failed: " + e;
            }
        }
    }

    private synchronized void send(String json) {
        try {
            stdin.write((json + "\n").getBytes(StandardCharsets.UTF_8));
            stdin.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("the Node device " + name + " is gone (" + describeExit() + "); stderr:\n" + stderrText(), e);
        }
    }

    /** {@code n} seeded random changes. */
    void write(int n) {
        send("{\"cmd\":\"write\",\"n\":" + n + "}");
    }

    /** {@code n} chat appends of about {@code bytes} bytes each. */
    void burst(int n, int bytes) {
        send("{\"cmd\":\"burst\",\"n\":" + n + ",\"bytes\":" + bytes + "}");
    }

    /** The SHA-256 (hex) of the UTF-8 bytes of a canonical state: what {@link State} carries instead of the state itself. */
    static String sha256(String canonical) {
        try {
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(canonical.getBytes(StandardCharsets.UTF_8)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    /** The device's canonical state (its digest: after many storms the state is tens of MB), outbox and sync status now. */
    State state() {
        checkAlive();
        long id = nextId.incrementAndGet();
        answers.clear();
        send("{\"cmd\":\"state\",\"id\":" + id + "}");
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        try {
            while (System.nanoTime() < end) {
                JsonNode a = answers.poll(100, TimeUnit.MILLISECONDS);
                if (a != null && a.path("id").asLong() == id) {
                    return new State(a.path("canonicalSha256").asText(), a.path("canonicalBytes").asLong(), a.path("pending").asInt(), a.path("unsaved").asInt(),
                            a.path("status").asText(), a.path("cursor").asLong(), a.path("lastError").isNull() ? null : a.path("lastError").asText());
                }
                checkAlive();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
        throw new AssertionError("the Node device " + name + " did not answer a state command within 30 s");
    }

    void checkAlive() {
        if (fatal != null) {
            throw new AssertionError("the Node device " + name + " failed: " + fatal + "\nstderr:\n" + stderrText());
        }
        if (!process.isAlive()) {
            throw new AssertionError("the Node device " + name + " died (" + describeExit() + "); stderr:\n" + stderrText());
        }
    }

    /** Every change it wrote (a copy). */
    List<Change> written() {
        return new ArrayList<>(written.values());
    }

    int writtenCount() {
        return written.size();
    }

    /** The changes the server acknowledged (every acked stamp is one this device wrote). */
    List<Change> acknowledged() {
        List<Change> out = new ArrayList<>();
        for (String stamp : acked) {
            Change c = written.get(stamp);
            if (c == null) {
                throw new AssertionError(name + ": the server acknowledged stamp " + stamp + ", which the device never reported writing");
            }
            out.add(c);
        }
        return out;
    }

    int acknowledgedCount() {
        return acked.size();
    }

    long closes(int code) {
        AtomicLong n = closes.get(code);
        return n == null ? 0 : n.get();
    }

    String summary() {
        return name + "{written=" + written.size() + ", acked=" + acked.size() + ", pushes=" + pushes + ", resent=" + resent
                + ", maxPushBytes=" + maxPushBytes + ", maxPushBytesSince1009=" + maxPushBytesSince1009 + ", welcomes=" + welcomes + " (v2 " + welcomesV2 + ")" + ", closes=" + new TreeMap<>(closes)
                + ", refused=" + new TreeMap<>(refusals) + ", errors=" + new TreeMap<>(errors) + "}";
    }

    String stderrText() {
        try {
            String text = Files.readString(stderr);
            return text.length() > 8_000 ? "..." + text.substring(text.length() - 8_000) : text;
        } catch (IOException e) {
            return "(no stderr: " + e + ")";
        }
    }

    private String describeExit() {
        return process.isAlive() ? "still running" : "exit code " + process.exitValue();
    }

    @Override
    public void close() {
        try {
            if (process.isAlive()) {
                send("{\"cmd\":\"exit\"}");
                if (!process.waitFor(10, TimeUnit.SECONDS)) {
                    process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            }
        } catch (RuntimeException | InterruptedException e) {
            process.destroyForcibly();
        }
    }
}
