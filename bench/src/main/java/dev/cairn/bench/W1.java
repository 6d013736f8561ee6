package dev.cairn.bench;

import dev.cairn.engine.ChangeEvent;
import dev.cairn.engine.MapSection;
import dev.cairn.engine.Subscription;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.FrameCodec;
import dev.cairn.engine.section.StandardSections;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.HdrHistogram.Histogram;

/**
 * W1 fan-out latency, as the peers' w1.js: one user, devices A and B (real engines with sync
 * clients, in this JVM, so one clock measures both ends) connected to one server JVM. A makes
 * {@code w1-n} changes one at a time: {@code ui["card-" + (i % w1-keys)] = card(i)}; after each,
 * wait until B's change listener sees exactly that value arrive from the server (the JSON text A
 * wrote). Latency runs from just before A's put to B's listener. Before the measured loop,
 * {@code w1-keys} unmeasured changes warm the path up (the peers ran none; their JIT is V8's).
 *
 * <p>Ceiling, same invocation: {@link Relay}, a bare Vert.x WebSocket relay in its own JVM; two
 * bare JDK WebSockets (the engine's transport stack) send the same push frame text A's client
 * would send, one at a time, and the time until the other socket has it is measured the same way.
 */
final class W1 {

    private W1() {
    }

    static void run(Ctx ctx) throws Exception {
        int n = ctx.args.integer("w1-n");
        int keys = ctx.args.integer("w1-keys");
        boolean durable = ctx.args.string("w1-device").equals("durable");
        int runs = ctx.args.integer("runs");
        for (int run = 1; run <= runs; run++) {
            for (String store : ctx.args.stores()) {
                try (Site site = Site.start(ctx, store, 1)) {
                    ctx.report.add("W1 fan-out latency", "cairn " + store + (durable ? "" : ", memory devices"), run,
                            cairn(ctx, site, n, keys, durable, run));
                }
            }
            if (ctx.args.bool("ceilings")) {
                ctx.report.add("W1 fan-out latency", "ceiling: bare Vert.x WebSocket relay (own JVM), JDK WebSocket clients", run,
                        relay(ctx, n, keys));
            }
        }
    }

    private static Map<String, Object> cairn(Ctx ctx, Site site, int n, int keys, boolean durable, int run) throws Exception {
        String user = "w1-user-" + run;
        Path dirA = durable ? ctx.newDir("w1-a-") : null;
        Path dirB = durable ? ctx.newDir("w1-b-") : null;
        try (Device a = Device.open("w1-a", dirA, site.syncUri(0), user).start();
             Device b = Device.open("w1-b", dirB, site.syncUri(0), user).start()) {
            a.awaitLive(30_000);
            b.awaitLive(30_000);
            MapSection map = a.cairn.map(StandardSections.UI);
            AtomicReference<String> expectedKey = new AtomicReference<>();
            AtomicReference<String> expectedJson = new AtomicReference<>();
            AtomicReference<CompletableFuture<Long>> waiter = new AtomicReference<>();
            Subscription sub = b.cairn.onChange((ChangeEvent ev) -> {
                if (ev.isRemote() && ev.change() instanceof Change.Put p && p.section().equals(StandardSections.UI)
                        && p.key().equals(expectedKey.get()) && expectedJson.get().equals(p.value())) {
                    CompletableFuture<Long> w = waiter.get();
                    if (w != null) {
                        w.complete(System.nanoTime());
                    }
                }
            });
            try {
                Histogram h = new Histogram(TimeUnit.SECONDS.toNanos(60), 3);
                for (int i = 0; i < keys; i++) { // warm-up, not measured
                    once(map, expectedKey, expectedJson, waiter, "card-" + i, Values.card(-1 - i));
                }
                long start = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    h.recordValue(once(map, expectedKey, expectedJson, waiter, "card-" + (i % keys), Values.card(i)));
                }
                long wall = System.nanoTime() - start;
                Map<String, Object> m = latencies(h, n, wall);
                m.put("server RSS MiB", site.rssKiB() / 1024.0);
                Ctx.log("W1 cairn %s run %d: p50 %.3f ms, p99 %.3f ms", site.store, run, m.get("p50 ms"), m.get("p99 ms"));
                return m;
            } finally {
                sub.close();
            }
        }
    }

    private static long once(MapSection map, AtomicReference<String> key, AtomicReference<String> json,
                             AtomicReference<CompletableFuture<Long>> waiter, String k, Object value) throws Exception {
        String text = Json.MAPPER.writeValueAsString(value);
        CompletableFuture<Long> done = new CompletableFuture<>();
        key.set(k);
        json.set(text);
        waiter.set(done);
        long t0 = System.nanoTime();
        map.put(k, value);
        long t1 = done.get(30, TimeUnit.SECONDS);
        if (!text.equals(map.json(k))) {
            throw new IllegalStateException("A stored " + map.json(k) + ", expected " + text);
        }
        return t1 - t0;
    }

    static Map<String, Object> latencies(Histogram h, int n, long wallNanos) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("changes", n);
        m.put("p50 ms", h.getValueAtPercentile(50) / 1e6);
        m.put("p90 ms", h.getValueAtPercentile(90) / 1e6);
        m.put("p99 ms", h.getValueAtPercentile(99) / 1e6);
        m.put("max ms", h.getMaxValue() / 1e6);
        m.put("wall ms", wallNanos / 1e6);
        return m;
    }

    private static Map<String, Object> relay(Ctx ctx, int n, int keys) throws Exception {
        try (ServerProcess relay = ServerProcess.startMain(ctx.benchClasspath(), Relay.class.getName(), Map.of(), List.of(),
                ctx.work.resolve("logs/relay-" + System.nanoTime() + ".log"))) {
            AtomicReference<String> expected = new AtomicReference<>();
            AtomicReference<CompletableFuture<Long>> waiter = new AtomicReference<>();
            java.net.URI uri = java.net.URI.create("ws://127.0.0.1:" + relay.port() + "/sync");
            try (RawWs a = RawWs.connect(uri, null, text -> { });
                 RawWs b = RawWs.connect(uri, null, text -> {
                     if (text.equals(expected.get())) {
                         waiter.get().complete(System.nanoTime());
                     }
                 })) {
                Thread.sleep(200); // both sockets registered on the relay
                Histogram h = new Histogram(TimeUnit.SECONDS.toNanos(60), 3);
                long hlc = Stamp.pack(System.currentTimeMillis(), 0);
                long start = 0;
                for (int i = -keys; i < n; i++) {
                    if (i == 0) {
                        start = System.nanoTime();
                    }
                    String value = Json.MAPPER.writeValueAsString(Values.card(i));
                    String frame = FrameCodec.encode(new Frame.Push(i + keys + 1, List.of(new Change.Put(StandardSections.UI,
                            "card-" + Math.floorMod(i, keys), value, new Stamp(hlc + i + keys, "w1-a")))));
                    CompletableFuture<Long> done = new CompletableFuture<>();
                    expected.set(frame);
                    waiter.set(done);
                    long t0 = System.nanoTime();
                    a.send(frame);
                    long t1 = done.get(30, TimeUnit.SECONDS);
                    if (i >= 0) {
                        h.recordValue(t1 - t0);
                    }
                }
                Map<String, Object> m = latencies(h, n, System.nanoTime() - start);
                m.put("server RSS MiB", relay.rssKiB() / 1024.0);
                Ctx.log("W1 relay ceiling: p50 %.3f ms, p99 %.3f ms", m.get("p50 ms"), m.get("p99 ms"));
                return m;
            }
        }
    }
}
