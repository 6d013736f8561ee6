package dev.cairn.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The V8 CPU profile of the page's shared worker (where the browser client syncs and writes
 * IndexedDB), which the page's profile ({@link Chromium#startProfiler}) does not see. It speaks
 * the DevTools protocol on the browser's own socket (ChromeDriver's {@code debuggerAddress}):
 * shared workers started from now on are attached paused, the profiler is started, then they run.
 */
final class WorkerProfiler implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration ANSWER_WAIT = Duration.ofSeconds(30);

    private final WebSocket socket;
    private final AtomicInteger ids = new AtomicInteger();
    private final Map<Integer, CompletableFuture<Map<String, Object>>> answers = new ConcurrentHashMap<>();
    /** The session of the shared worker being profiled: the first one that attaches claims it. */
    private final AtomicReference<String> session = new AtomicReference<>();

    /** Connects to the browser at {@code debuggerAddress} ("host:port") and waits for shared workers. */
    WorkerProfiler(String debuggerAddress) throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        String version = http.send(HttpRequest.newBuilder(URI.create("http://" + debuggerAddress + "/json/version")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        String url = (String) JSON.readValue(version, Map.class).get("webSocketDebuggerUrl");
        socket = http.newWebSocketBuilder().buildAsync(URI.create(url), new Listener()).get(10, TimeUnit.SECONDS);
        send(null, "Target.setAutoAttach", Map.of("autoAttach", true, "waitForDebuggerOnStart", true, "flatten", true,
                "filter", List.of(Map.of("type", "shared_worker"), Map.of("type", "page", "exclude", true), Map.of("exclude", true))));
    }

    /** Stops the worker's profiler; its profile (nodes, samples, timeDeltas), or null if no shared worker started. */
    @SuppressWarnings("unchecked")
    Map<String, Object> stop() throws Exception {
        String s = session.get();
        if (s == null) {
            return null;
        }
        return (Map<String, Object>) send(s, "Profiler.stop", Map.of()).get("profile");
    }

    private Map<String, Object> send(String sessionId, String method, Map<String, Object> params) throws Exception {
        int id = ids.incrementAndGet();
        CompletableFuture<Map<String, Object>> answer = new CompletableFuture<>();
        answers.put(id, answer);
        Map<String, Object> msg = sessionId == null ? Map.of("id", id, "method", method, "params", params)
                : Map.of("id", id, "method", method, "params", params, "sessionId", sessionId);
        synchronized (socket) {
            socket.sendText(JSON.writeValueAsString(msg), true).get(10, TimeUnit.SECONDS);
        }
        Map<String, Object> reply = answer.get(ANSWER_WAIT.toSeconds(), TimeUnit.SECONDS);
        if (reply.containsKey("error")) {
            throw new IllegalStateException(method + ": " + reply.get("error"));
        }
        return reply.containsKey("result") ? (Map<String, Object>) (Map<?, ?>) reply.get("result") : Map.of();
    }

    /** A shared worker attached (paused): profile it from its first line, then let it run. */
    @SuppressWarnings("unchecked")
    private void attached(Map<String, Object> params) {
        String sessionId = (String) params.get("sessionId");
        Map<String, Object> info = (Map<String, Object>) params.get("targetInfo");
        Thread starter = new Thread(() -> {
            try {
                if ("shared_worker".equals(info.get("type")) && session.compareAndSet(null, sessionId)) {
                    send(sessionId, "Profiler.enable", Map.of());
                    send(sessionId, "Profiler.setSamplingInterval", Map.of("interval", 200));
                    send(sessionId, "Profiler.start", Map.of());
                }
            } catch (Exception e) {
                Ctx.log("worker profiler: could not start on %s: %s", info.get("url"), e.getMessage());
            } finally {
                try {
                    send(sessionId, "Runtime.runIfWaitingForDebugger", Map.of()); // never left paused
                } catch (Exception e) {
                    Ctx.log("worker profiler: could not let %s run: %s", info.get("url"), e.getMessage());
                }
            }
        }, "worker-profiler");
        starter.setDaemon(true);
        starter.start(); // not on the socket's listener thread, which must go on reading the answers
    }

    @Override
    public void close() {
        socket.abort();
    }

    private final class Listener implements WebSocket.Listener {
        private final StringBuilder text = new StringBuilder();

        @Override
        @SuppressWarnings("unchecked")
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            text.append(data);
            if (last) {
                try {
                    Map<String, Object> msg = JSON.readValue(text.toString(), Map.class);
                    if (msg.get("id") instanceof Number n) {
                        CompletableFuture<Map<String, Object>> answer = answers.remove(n.intValue());
                        if (answer != null) {
                            answer.complete(msg);
                        }
                    } else if ("Target.attachedToTarget".equals(msg.get("method"))) {
                        attached((Map<String, Object>) msg.get("params"));
                    }
                } catch (Exception e) {
                    Ctx.log("worker profiler: unreadable DevTools message: %s", e.getMessage());
                }
                text.setLength(0);
            }
            ws.request(1);
            return null;
        }
    }
}
