package dev.cairn.bench;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.FrameCodec;
import dev.cairn.engine.section.StandardSections;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.Consumer;

/**
 * W5 connections. The devices here are lean protocol clients, not engines: one Vert.x
 * WebSocket each (one shared {@code WebSocketClient} on the bench's Vert.x), speaking PROTOCOL.md
 * by hand: {@code hello} with cursor 0, wait for {@code caught-up}; an engine per device would
 * measure the bench's memory, not the server's.
 * <ul>
 *   <li><b>Idle</b> (the peers' idle.js): devices connect 50 at a time, each its own user, and each
 *       pushes one change ({@code ui.hello = i}, so every user holds one entry, as every peer
 *       document did) and waits for its ack. When {@code w5-idle}'s first count is connected, wait
 *       5 s and read the server's RSS; then more connect up to the next count, and so on. KiB per
 *       connection = (RSS − RSS of the empty server) / connections.</li>
 *   <li><b>Fan-out</b>: the idle devices are closed; {@code w5-fanout} devices of ONE user connect
 *       and catch up, then one more device of that user pushes one change; time from the push until
 *       every one of them has received it in a {@code changes} frame (p50 and last).</li>
 *   <li><b>Floor</b> (with {@code --ceilings}, the default): the same idle counts held by a bare
 *       Vert.x WebSocket server ({@link BareWs}) that accepts sockets and does nothing.</li>
 * </ul>
 */
final class W5 {

    private W5() {
    }

    static void run(Ctx ctx) throws Exception {
        List<Integer> idle = new ArrayList<>(ctx.args.integers("w5-idle"));
        idle.sort(null);
        int fan = ctx.args.integer("w5-fanout");
        int runs = ctx.args.integer("runs");
        for (int run = 1; run <= runs; run++) {
            if (ctx.args.bool("ceilings")) {
                floor(ctx, idle, run);
            }
            for (String store : ctx.args.stores()) {
                try (Site site = Site.start(ctx, store, 1)) {
                    WebSocketClient client = ctx.vertx.createWebSocketClient(new WebSocketClientOptions()
                            .setMaxConnections(1_000_000).setConnectTimeout(60_000).setMaxMessageSize(8 << 20));
                    try {
                        Thread.sleep(2000);
                        long empty = site.rssKiB();
                        List<WebSocket> open = new ArrayList<>();
                        try {
                            for (int count : idle) {
                                long c0 = System.nanoTime();
                                connectIdle(client, site, open, count, "w5r" + run);
                                double connectSeconds = (System.nanoTime() - c0) / 1e9;
                                Thread.sleep(5000);
                                long rss = site.rssKiB();
                                Map<String, Object> m = new LinkedHashMap<>();
                                m.put("connections", count);
                                m.put("server RSS empty MiB", empty / 1024.0);
                                m.put("server RSS MiB", rss / 1024.0);
                                m.put("KiB per connection", (rss - empty) / (double) count);
                                m.put("connect s", connectSeconds);
                                Ctx.log("W5 %s %,d idle: %.1f KiB per connection", store, count, (rss - empty) / (double) count);
                                ctx.report.add("W5 idle connections", "cairn " + store + ", " + count + " devices", run, m);
                            }
                        } finally {
                            for (WebSocket ws : open) {
                                ws.close();
                            }
                        }
                        Thread.sleep(1000);
                        ctx.report.add("W5 fan-out to one user's devices", "cairn " + store + ", " + fan + " devices", run,
                                fanout(client, site, fan, "w5r" + run));
                    } finally {
                        Ctx.await(client.close());
                    }
                }
            }
        }
    }

    /**
     * The floor: the same counts of sockets held by a bare Vert.x WebSocket server ({@link BareWs}, own
     * JVM, default flags like the Cairn server's), connected 50 at a time with the same client and no
     * messages. KiB per connection as for Cairn.
     */
    private static void floor(Ctx ctx, List<Integer> idle, int run) throws Exception {
        try (ServerProcess bare = ServerProcess.startMain(ctx.benchClasspath(), BareWs.class.getName(), Map.of(),
                ctx.args.string("server-jvm").isBlank() ? List.of() : List.of(ctx.args.string("server-jvm").trim().split("\\s+")),
                ctx.work.resolve("logs/bare-" + System.nanoTime() + ".log"))) {
            WebSocketClient client = ctx.vertx.createWebSocketClient(new WebSocketClientOptions()
                    .setMaxConnections(1_000_000).setConnectTimeout(60_000));
            List<WebSocket> open = new ArrayList<>();
            try {
                Thread.sleep(2000);
                long empty = bare.rssKiB();
                for (int count : idle) {
                    long c0 = System.nanoTime();
                    while (open.size() < count) {
                        List<Future<WebSocket>> wave = new ArrayList<>();
                        for (int i = open.size(); i < Math.min(count, open.size() + 50); i++) {
                            wave.add(client.connect(new WebSocketConnectOptions().setHost("127.0.0.1").setPort(bare.port()).setURI("/sync")));
                        }
                        open.addAll(Ctx.await(Future.all(wave)).list());
                    }
                    double connectSeconds = (System.nanoTime() - c0) / 1e9;
                    Thread.sleep(5000);
                    long rss = bare.rssKiB();
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("connections", count);
                    m.put("server RSS empty MiB", empty / 1024.0);
                    m.put("server RSS MiB", rss / 1024.0);
                    m.put("KiB per connection", (rss - empty) / (double) count);
                    m.put("connect s", connectSeconds);
                    Ctx.log("W5 floor (bare Vert.x) %,d idle: %.1f KiB per connection", count, (rss - empty) / (double) count);
                    ctx.report.add("W5 idle connections", "floor: bare Vert.x WebSocket server, " + count + " sockets", run, m);
                }
            } finally {
                for (WebSocket ws : open) {
                    ws.close();
                }
                Ctx.await(client.close());
            }
        }
    }

