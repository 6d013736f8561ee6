package dev.cairn.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.FrameCodec;
import dev.cairn.engine.protocol.PageCodec;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * W8 space fan-out (issue 18): one shared space with {@code w8-members} members (the owner
 * included), each with {@code w8-devices} lean protocol devices (as in {@link W5}: one Vert.x
 * WebSocket each, speaking PROTOCOL.md 7 and 8 by hand, hello with {@code "spaces":{}}) that are live
 * in the space. One more device of the owner writes {@code w8-n} changes to the space's
 * {@code state} section one at a time; each waits until every receiving device has it in a space
 * page and the writer has its ack. Reported: the latency of every delivery (push sent → page
 * decoded on a receiving device) as p50/p99, and per change the time until the last device has it
 * (p50/p99). The first tenth of the changes warm up and are not measured.
 */
final class W8 {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static final long MAX_PAGE = 64L << 20;

    private W8() {
    }

    static void run(Ctx ctx) throws Exception {
        int members = ctx.args.integer("w8-members");
        int devices = ctx.args.integer("w8-devices");
        int n = ctx.args.integer("w8-n");
        for (int run = 1; run <= ctx.args.integer("runs"); run++) {
            for (String store : ctx.args.stores()) {
                try (Site site = Site.start(ctx, store, 1)) {
                    WebSocketClient client = ctx.vertx.createWebSocketClient(new WebSocketClientOptions()
                            .setMaxConnections(1_000_000).setConnectTimeout(60_000).setMaxMessageSize(8 << 20));
                    try {
                        Map<String, Object> m = fanout(client, site, members, devices, n, "w8r" + run + "-" + store);
                        ctx.report.add("W8 space fan-out", "cairn " + store + ", " + members + " members x " + devices + " devices", run, m);
                    } finally {
                        Ctx.await(client.close());
                    }
                }
            }
        }
    }

