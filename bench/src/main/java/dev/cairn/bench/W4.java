package dev.cairn.bench;

import dev.cairn.engine.Cairn;
import dev.cairn.engine.Chat;
import dev.cairn.engine.MapSection;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.section.PersistTo;
import dev.cairn.engine.section.StandardSections;
import dev.cairn.engine.section.StoragePolicy;
import dev.cairn.engine.store.JournalLocalStore;
import dev.cairn.engine.store.StoreWrite;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.mapdb.BTreeMap;
import org.mapdb.DB;
import org.mapdb.DBMaker;
import org.mapdb.Serializer;

/**
 * W4 local writes, as the peers' w4.js but with the engine's two tiers: in this JVM, no network,
 * {@code w4-sets} map sets {@code state["k" + i] = "value-i"}, then {@code w4-chat} chat appends
 * (80-character text) to {@code conv-1}, each through the public API, one op per call.
 * <ul>
 *   <li>memory tier: both sections registered with {@code persistTo CONTEXT, sync false};</li>
 *   <li>durable tier: the default policy (journal, syncing: each change also gets an outbox entry);
 *       the clock runs until {@code save()} after the last op has completed (everything fsynced).
 *       Size on disk is {@code cairn.journal}'s; reopen is {@code Cairn.open()} of that store.</li>
 * </ul>
 * Ceilings, same run: the raw engine journal ({@code JournalLocalStore}) and raw MapDB (the
 * configuration LocalSuite uses), each given the same keys and JSON values as byte arrays, one
 * commit per 10,000 puts. One unmeasured warm-up round runs first. The {@code local} suite has the
 * finer breakdown (per-change saves, the engine's record layout).
 */
final class W4 {

    private W4() {
    }

    static void run(Ctx ctx) throws Exception {
        int sets = ctx.args.integer("w4-sets");
        int chat = ctx.args.integer("w4-chat");
        int runs = ctx.args.integer("runs");
        for (int run = 0; run <= runs; run++) {
            boolean warmup = run == 0;
            List<Map.Entry<String, Map<String, Object>>> round = new ArrayList<>();
            round.add(Map.entry("cairn memory tier", engine(ctx, sets, chat, false)));
            round.add(Map.entry("cairn durable tier", engine(ctx, sets, chat, true)));
            if (ctx.args.bool("ceilings")) {
                round.add(Map.entry("ceiling: raw JournalLocalStore, commit per 10,000 puts", rawJournal(ctx, sets, chat)));
                round.add(Map.entry("ceiling: raw MapDB, commit per 10,000 puts", rawMapDb(ctx, sets, chat)));
            }
            if (!warmup) {
                for (var e : round) {
                    ctx.report.add("W4 local writes", e.getKey(), run, e.getValue());
                }
            }
        }
    }

    private static Map<String, Object> engine(Ctx ctx, int sets, int chatCount, boolean durable) throws Exception {
        Path dir = ctx.newDir("w4-");
        try {
            Map<String, Object> m = new LinkedHashMap<>();
            Cairn.Builder b = Cairn.builder().dataDir(dir);
            if (!durable) {
                StoragePolicy memoryOnly = StoragePolicy.DEFAULT.withPersistTo(PersistTo.CONTEXT).withSync(false);
                b.section(StandardSections.STATE, SectionKind.MAP, memoryOnly).section(StandardSections.CHAT, SectionKind.LOG, memoryOnly);
            }
            System.gc();
            try (Cairn cairn = b.open()) {
                MapSection map = cairn.map(StandardSections.STATE);
                Chat chat = cairn.chat();
                long t0 = System.nanoTime();
                for (int i = 0; i < sets; i++) {
                    map.put("k" + i, Values.mapValue(i));
                }
                long t1 = System.nanoTime();
                for (int j = 0; j < chatCount; j++) {
                    chat.append("conv-1", Values.chatRole(j), Values.chatText(j));
                }
                long t2 = System.nanoTime();
                cairn.save().join();
                long t3 = System.nanoTime();
                if (map.size() != sets || chat.size("conv-1") != chatCount) {
                    throw new IllegalStateException("engine holds " + map.size() + " keys and " + chat.size("conv-1") + " messages");
                }
                m.put("map sets/s", sets / ((t1 - t0) / 1e9));
                m.put("appends/s", chatCount / ((t2 - t1) / 1e9));
                m.put("final save ms", (t3 - t2) / 1e6);
                m.put("all ops/s incl. save", (sets + chatCount) / ((t3 - t0) / 1e9));
            }
            if (durable) {
                m.put("size on disk KiB", Files.size(dir.resolve(Cairn.DURABLE_FILE)) / 1024.0);
                long r0 = System.nanoTime();
                try (Cairn reopened = Cairn.builder().dataDir(dir).open()) {
                    m.put("reopen ms", (System.nanoTime() - r0) / 1e6);
                    if (reopened.map(StandardSections.STATE).size() != sets) {
                        throw new IllegalStateException("reopened store has " + reopened.map(StandardSections.STATE).size() + " keys");
                    }
                }
            }
            return m;
        } finally {
            Dirs.deleteTree(dir);
        }
    }

