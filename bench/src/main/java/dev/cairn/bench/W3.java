package dev.cairn.bench;

import dev.cairn.engine.ChangeEvent;
import dev.cairn.engine.Chat;
import dev.cairn.engine.MapSection;
import dev.cairn.engine.Subscription;
import dev.cairn.engine.section.StandardSections;
import dev.cairn.engine.sync.SyncStatus;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * W3 catch-up, as the peers' w3.js. Seeding (not timed): a seed device (memory store) writes
 * {@code w3-entries} map sets {@code state["k" + i] = "value-i"} and {@code w3-chat} chat
 * appends (role user/assistant alternating, exactly 80 characters of text) to conversation
 * {@code conv-1}, syncs them all to the server ({@code syncNow}) and closes; then 2 s pass and the
 * server's RSS is read ("loaded"). Timed: a fresh device (durable store in a temp dir) starts its
 * sync client; <b>readable</b> is when its change listener has seen every map entry and every
 * chat message arrive (the app can read the whole state from memory), <b>durable</b> is when
 * {@code cairn.save()} called right then completes (state records and the cursor are on the
 * device's disk). Bytes are the payload bytes of the WebSocket text frames (framing and the HTTP
 * upgrade are not counted; the peers counted TCP bytes, which adds a few bytes per frame).
 *
 * <p>Ceiling, same run and server: a bare JDK WebSocket that says hello with cursor 0 and reads
 * until {@code caught-up} without applying anything (time includes the connection).
 */
final class W3 {

    private W3() {
    }

    static void run(Ctx ctx) throws Exception {
        int entries = ctx.args.integer("w3-entries");
        int chat = ctx.args.integer("w3-chat");
        int runs = ctx.args.integer("runs");
        for (int run = 1; run <= runs; run++) {
            for (String store : ctx.args.stores()) {
                try (Site site = Site.start(ctx, store, 1)) {
                    ctx.report.add("W3 catch-up", "cairn " + store, run, catchUp(ctx, site, entries, chat, "w3r" + run));
                }
            }
        }
    }

    static Map<String, Object> catchUp(Ctx ctx, Site site, int entries, int chatCount, String tag) throws Exception {
        String user = tag + "-user";
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("entries", entries);
        m.put("chat messages", chatCount);
        Thread.sleep(1000);
        long rssEmpty = site.rssKiB();
        seed(site, user, entries, chatCount);
        Thread.sleep(2000);
        long rssLoaded = site.rssKiB();

        Path dir = ctx.newDir("w3-fresh-");
        try (Device fresh = Device.open("w3-fresh", dir, site.syncUri(0), user)) {
            AtomicInteger mapSeen = new AtomicInteger();
            AtomicInteger chatSeen = new AtomicInteger();
            CompletableFuture<Long> readable = new CompletableFuture<>();
            CompletableFuture<Long> live = new CompletableFuture<>();
            Subscription sub = fresh.cairn.onChange((ChangeEvent ev) -> {
                if (!ev.isRemote()) {
                    return;
                }
                int a = ev.section().equals(StandardSections.STATE) ? mapSeen.incrementAndGet() : mapSeen.get();
                int b = ev.section().equals(StandardSections.CHAT) ? chatSeen.incrementAndGet() : chatSeen.get();
                if (a >= entries && b >= chatCount) {
                    readable.complete(System.nanoTime());
                }
            });
            Subscription statusSub = fresh.sync.onStatus((SyncStatus s) -> {
                if (s.isLive()) {
                    live.complete(System.nanoTime());
                }
            });
            long t0 = System.nanoTime();
            fresh.start();
            long tReadable = readable.get(30, TimeUnit.MINUTES);
            long bytesAtReadable = fresh.received();
            fresh.cairn.save().get(30, TimeUnit.MINUTES);
            long tDurable = System.nanoTime();
            long tLive = live.get(5, TimeUnit.MINUTES);
            sub.close();
            statusSub.close();
            // verify the whole state after the clock stopped
            MapSection map = fresh.cairn.map(StandardSections.STATE);
            int chatSize = fresh.cairn.chat().size("conv-1");
            if (map.size() != entries || chatSize != chatCount || !Values.mapValue(entries - 1).equals(map.get("k" + (entries - 1), String.class))) {
                throw new IllegalStateException("fresh device has " + map.size() + " entries and " + chatSize + " messages");
            }
            m.put("readable ms", (tReadable - t0) / 1e6);
            m.put("durable ms", (tDurable - t0) / 1e6);
            m.put("caught-up ms", (tLive - t0) / 1e6);
            m.put("bytes to client", bytesAtReadable);
            m.put("bytes from client", fresh.sent());
            m.put("server RSS empty MiB", rssEmpty / 1024.0);
            m.put("server RSS loaded MiB", rssLoaded / 1024.0);
            m.put("server RSS after MiB", site.rssKiB() / 1024.0);
            m.put("device store KiB", Dirs.treeSize(dir) / 1024.0);
            Ctx.log("W3 cairn %s %,d entries: readable %.0f ms, durable %.0f ms, %,d bytes", site.store, entries,
                    (tReadable - t0) / 1e6, (tDurable - t0) / 1e6, bytesAtReadable);
        }
        if (ctx.args.bool("ceilings")) {
            rawCatchUp(site, user, m);
        }
        return m;
    }