    private static Map<String, Object> fanout(WebSocketClient client, Site site, int members, int devices, int n, String tag) throws Exception {
        URI sync = site.syncUri(0);
        URI api = URI.create("http://" + sync.getHost() + ":" + sync.getPort());
        String owner = tag + "-m0";
        String space = post(api, owner, "/api/spaces", "{\"name\":\"w8\"}").get("id").asText();
        for (int i = 1; i < members; i++) {
            post(api, owner, "/api/spaces/" + space + "/members", "{\"user\":\"" + tag + "-m" + i + "\",\"role\":\"editor\"}");
        }
        int receivers = members * devices;
        AtomicReference<Probe> probe = new AtomicReference<>();
        List<WebSocket> open = new ArrayList<>();
        try {
            for (int from = 0; from < receivers; from += 50) {
                List<Future<WebSocket>> wave = new ArrayList<>();
                for (int i = from; i < Math.min(receivers, from + 50); i++) {
                    int idx = i;
                    wave.add(live(client, sync, tag + "-m" + (i / devices), "d" + i, space, page -> {
                        Probe p = probe.get();
                        if (p != null && page instanceof Frame.Changes c && space.equals(c.space())) {
                            for (Frame.SeqChange sc : c.changes()) {
                                if (sc.change() instanceof Change.Put put && put.key().equals(p.key)) {
                                    p.arrived(idx);
                                }
                            }
                        }
                    }));
                }
                open.addAll(Ctx.await(Future.all(wave)).list());
            }
            AtomicReference<Promise<Void>> acked = new AtomicReference<>();
            WebSocket writer = Ctx.await(live(client, sync, owner, "writer", space, frame -> {
                if (frame instanceof Frame.Ack) {
                    acked.get().tryComplete();
                }
            }));
            open.add(writer);
            int warm = Math.max(1, n / 10);
            long[] deliveries = new long[(n - warm) * receivers];
            long[] toLast = new long[n - warm];
            for (int i = 0; i < n; i++) {
                String key = "item-" + (i % 200) + "-" + i;
                Probe p = new Probe(key, receivers);
                probe.set(p);
                acked.set(Promise.promise());
                Change change = new Change.Put("state", key, "{\"done\":" + (i % 2 == 0) + "}",
                        new Stamp(Stamp.pack(System.currentTimeMillis(), 0), "writer"));
                p.start = System.nanoTime();
                Ctx.await(writer.writeBinaryMessage(Buffer.buffer(PageCodec.encode(new Frame.Push(i, List.of(change), space)))));
                if (!p.all.await(60, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("change " + i + ": " + (receivers - p.all.getCount()) + " of " + receivers + " devices had it");
                }
                Ctx.await(acked.get().future());
                if (i >= warm) {
                    int j = i - warm;
                    long last = 0;
                    for (int d = 0; d < receivers; d++) {
                        long t = p.at[d] - p.start;
                        deliveries[j * receivers + d] = t;
                        last = Math.max(last, t);
                    }
                    toLast[j] = last;
                }
            }
            Arrays.sort(deliveries);
            Arrays.sort(toLast);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("members", members);
            m.put("devices", receivers);
            m.put("changes", n - warm);
            m.put("p50 ms", pct(deliveries, 0.50));
            m.put("p99 ms", pct(deliveries, 0.99));
            m.put("to last device p50 ms", pct(toLast, 0.50));
            m.put("to last device p99 ms", pct(toLast, 0.99));
            Ctx.log("W8 %s: %d members x %d devices: p50 %.2f ms, p99 %.2f ms, to the last device p50 %.2f ms",
                    site.store, members, receivers / members, pct(deliveries, 0.5), pct(deliveries, 0.99), pct(toLast, 0.5));
            return m;
        } finally {
            for (WebSocket ws : open) {
                ws.close();
            }
        }
    }

    private static double pct(long[] sorted, double q) {
        return sorted[Math.min(sorted.length - 1, (int) Math.floor(q * sorted.length))] / 1e6;
    }

    /** One change on its way: when it was pushed, and when each device had it. */
    private static final class Probe {
        final String key;
        final long[] at;
        final CountDownLatch all;
        volatile long start;

        Probe(String key, int devices) {
            this.key = key;
            this.at = new long[devices];
            this.all = new CountDownLatch(devices);
        }

        void arrived(int device) {
            long now = System.nanoTime();
            synchronized (at) {
                if (at[device] == 0) {
                    at[device] = now;
                    all.countDown();
                }
            }
        }
    }

    /**
     * A lean device of {@code user}, live in {@code space}: the upgrade, a v2 hello with spaces,
     * and the space's {@code caught-up}; then every frame (pages decoded) goes to {@code onFrame}.
     */
    private static Future<WebSocket> live(WebSocketClient client, URI sync, String user, String replica, String space,
                                          java.util.function.Consumer<Frame> onFrame) {
        return client.connect(new WebSocketConnectOptions().setHost(sync.getHost()).setPort(sync.getPort()).setURI("/sync")
                        .addHeader("Authorization", "Bearer " + Tokens.mint(user)))
                .compose(ws -> {
                    Promise<WebSocket> ready = Promise.promise();
                    ws.textMessageHandler(text -> {
                        Frame f = FrameCodec.decode(text);
                        if (f instanceof Frame.CaughtUp c && space.equals(c.space())) {
                            ready.tryComplete(ws);
                        } else if (f instanceof Frame.Error || f instanceof Frame.SpaceLeft) {
                            ready.tryFail(user + ": " + text);
                        } else if (ready.future().isComplete()) {
                            onFrame.accept(f);
                        }
                    });
                    ws.binaryMessageHandler(bytes -> {
                        if (ready.future().isComplete()) {
                            onFrame.accept(PageCodec.decode(bytes.getBytes(), MAX_PAGE));
                        }
                    });
                    ws.closeHandler(v -> ready.tryFail(user + ": closed before caught-up"));
                    ws.writeTextMessage(FrameCodec.encode(new Frame.Hello(1, replica, 0, List.of(1, 2), Map.of())));
                    return ready.future();
                });
    }

    private static JsonNode post(URI api, String user, String path, String body) throws Exception {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(api.resolve(path))
                .header("Authorization", "Bearer " + Tokens.mint(user)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200 && r.statusCode() != 201) {
            throw new IllegalStateException("POST " + path + ": " + r.statusCode() + " " + r.body());
        }
        return JSON.readTree(r.body());
    }
}