    /** Connects lean devices, 50 at a time, until {@code open} holds {@code target}. */
    private static void connectIdle(WebSocketClient client, Site site, List<WebSocket> open, int target, String tag) throws Exception {
        while (open.size() < target) {
            int from = open.size();
            int to = Math.min(target, from + 50);
            List<Future<WebSocket>> wave = new ArrayList<>();
            for (int i = from; i < to; i++) {
                int idx = i;
                String replica = "idle-" + i;
                wave.add(lean(client, site, tag + "-u" + i, replica, frame -> { }).compose(c -> {
                    Promise<WebSocket> acked = Promise.promise();
                    c.textMessageHandler(text -> {
                        if (text.startsWith("{\"type\":\"ack\"") || text.contains("\"type\":\"ack\"")) {
                            acked.tryComplete(c);
                        } else if (text.contains("\"type\":\"error\"")) {
                            acked.tryFail(text);
                        }
                    });
                    c.writeTextMessage(FrameCodec.encode(new Frame.Push(1, List.of(new Change.Put(StandardSections.UI, "hello",
                            Integer.toString(idx), new Stamp(Stamp.pack(System.currentTimeMillis(), 0), replica))))));
                    return acked.future();
                }));
            }
            open.addAll(Ctx.await(Future.all(wave)).list());
        }
    }

    /** A connected lean device: the upgrade with a bearer token, hello, and caught-up. */
    private static Future<WebSocket> lean(WebSocketClient client, Site site, String user, String replica, Consumer<String> afterCaughtUp) {
        var uri = site.syncUri(0);
        return client.connect(new WebSocketConnectOptions().setHost(uri.getHost()).setPort(uri.getPort()).setURI("/sync")
                        .addHeader("Authorization", "Bearer " + Tokens.mint(user)))
                .compose(ws -> {
                    Promise<WebSocket> caughtUp = Promise.promise();
                    ws.textMessageHandler(text -> {
                        if (caughtUp.future().isComplete()) {
                            afterCaughtUp.accept(text);
                        } else if (text.contains("\"type\":\"caught-up\"")) {
                            caughtUp.tryComplete(ws);
                        } else if (text.contains("\"type\":\"error\"")) {
                            caughtUp.tryFail(text);
                        }
                    });
                    ws.closeHandler(v -> caughtUp.tryFail("closed before caught-up"));
                    ws.writeTextMessage(FrameCodec.encode(new Frame.Hello(1, replica, 0)));
                    return caughtUp.future();
                });
    }

    private static Map<String, Object> fanout(WebSocketClient client, Site site, int fan, String tag) throws Exception {
        String user = tag + "-fan";
        String marker = "fanout-" + System.nanoTime();
        AtomicLongArray arrived = new AtomicLongArray(fan);
        CountDownLatch all = new CountDownLatch(fan);
        List<WebSocket> open = new ArrayList<>();
        try {
            for (int from = 0; from < fan; from += 50) {
                List<Future<WebSocket>> wave = new ArrayList<>();
                for (int i = from; i < Math.min(fan, from + 50); i++) {
                    int idx = i;
                    wave.add(lean(client, site, user, "fan-" + i, text -> {
                        if (text.contains(marker) && arrived.compareAndSet(idx, 0, System.nanoTime())) {
                            all.countDown();
                        }
                    }));
                }
                open.addAll(Ctx.await(Future.all(wave)).list());
            }
            WebSocket sender = Ctx.await(lean(client, site, user, "fan-sender", t -> { }));
            open.add(sender);
            Thread.sleep(1000);
            long rss = site.rssKiB();
            long t0 = System.nanoTime();
            Ctx.await(sender.writeTextMessage(FrameCodec.encode(new Frame.Push(1, List.of(new Change.Put(StandardSections.UI, marker,
                    "true", new Stamp(Stamp.pack(System.currentTimeMillis(), 0), "fan-sender")))))));
            if (!all.await(120, TimeUnit.SECONDS)) {
                throw new IllegalStateException((fan - all.getCount()) + " of " + fan + " devices received the change");
            }
            long[] ms = new long[fan];
            for (int i = 0; i < fan; i++) {
                ms[i] = arrived.get(i) - t0;
            }
            Arrays.sort(ms);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("devices", fan);
            m.put("first ms", ms[0] / 1e6);
            m.put("p50 ms", ms[fan / 2] / 1e6);
            m.put("all have it ms", ms[fan - 1] / 1e6);
            m.put("server RSS MiB", rss / 1024.0);
            Ctx.log("W5 %s fan-out to %,d devices: all in %.1f ms", site.store, fan, ms[fan - 1] / 1e6);
            return m;
        } finally {
            for (WebSocket ws : open) {
                ws.close();
            }
        }
    }
}
