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
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;

/**
 * W7 big store: the embedded server with a small heap ({@code --w7-heap}, default 256m) holds more
 * user data than its heap many times over, serves a full catch-up of its biggest user and keeps
 * taking writes (issue 12, "Heap").
 *
 * <p>The server is the real jar on the real embedded store, started with {@code -Xmx<heap>} and
 * {@code -Xlog:gc*}; quota off ({@code CAIRN_USER_QUOTA_BYTES=0}: the big user holds ~100 MB, the
 * default quota's size) and no history (nothing is overwritten anyway). Everything goes over the
 * WebSocket protocol by lean clients (one Vert.x WebSocket each, as W5): per user connect, hello,
 * caught-up, then pushes with up to 8 unacknowledged.
 * <ol>
 *   <li>Load: one big user with {@code w7-big-entries} map entries of ~100 B (pushes of 1,000,
 *       the server's default batch limit), then {@code w7-users} users of {@code w7-user-bytes} each
 *       (map entries of 10,000-character JSON strings, one push per user: under the 1 MiB frame
 *       limit), {@code w7-parallel} users at a time.</li>
 *   <li>Catch-up: a new replica of the big user says hello with cursor 0 and reads every page
 *       until caught-up (pages, changes, bytes, time; every change is decoded and counted) while a
 *       writer keeps pushing to other users; then the writer goes on alone for
 *       {@code w7-write-seconds}.</li>
 *   <li>Heap: {@code jcmd <pid> GC.heap_info} every 5 s (used KiB, max kept), the GC log's largest
 *       heap after a collection, the RSS; at the end a class histogram's top rows. The GC log and
 *       the histogram are copied to {@code w7-out}.</li>
 * </ol>
 */
final class W7 {

    /** Outstanding pushes per socket. */
    private static final int WINDOW = 8;
    private static final int BIG_BATCH = 1000;
    private static final int VALUE_CHARS = 10_000;

    private W7() {
    }

    static void run(Ctx ctx) throws Exception {
        int runs = ctx.args.integer("runs");
        for (int run = 1; run <= runs; run++) {
            ctx.report.add("W7 big store, heap " + ctx.args.string("w7-heap"), "cairn embedded", run, once(ctx, "w7r" + run));
        }
    }