    /**
     * Seeds {@code user} over the protocol (not timed): a seed device (memory store) writes
     * {@code state["k" + i] = "value-i"} for i below {@code entries} and {@code chatCount} chat
     * appends to {@code conv-1}, syncs them all to the server and closes.
     */
    static void seed(Site site, String user, int entries, int chatCount) throws Exception {
        long seedStart = System.nanoTime();
        try (Device seed = Device.open("w3-seed", null, site.syncUri(0), user)) {
            MapSection map = seed.cairn.map(StandardSections.STATE);
            for (int i = 0; i < entries; i++) {
                map.put("k" + i, Values.mapValue(i));
            }
            Chat chat = seed.cairn.chat();
            for (int j = 0; j < chatCount; j++) {
                chat.append("conv-1", Values.chatRole(j), Values.chatText(j));
            }
            seed.start();
            seed.sync.syncNow().get(30, TimeUnit.MINUTES);
        }
        Ctx.log("%s: seeded %,d entries + %,d messages in %.1f s", site.store, entries, chatCount, (System.nanoTime() - seedStart) / 1e9);
    }

    /**
     * Ceiling, same server and state: a bare JDK WebSocket speaks the protocol by hand, hello with
     * cursor 0, and only counts the bytes until {@code caught-up}: the server's side of the catch-up
     * without any client engine work. Protocol 1 (JSON frames), as W3's engines speak it.
     */
    static void rawCatchUp(Site site, String user, Map<String, Object> m) throws Exception {
        rawCatchUp(site, user, m, false);
    }

    /** As {@link #rawCatchUp(Site, String, Map)}; {@code pages}: offers protocol 2, so the changes come as binary pages (the browser client's). */
    static void rawCatchUp(Site site, String user, Map<String, Object> m, boolean pages) throws Exception {
        java.util.concurrent.atomic.AtomicLong bytes = new java.util.concurrent.atomic.AtomicLong();
        CompletableFuture<Long> caughtUp = new CompletableFuture<>();
        long t0 = System.nanoTime();
        try (RawWs ws = RawWs.connect(site.syncUri(0), Tokens.mint(user), text -> {
            bytes.addAndGet(Device.utf8Length(text));
            if (text.contains("\"type\":\"caught-up\"")) {
                caughtUp.complete(System.nanoTime());
            } else if (text.contains("\"type\":\"error\"")) {
                caughtUp.completeExceptionally(new IllegalStateException(text));
            }
        }, bytes::addAndGet)) {
            ws.send(dev.cairn.engine.protocol.FrameCodec.encode(new dev.cairn.engine.protocol.Frame.Hello(1, "w3-raw", 0,
                    pages ? java.util.List.of(1, 2) : null, null)));
            long t1 = caughtUp.get(30, TimeUnit.MINUTES);
            m.put("ceiling: raw protocol client caught-up ms", (t1 - t0) / 1e6);
            m.put("ceiling: raw bytes to client", bytes.get());
        }
    }
}