    private static byte[][][] rawData(int sets, int chatCount) throws Exception {
        byte[][][] kv = new byte[2][sets + chatCount][];
        for (int i = 0; i < sets; i++) {
            kv[0][i] = ("state\u0000k" + i).getBytes(StandardCharsets.UTF_8);
            kv[1][i] = ("\"" + Values.mapValue(i) + "\"").getBytes(StandardCharsets.UTF_8);
        }
        for (int j = 0; j < chatCount; j++) {
            kv[0][sets + j] = ("chat\u0000conv-1\u0000" + String.format("%010d", j)).getBytes(StandardCharsets.UTF_8);
            kv[1][sets + j] = dev.cairn.engine.codec.Json.MAPPER.writeValueAsString(Map.of("role", Values.chatRole(j), "text", Values.chatText(j),
                    "at", "2026-01-01T00:00:00Z", "meta", Map.of())).getBytes(StandardCharsets.UTF_8);
        }
        return kv;
    }

    private static Map<String, Object> rawJournal(Ctx ctx, int sets, int chatCount) throws Exception {
        byte[][][] kv = rawData(sets, chatCount);
        Path dir = ctx.newDir("w4-journal-");
        try {
            long[] t = new long[3];
            try (JournalLocalStore store = JournalLocalStore.open(dir.resolve("raw.journal"))) {
                t[0] = System.nanoTime();
                List<StoreWrite> batch = new ArrayList<>();
                for (int i = 0; i < sets + chatCount; i++) {
                    batch.add(StoreWrite.put(kv[0][i], kv[1][i]));
                    if (batch.size() == 10_000 || i == sets - 1 || i == sets + chatCount - 1) {
                        store.commit(batch);
                        batch = new ArrayList<>();
                        if (i == sets - 1) {
                            t[1] = System.nanoTime();
                        }
                    }
                }
                t[2] = System.nanoTime();
            }
            return raw(sets, chatCount, t, Files.size(dir.resolve("raw.journal")));
        } finally {
            Dirs.deleteTree(dir);
        }
    }

    private static Map<String, Object> rawMapDb(Ctx ctx, int sets, int chatCount) throws Exception {
        byte[][][] kv = rawData(sets, chatCount);
        Path dir = ctx.newDir("w4-mapdb-");
        try {
            long[] t = new long[3];
            DB db = DBMaker.fileDB(dir.resolve("raw.db").toFile()).transactionEnable().fileMmapEnableIfSupported()
                    .fileMmapPreclearDisable().cleanerHackEnable().make();
            try {
                BTreeMap<byte[], byte[]> map = db.treeMap("raw", Serializer.BYTE_ARRAY, Serializer.BYTE_ARRAY).createOrOpen();
                t[0] = System.nanoTime();
                int inBatch = 0;
                for (int i = 0; i < sets + chatCount; i++) {
                    map.put(kv[0][i], kv[1][i]);
                    if (++inBatch == 10_000 || i == sets - 1 || i == sets + chatCount - 1) {
                        db.commit();
                        inBatch = 0;
                        if (i == sets - 1) {
                            t[1] = System.nanoTime();
                        }
                    }
                }
                t[2] = System.nanoTime();
            } finally {
                db.close();
            }
            return raw(sets, chatCount, t, Dirs.treeSize(dir));
        } finally {
            Dirs.deleteTree(dir);
        }
    }

    private static Map<String, Object> raw(int sets, int chatCount, long[] t, long bytes) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("map sets/s", sets / ((t[1] - t[0]) / 1e9));
        m.put("appends/s", chatCount / ((t[2] - t[1]) / 1e9));
        m.put("all ops/s incl. save", (sets + chatCount) / ((t[2] - t[0]) / 1e9));
        m.put("size on disk KiB", bytes / 1024.0);
        return m;
    }
}