    private static Map<String, Object> once(Ctx ctx, String tag) throws Exception {
        int users = ctx.args.integer("w7-users");
        int userBytes = ctx.args.integer("w7-user-bytes");
        int bigEntries = ctx.args.integer("w7-big-entries");
        int parallel = ctx.args.integer("w7-parallel");
        int writeSeconds = ctx.args.integer("w7-write-seconds");
        Path out = Path.of(ctx.args.string("w7-out")).toAbsolutePath();
        Files.createDirectories(out);
        Path gcLog = ctx.work.resolve("logs/" + tag + "-gc.log");
        Files.createDirectories(gcLog.getParent());
        Map<String, String> env = new LinkedHashMap<>();
        env.put("CAIRN_USER_QUOTA_BYTES", "0");
        env.put("CAIRN_HISTORY_MS", "0");
        List<String> jvm = List.of("-Xmx" + ctx.args.string("w7-heap"), "-Xlog:gc*:file=" + gcLog + ":uptime,level,tags");
        Map<String, Object> m = new LinkedHashMap<>();
        try (Site site = Site.start(ctx, "embedded", 1, env, jvm)) {
            ServerProcess server = site.node(0);
            HeapSampler heap = new HeapSampler(server.pid());
            heap.start();
            WebSocketClient client = ctx.vertx.createWebSocketClient(new WebSocketClientOptions()
                    .setMaxConnections(100_000).setConnectTimeout(60_000).setMaxMessageSize(16 << 20).setMaxFrameSize(16 << 20));
            try {
                URI uri = server.syncUri();
                String bigUser = tag + "-big";
                // ---- load
                long t0 = System.nanoTime();
                long bigBytes = pushAll(client, uri, bigUser, "w7-loader", (bigEntries + BIG_BATCH - 1) / BIG_BATCH,
                        b -> bigPush(b, bigEntries)).get(60, TimeUnit.MINUTES);
                double bigSeconds = (System.nanoTime() - t0) / 1e9;
                Ctx.log("W7: big user %,d entries in %.1f s (%,.0f entries/s); heap used max so far %,d KiB", bigEntries, bigSeconds,
                        bigEntries / bigSeconds, heap.maxUsedKiB());
                int perUser = Math.max(1, userBytes / (VALUE_CHARS + 10));
                long t1 = System.nanoTime();
                AtomicInteger next = new AtomicInteger();
                AtomicLong userWire = new AtomicLong();
                List<CompletableFuture<Void>> lanes = new ArrayList<>();
                for (int p = 0; p < parallel; p++) {
                    lanes.add(lane(client, uri, tag, users, perUser, next, userWire));
                }
                CompletableFuture.allOf(lanes.toArray(CompletableFuture[]::new)).get(6, TimeUnit.HOURS);
                double userSeconds = (System.nanoTime() - t1) / 1e9;
                long userData = (long) users * perUser * (VALUE_CHARS + 2 + 8); // value (a JSON string) + key "v000000n"
                Ctx.log("W7: %,d users x %,d B in %.1f s (%,.1f MB/s of user data); heap used max so far %,d KiB", users,
                        perUser * (VALUE_CHARS + 10), userSeconds, userData / userSeconds / 1e6, heap.maxUsedKiB());
                long bigData = bigDataBytes(bigEntries);
                m.put("users", users);
                m.put("user data MB", (userData + bigData) / 1e6);
                m.put("load: big user entries/s", bigEntries / bigSeconds);
                m.put("load: users MB/s (user data)", userData / userSeconds / 1e6);
                m.put("load: wire MB", (bigBytes + userWire.get()) / 1e6);
                m.put("load s", (System.nanoTime() - t0) / 1e9);
                m.put("data dir MB after load", site.dataDirBytes() / 1e6);
                heap.sampleNow();
                long afterLoad = heap.maxUsedKiB();
                // ---- catch-up of the big user while a writer keeps pushing
                AtomicBoolean stop = new AtomicBoolean();
                AtomicLong writesAcked = new AtomicLong();
                CompletableFuture<Void> writer = writer(client, uri, tag + "-w", stop, writesAcked);
                long w0 = writesAcked.get();
                long c0 = System.nanoTime();
                long[] page = catchUp(client, uri, bigUser).get(60, TimeUnit.MINUTES);
                double catchSeconds = (System.nanoTime() - c0) / 1e9;
                long duringCatchUp = writesAcked.get() - w0;
                if (page[1] != bigEntries) {
                    throw new IllegalStateException("catch-up of the big user delivered " + page[1] + " changes, expected " + bigEntries);
                }
                Ctx.log("W7: catch-up of %,d entries in %.1f s, %,d pages, %,d bytes; %,d writes acked meanwhile", page[1], catchSeconds,
                        page[0], page[2], duringCatchUp);
                m.put("catch-up changes", page[1]);
                m.put("catch-up s", catchSeconds);
                m.put("catch-up pages (frames)", page[0]);
                m.put("catch-up MB", page[2] / 1e6);
                m.put("writes acked during catch-up", duringCatchUp);
                long w1 = writesAcked.get();
                long s0 = System.nanoTime();
                Thread.sleep(writeSeconds * 1000L);
                double ws = (System.nanoTime() - s0) / 1e9;
                m.put("writes/s after (one socket, 100-change pushes)", (writesAcked.get() - w1) / ws);
                stop.set(true);
                writer.get(2, TimeUnit.MINUTES);
                if (writesAcked.get() - w1 == 0) {
                    throw new IllegalStateException("no write was acknowledged after the catch-up");
                }
                heap.sampleNow();
                heap.stop();
                m.put("data dir MB at end", site.dataDirBytes() / 1e6);
                m.put("heap used max KiB (jcmd samples)", heap.maxUsedKiB());
                m.put("heap used max KiB during load", afterLoad);
                m.put("jcmd samples", heap.samples());
                GcLog.Summary gc = GcLog.read(gcLog);
                m.put("GC log: max heap after GC MiB", gc.maxAfterMiB());
                m.put("GC log: max heap after Remark MiB", gc.maxAfterRemarkMiB());
                m.put("GC log: max heap committed MiB", gc.maxCommittedMiB());
                m.put("GC log: collections", gc.collections());
                m.put("GC log: full GCs", gc.fullCollections());
                m.put("GC log: pause total s", gc.pauseMillis() / 1e3);
                m.put("server RSS end MiB", server.rssKiB() / 1024.0);
                m.put("server RSS max MiB (samples)", heap.maxRssKiB() / 1024.0);
                m.put("server RssAnon max MiB (samples)", heap.maxRssAnonKiB() / 1024.0);
                String histogram = Jcmd.run(server.pid(), "GC.class_histogram"); // a full GC first: the live heap
                m.put("live heap after full GC MiB (class histogram total)", histogramTotal(histogram) / 1048576.0);
                Files.writeString(out.resolve(tag + "-class-histogram.txt"), histogram);
                Files.copy(gcLog, out.resolve(tag + "-gc.log"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                Files.writeString(out.resolve(tag + "-heap-samples.txt"), heap.log());
                Ctx.log("W7: heap used max %,d KiB (jcmd), GC log max after GC %d MiB in %d collections (%d full); RSS %,.0f MiB; files in %s",
                        heap.maxUsedKiB(), gc.maxAfterMiB(), gc.collections(), gc.fullCollections(), server.rssKiB() / 1024.0, out);
            } finally {
                heap.stop();
                client.close();
            }
        }
        return m;
    }

    /** The "Total" bytes of a {@code GC.class_histogram}. */
    private static long histogramTotal(String histogram) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^Total\\s+\\d+\\s+(\\d+)").matcher(histogram);
        if (!m.find()) {
            throw new IllegalStateException("no Total line in the class histogram");
        }
        return Long.parseLong(m.group(1));
    }

    /** Bytes of user data (key + value as the server counts them) of the big user. */
    private static long bigDataBytes(int entries) {
        long n = 0;
        for (int i = 0; i < entries; i += 997) {
            n += (bigKey(i).length() + bigValue(i).length()) * (long) Math.min(997, entries - i);
        }
        return n;
    }

    private static String bigKey(int i) {
        return "k" + String.format("%07d", i);
    }

    /** ~100 B of JSON, as an app's small records. */
    private static String bigValue(int i) {
        return "{\"title\":\"card " + i + "\",\"done\":" + (i % 2 == 0) + ",\"note\":\"" + "abcdefghijklmnopqrstuvwxyz0123456789".repeat(2) + "\"}";
    }

    private static String bigPush(int b, int entries) {
        long hlc = Stamp.pack(System.currentTimeMillis(), 0);
        List<Change> changes = new ArrayList<>(BIG_BATCH);
        for (int i = b * BIG_BATCH; i < Math.min(entries, (b + 1) * BIG_BATCH); i++) {
            changes.add(new Change.Put(StandardSections.STATE, bigKey(i), bigValue(i), new Stamp(hlc + i % BIG_BATCH, "w7-loader")));
        }
        return FrameCodec.encode(new Frame.Push(b + 1, changes));
    }

    private static String userPush(String user, int perUser) {
        long hlc = Stamp.pack(System.currentTimeMillis(), 0);
        List<Change> changes = new ArrayList<>(perUser);
        char[] text = new char[VALUE_CHARS];
        long seed = user.hashCode();
        for (int i = 0; i < perUser; i++) {
            for (int c = 0; c < text.length; c++) {
                seed = seed * 6364136223846793005L + 1442695040888963407L;  // not compressible, not repeated
                text[c] = (char) ('a' + (int) ((seed >>> 33) % 26));
            }
            changes.add(new Change.Put(StandardSections.STATE, "v" + String.format("%07d", i), "\"" + new String(text) + "\"",
                    new Stamp(hlc + i, "w7-loader")));
        }
        return FrameCodec.encode(new Frame.Push(1, changes));
    }

    /** Loads users one after another, taking the next number from {@code next}, until there are none. */
    private static CompletableFuture<Void> lane(WebSocketClient client, URI uri, String tag, int users, int perUser,
                                                AtomicInteger next, AtomicLong wire) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        Runnable[] step = new Runnable[1];
        step[0] = () -> {
            int u = next.getAndIncrement();
            if (u >= users) {
                done.complete(null);
                return;
            }
            if (u > 0 && u % 1000 == 0) {
                Ctx.log("W7: %,d users loaded", u);
            }
            String user = tag + "-u" + u;
            pushAll(client, uri, user, "w7-loader", 1, b -> userPush(user, perUser)).whenComplete((bytes, e) -> {
                if (e != null) {
                    done.completeExceptionally(e);
                } else {
                    wire.addAndGet(bytes);
                    step[0].run();
                }
            });
        };
        step[0].run();
        return done;
    }

    /**
     * Connects as {@code user}, says hello, waits for caught-up, sends {@code frames} pushes (up to
     * {@link #WINDOW} unacknowledged) and completes with the bytes sent when all are acknowledged.
     */
    private static CompletableFuture<Long> pushAll(WebSocketClient client, URI uri, String user, String replica, int frames,
                                                   IntFunction<String> frame) {
        CompletableFuture<Long> done = new CompletableFuture<>();
        AtomicInteger sent = new AtomicInteger();
        AtomicInteger acked = new AtomicInteger();
        AtomicLong bytes = new AtomicLong();
        connect(client, uri, user).onFailure(done::completeExceptionally).onSuccess(ws -> {
            Runnable send = () -> {
                while (sent.get() < frames && sent.get() - acked.get() < WINDOW) {
                    String text = frame.apply(sent.getAndIncrement());
                    bytes.addAndGet(text.length());
                    ws.writeTextMessage(text);
                }
            };
            ws.closeHandler(v -> done.completeExceptionally(new IllegalStateException(user + ": socket closed after "
                    + acked.get() + " of " + frames + " acks")));
            boolean[] live = {false};
            ws.textMessageHandler(text -> {
                if (!live[0]) {
                    if (text.contains("\"type\":\"caught-up\"")) {
                        live[0] = true;
                        send.run();
                    } else if (text.contains("\"type\":\"error\"")) {
                        done.completeExceptionally(new IllegalStateException(user + ": " + text));
                    }
                } else if (text.contains("\"type\":\"ack\"")) {
                    if (acked.incrementAndGet() == frames) {
                        ws.closeHandler(null);
                        ws.close();
                        done.complete(bytes.get());
                    } else {
                        send.run();
                    }
                } else if (text.contains("\"type\":\"error\"")) {
                    ws.close();
                    done.completeExceptionally(new IllegalStateException(user + ": " + text));
                }
            });
            ws.writeTextMessage(FrameCodec.encode(new Frame.Hello(1, replica, 0)));
        });
        return done;
    }

    /** The upgrade with a bearer token. */
    private static Future<WebSocket> connect(WebSocketClient client, URI uri, String user) {
        return client.connect(new WebSocketConnectOptions().setHost(uri.getHost()).setPort(uri.getPort()).setURI("/sync")
                .addHeader("Authorization", "Bearer " + Tokens.mint(user)));
    }

    /** A fresh replica of {@code user} reads from cursor 0 until caught-up: {pages, changes, bytes}. */
    private static CompletableFuture<long[]> catchUp(WebSocketClient client, URI uri, String user) {
        CompletableFuture<long[]> done = new CompletableFuture<>();
        long[] r = new long[3];
        connect(client, uri, user).onFailure(done::completeExceptionally).onSuccess(ws -> {
            ws.closeHandler(v -> done.completeExceptionally(new IllegalStateException("catch-up socket closed after " + r[1] + " changes")));
            ws.textMessageHandler(text -> {
                r[2] += Device.utf8Length(text);
                Frame f = FrameCodec.decode(text);
                if (f instanceof Frame.Changes c) {
                    r[0]++;
                    r[1] += c.changes().size();
                } else if (f instanceof Frame.CaughtUp) {
                    ws.closeHandler(null);
                    ws.close();
                    done.complete(r);
                } else if (f instanceof Frame.Error e) {
                    done.completeExceptionally(new IllegalStateException("catch-up: " + e));
                }
            });
            ws.writeTextMessage(FrameCodec.encode(new Frame.Hello(1, "w7-fresh", 0)));
        });
        return done;
    }

    /** Pushes 100 small changes at a time to one user until {@code stop}, one push in flight, counting acked changes. */
    private static CompletableFuture<Void> writer(WebSocketClient client, URI uri, String user, AtomicBoolean stop, AtomicLong acked) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        long[] batch = {0};
        connect(client, uri, user).onFailure(done::completeExceptionally).onSuccess(ws -> {
            Runnable send = () -> {
                long b = ++batch[0];
                long hlc = Stamp.pack(System.currentTimeMillis(), 0);
                List<Change> changes = new ArrayList<>(100);
                for (int i = 0; i < 100; i++) {
                    changes.add(new Change.Put(StandardSections.UI, "w" + (b * 100 + i) % 50_000, "{\"n\":" + (b * 100 + i) + "}",
                            new Stamp(hlc + i, "w7-writer")));
                }
                ws.writeTextMessage(FrameCodec.encode(new Frame.Push(b, changes)));
            };
            ws.closeHandler(v -> done.completeExceptionally(new IllegalStateException("writer socket closed")));
            boolean[] live = {false};
            ws.textMessageHandler(text -> {
                if (!live[0] && text.contains("\"type\":\"caught-up\"")) {
                    live[0] = true;
                    send.run();
                } else if (text.contains("\"type\":\"ack\"")) {
                    acked.addAndGet(100);
                    if (stop.get()) {
                        ws.closeHandler(null);
                        ws.close();
                        done.complete(null);
                    } else {
                        send.run();
                    }
                } else if (text.contains("\"type\":\"error\"")) {
                    done.completeExceptionally(new IllegalStateException("writer: " + text));
                }
            });
            ws.writeTextMessage(FrameCodec.encode(new Frame.Hello(1, "w7-writer", 0)));
        });
        return done;
    }
}
