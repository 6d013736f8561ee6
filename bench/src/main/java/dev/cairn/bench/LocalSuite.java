package dev.cairn.bench;

import dev.cairn.engine.Cairn;
import dev.cairn.engine.Chat;
import dev.cairn.engine.MapSection;
import dev.cairn.engine.PersistentState;
import dev.cairn.engine.StateOptions;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.persist.Records;
import dev.cairn.engine.section.PersistTo;
import dev.cairn.engine.section.StandardSections;
import dev.cairn.engine.section.StoragePolicy;
import dev.cairn.engine.store.JournalLocalStore;
import dev.cairn.engine.store.StoreWrite;
import dev.cairn.engine.store.TieredLocalStore;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.mapdb.BTreeMap;
import org.mapdb.DB;
import org.mapdb.DBMaker;
import org.mapdb.Serializer;

/**
 * The {@code local} suite: local write throughput of the engine per tier next to two raw baselines
 * measured in the same invocation — the engine's own durable store ({@link JournalLocalStore},
 * fdatasync per commit) written directly, and raw MapDB transactional puts (the store the issue
 * names) — and the open time of a 100,000-key store (the core of workload W4 of the benchmarks
 * issue).
 *
 * <p>Every workload runs once as a warm-up, then {@code --runs} rounds; a round runs every
 * workload once, in order, so a slow phase of the machine hits all of them alike. Each run gets
 * a fresh directory that is deleted afterwards.
 */
final class LocalSuite implements Main.Suite {

    /** Distinct values cycled through by the writers (pre-built so their creation is not measured). */
    private static final int VALUE_POOL = 1024;

    /** The value every workload writes: UI state of one component, about 100 bytes of JSON. */
    public record UiState(boolean isExpanded, boolean isVisible, String lastInteraction, String panel) {
    }

    @Override
    public String description() {
        return "local write throughput per tier vs raw JournalLocalStore and raw MapDB, open time of a 100,000-key store (W4 core)";
    }

    // ------------------------------------------------------------------ workloads

    private enum Kind { THROUGHPUT, OPEN }

    private abstract static class Workload {
        final String group;
        final String name;
        final int ops;
        final Kind kind;
        final Samples seconds = new Samples();
        final Samples gcSeconds = new Samples();

        Workload(String group, String name, int ops, Kind kind) {
            this.group = group;
            this.name = name;
            this.ops = ops;
            this.kind = kind;
        }

        void prepare(Path base) throws Exception {
        }

        /** One run in the fresh directory {@code dir}; returns the measured seconds. */
        abstract double run(Path dir, boolean warmup) throws Exception;

        void cleanup() {
        }
    }

    private UiState[] values;
    private byte[][] valueBytes;
    private String[] keys;
    private byte[][] keyBytes;
    /** The engine's own records for n puts (state record + outbox entry), for the engine-layout baseline. */
    private StoreWrite[] engineRecords;
    private StoreWrite[] engineOutbox;
    private String chatText;

    @Override
    public void run(Options o) throws Exception {
        int n = o.n();
        int memN = 10 * n;
        int perSaveN = n / 40;
        int chatN = n / 4;
        int openKeys = o.openKeys();
        prepareData(Math.max(memN, openKeys), n);

        // Extra samples for the breakdown of the batched workloads: the write loop alone.
        Samples batchedLoop = new Samples();
        Samples batchedSave = new Samples();
        Samples chatLoop = new Samples();
        Samples chatSave = new Samples();
        long[] storeFacts = new long[5]; // tiered bytes, records, keys, snapshots, journal bytes

        List<Workload> workloads = new ArrayList<>();

        // ---- memory tier (persistTo CONTEXT, sync false: nothing is queued for a store)
        StoragePolicy memoryOnly = StoragePolicy.DEFAULT.withPersistTo(PersistTo.CONTEXT).withSync(false);
        Workload memMap = new Workload("engine, memory tier", "MapSection.put, distinct keys (Jackson-serializes each value)", memN, Kind.THROUGHPUT) {
            @Override
            double run(Path dir, boolean warmup) {
                try (Cairn cairn = Cairn.builder().dataDir(dir)
                        .section(StandardSections.STATE, SectionKind.MAP, memoryOnly).open()) {
                    MapSection map = cairn.map(StandardSections.STATE);
                    long t0 = System.nanoTime();
                    for (int i = 0; i < ops; i++) {
                        map.put(keys[i], values[i % VALUE_POOL]);
                    }
                    double s = secondsSince(t0);
                    check(map.size() == ops, "memory tier holds " + map.size() + " keys, expected " + ops);
                    return s;
                }
            }
        };
        workloads.add(memMap);
        Workload memState = new Workload("engine, memory tier", "PersistentState.set, one key (persistTo CONTEXT, sync false)", memN, Kind.THROUGHPUT) {
            @Override
            double run(Path dir, boolean warmup) {
                try (Cairn cairn = Cairn.builder().dataDir(dir).open()) {
                    PersistentState<UiState> state = cairn.state("panel", UiState.class, null,
                            StateOptions.<UiState>defaults().persistTo(PersistTo.CONTEXT).sync(false));
                    long t0 = System.nanoTime();
                    for (int i = 0; i < ops; i++) {
                        state.set(values[i % VALUE_POOL]);
                    }
                    double s = secondsSince(t0);
                    check(state.value().equals(values[(ops - 1) % VALUE_POOL]), "wrong final value");
                    check(cairn.stats().unsavedRecords() == 0, "a memory-tier write was queued for a store");
                    return s;
                }
            }
        };
        workloads.add(memState);
        Workload jackson = new Workload("reference", "Jackson serialization alone (Json.MAPPER.writeValueAsString)", memN, Kind.THROUGHPUT) {
            long sink;

            @Override
            double run(Path dir, boolean warmup) throws Exception {
                long t0 = System.nanoTime();
                long total = 0;
                for (int i = 0; i < ops; i++) {
                    total += Json.MAPPER.writeValueAsString(values[i % VALUE_POOL]).length();
                }
                double s = secondsSince(t0);
                sink += total;
                return s;
            }
        };
        workloads.add(jackson);

        // ---- durable tier (the default policy: localStorage, sync, autoSave, saveDelay 1 s, debounce)
        Workload batched = new Workload("engine, durable tier", "MapSection.put, distinct keys, saveDelay batching, one save() at the end", n, Kind.THROUGHPUT) {
            @Override
            double run(Path dir, boolean warmup) {
                List<Throwable> errors = new CopyOnWriteArrayList<>();
                double s;
                try (Cairn cairn = Cairn.builder().dataDir(dir).open()) {
                    cairn.onError(errors::add);
                    MapSection map = cairn.map(StandardSections.STATE);
                    long t0 = System.nanoTime();
                    for (int i = 0; i < ops; i++) {
                        map.put(keys[i], values[i % VALUE_POOL]);
                    }
                    long t1 = System.nanoTime();
                    cairn.save().join();
                    s = secondsSince(t0);
                    if (!warmup) {
                        batchedLoop.add((t1 - t0) / 1e9);
                        batchedSave.add(secondsSince(t1));
                    }
                    check(cairn.stats().unsavedRecords() == 0, "records still unsaved after save()");
                }
                check(errors.isEmpty(), "engine reported errors: " + errors);
                if (warmup) {
                    verifyReopen(dir, ops);
                }
                return s;
            }
        };
        workloads.add(batched);
        Workload perSave = new Workload("engine, durable tier", "MapSection.put + save().join() per change", perSaveN, Kind.THROUGHPUT) {
            @Override
            double run(Path dir, boolean warmup) {
                List<Throwable> errors = new CopyOnWriteArrayList<>();
                double s;
                try (Cairn cairn = Cairn.builder().dataDir(dir).open()) {
                    cairn.onError(errors::add);
                    MapSection map = cairn.map(StandardSections.STATE);
                    long t0 = System.nanoTime();
                    for (int i = 0; i < ops; i++) {
                        map.put(keys[i], values[i % VALUE_POOL]);
                        cairn.save().join();
                    }
                    s = secondsSince(t0);
                }
                check(errors.isEmpty(), "engine reported errors: " + errors);
                if (warmup) {
                    verifyReopen(dir, ops);
                }
                return s;
            }
        };
        workloads.add(perSave);
        Workload chat = new Workload("engine, durable tier", "chat().append, 80-char text, saveDelay batching, one save() at the end", chatN, Kind.THROUGHPUT) {
            @Override
            double run(Path dir, boolean warmup) {
                List<Throwable> errors = new CopyOnWriteArrayList<>();
                double s;
                try (Cairn cairn = Cairn.builder().dataDir(dir).open()) {
                    cairn.onError(errors::add);
                    Chat c = cairn.chat();
                    long t0 = System.nanoTime();
                    for (int i = 0; i < ops; i++) {
                        c.append("conv-1", i % 2 == 0 ? "user" : "assistant", chatText);
                    }
                    long t1 = System.nanoTime();
                    cairn.save().join();
                    s = secondsSince(t0);
                    if (!warmup) {
                        chatLoop.add((t1 - t0) / 1e9);
                        chatSave.add(secondsSince(t1));
                    }
                    check(c.size("conv-1") == ops, "chat has " + c.size("conv-1") + " messages, expected " + ops);
                }
                check(errors.isEmpty(), "engine reported errors: " + errors);
                return s;
            }
        };
        workloads.add(chat);

        // ---- raw journal baseline: the engine's own durable store, written directly (fdatasync per commit)
        Workload jrnEach = rawJournal("JournalLocalStore put, commit every put", perSaveN, 1);
        Workload jrn100 = rawJournal("JournalLocalStore put, commit every 100 puts", n, 100);
        Workload jrn10k = rawJournal("JournalLocalStore put, commit every 10,000 puts", n, 10_000);
        Workload jrnEngineLayout = new Workload("raw journal baseline",
                "the engine's records (state record + outbox entry per change, same bytes), commit every 10,000 changes", n, Kind.THROUGHPUT) {
            @Override
            double run(Path dir, boolean warmup) {
                try (JournalLocalStore store = JournalLocalStore.open(dir.resolve("raw.journal"))) {
                    List<StoreWrite> batch = new ArrayList<>();
                    long t0 = System.nanoTime();
                    for (int i = 0; i < ops; i++) {
                        batch.add(engineRecords[i]);
                        batch.add(engineOutbox[i]);
                        if ((i + 1) % 10_000 == 0) {
                            store.commit(batch);
                            batch = new ArrayList<>();
                        }
                    }
                    store.commit(batch);
                    double s = secondsSince(t0);
                    check(store.count() == 2L * ops, "raw journal has " + store.count() + " records, expected " + 2L * ops);
                    return s;
                }
            }
        };
        workloads.add(jrnEach);
        workloads.add(jrn100);
        workloads.add(jrn10k);
        workloads.add(jrnEngineLayout);

        // ---- raw tiered store: the engine's durable store since issue 12 (journal + MapDB snapshots), same workloads
        Workload tieredEach = rawTiered("TieredLocalStore put, commit every put", perSaveN, 1, false);
        Workload tiered100 = rawTiered("TieredLocalStore put, commit every 100 puts", n, 100, false);
        Workload tiered10k = rawTiered("TieredLocalStore put, commit every 10,000 puts", n, 10_000, false);
        Workload tieredEngineLayout = rawTiered("the engine's records (state record + outbox entry per change, same bytes), commit every 10,000 changes",
                n, 10_000, true);
        workloads.add(tieredEach);
        workloads.add(tiered100);
        workloads.add(tiered10k);
        workloads.add(tieredEngineLayout);

        // ---- raw MapDB baseline: the transactional configuration of the former MapDbLocalStore, one B-tree byte[] -> byte[]
        Workload rawEach = rawMapDb("MapDB treeMap put, commit every put", perSaveN, 1);
        Workload raw100 = rawMapDb("MapDB treeMap put, commit every 100 puts", n, 100);
        Workload raw10k = rawMapDb("MapDB treeMap put, commit every 10,000 puts", n, 10_000);
        Workload rawEngineLayout = new Workload("raw MapDB baseline",
                "the engine's records (state record + outbox entry per change, same bytes), commit every 10,000 changes", n, Kind.THROUGHPUT) {
            @Override
            double run(Path dir, boolean warmup) {
                DB db = rawDb(dir.resolve("raw.db"));
                try {
                    BTreeMap<byte[], byte[]> map = db.treeMap("records", Serializer.BYTE_ARRAY, Serializer.BYTE_ARRAY).createOrOpen();
                    db.commit();
                    long t0 = System.nanoTime();
                    for (int i = 0; i < ops; i++) {
                        map.put(engineRecords[i].key(), engineRecords[i].value());
                        map.put(engineOutbox[i].key(), engineOutbox[i].value());
                        if ((i + 1) % 10_000 == 0) {
                            db.commit();
                        }
                    }
                    db.commit();
                    double s = secondsSince(t0);
                    check(map.sizeLong() == 2L * ops, "raw map has " + map.sizeLong() + " entries, expected " + 2L * ops);
                    return s;
                } finally {
                    db.close();
                }
            }
        };
        workloads.add(rawEach);
        workloads.add(raw100);
        workloads.add(raw10k);
        workloads.add(rawEngineLayout);

        // ---- open time of a store with n keys, made once by the engine; the same records in a journal of the old store
        Path[] openStore = new Path[2]; // {engine data dir (tiered store), old-style journal file}
        Workload open = new Workload("open", "Cairn.builder().dataDir(dir).open() + close() (tiered store; the engine decodes every record into memory)", openKeys, Kind.OPEN) {
            @Override
            void prepare(Path base) {
                log("making the %,d-key store for the open-time runs", ops);
                openStore[0] = Dirs.tempDir(base, "cairn-bench-open-");
                try (Cairn cairn = Cairn.builder().dataDir(openStore[0]).open()) {
                    MapSection map = cairn.map(StandardSections.STATE);
                    for (int i = 0; i < ops; i++) {
                        map.put(keys[i], values[i % VALUE_POOL]);
                        if ((i + 1) % 100_000 == 0) {
                            cairn.save().join(); // one commit must stay below the journal's 256 MiB record limit
                        }
                    }
                    cairn.save().join();
                }
                // Let the background move finish, as it does on a device between sessions; then copy every record
                // into a journal of the old store, compacted (records in key order, 4 MiB per journal record).
                Path legacyDir = Dirs.tempDir(base, "cairn-bench-open-journal-");
                openStore[1] = legacyDir.resolve(Cairn.DURABLE_FILE);
                try (TieredLocalStore tiered = TieredLocalStore.open(openStore[0]);
                     JournalLocalStore journal = JournalLocalStore.open(openStore[1])) {
                    tiered.checkpoint();
                    List<StoreWrite> chunk = new ArrayList<>();
                    long[] chunkBytes = {0};
                    tiered.scan(new byte[0], (k, v) -> {
                        chunk.add(StoreWrite.put(k, v));
                        chunkBytes[0] += k.length + v.length + 9;
                        if (chunkBytes[0] > (4 << 20)) {
                            journal.commit(chunk);
                            chunk.clear();
                            chunkBytes[0] = 0;
                        }
                    });
                    journal.commit(chunk);
                    storeFacts[1] = journal.count();
                    storeFacts[3] = tiered.snapshotCount();
                }
                storeFacts[0] = Dirs.size(openStore[0], "cairn-") + Dirs.size(openStore[0], "cairn.manifest");
                storeFacts[4] = Dirs.size(legacyDir, Cairn.DURABLE_FILE);
            }

            @Override
            double run(Path dir, boolean warmup) {
                long t0 = System.nanoTime();
                Cairn cairn = Cairn.builder().dataDir(openStore[0]).open();
                cairn.close();
                double s = secondsSince(t0);
                if (warmup) {
                    try (Cairn c = Cairn.builder().dataDir(openStore[0]).open()) {
                        storeFacts[2] = c.map(StandardSections.STATE).size();
                        check(storeFacts[2] == ops, "reopened store has " + storeFacts[2] + " keys, expected " + ops);
                    }
                }
                return s;
            }

            @Override
            void cleanup() {
                Dirs.deleteTree(openStore[0]);
                Dirs.deleteTree(openStore[1].getParent());
            }
        };
        workloads.add(open);
        Workload journalOpen = new Workload("open", "old store: raw JournalLocalStore open (replays the whole journal into its sorted map) + close, same records", openKeys, Kind.OPEN) {
            @Override
            double run(Path dir, boolean warmup) {
                long t0 = System.nanoTime();
                JournalLocalStore store = JournalLocalStore.open(openStore[1]);
                long count = store.count();
                store.close();
                double s = secondsSince(t0);
                check(count == storeFacts[1], "journal has " + count + " records, expected " + storeFacts[1]);
                return s;
            }
        };
        workloads.add(journalOpen);
        Workload tieredOpen = new Workload("open", "new store: raw TieredLocalStore open (manifest + journal tail) + close", openKeys, Kind.OPEN) {
            @Override
            double run(Path dir, boolean warmup) {
                long t0 = System.nanoTime();
                TieredLocalStore store = TieredLocalStore.open(openStore[0]);
                store.close();
                return secondsSince(t0);
            }
        };
        workloads.add(tieredOpen);
        Workload tieredFirstGet = new Workload("open", "new store: raw TieredLocalStore open + first get (maps the snapshots, verifies their CRC32C) + close", openKeys, Kind.OPEN) {
            @Override
            double run(Path dir, boolean warmup) {
                long t0 = System.nanoTime();
                TieredLocalStore store = TieredLocalStore.open(openStore[0]);
                byte[] v = store.get(Records.mapKey(StandardSections.STATE, keys[ops / 2]));
                store.close();
                double s = secondsSince(t0);
                check(v != null, "key " + keys[ops / 2] + " not found");
                return s;
            }
        };
        workloads.add(tieredFirstGet);
        workloads.add(new Workload("open", "old store: raw JournalLocalStore open + scan of every record + close", openKeys, Kind.OPEN) {
            @Override
            double run(Path dir, boolean warmup) {
                long t0 = System.nanoTime();
                JournalLocalStore store = JournalLocalStore.open(openStore[1]);
                long[] seen = new long[1];
                store.scan(new byte[0], (k, v) -> seen[0]++);
                store.close();
                double s = secondsSince(t0);
                check(seen[0] == storeFacts[1], "scan saw " + seen[0] + " records, expected " + storeFacts[1]);
                return s;
            }
        });
        workloads.add(new Workload("open", "new store: raw TieredLocalStore open + scan of every record + close", openKeys, Kind.OPEN) {
            @Override
            double run(Path dir, boolean warmup) {
                long t0 = System.nanoTime();
                TieredLocalStore store = TieredLocalStore.open(openStore[0]);
                long[] seen = new long[1];
                store.scan(new byte[0], (k, v) -> seen[0]++);
                store.close();
                double s = secondsSince(t0);
                check(seen[0] == storeFacts[1], "scan saw " + seen[0] + " records, expected " + storeFacts[1]);
                return s;
            }
        });

        // ---- run
        long started = System.nanoTime();
        log("local suite: n=%,d, memory-tier ops=%,d, per-save ops=%,d, chat ops=%,d, open-store keys=%,d, runs=%d (+1 warm-up), dir=%s",
                n, memN, perSaveN, chatN, openKeys, o.runs(), o.dir());
        log("value: %d bytes of JSON, e.g. %s", valueBytes[0].length, new String(valueBytes[0], StandardCharsets.UTF_8));
        for (Workload w : workloads) {
            w.prepare(o.dir());
        }
        try {
            for (int round = 0; round <= o.runs(); round++) {
                boolean warmup = round == 0;
                for (Workload w : workloads) {
                    Path dir = Dirs.tempDir(o.dir(), "cairn-bench-");
                    try {
                        System.gc();
                        Thread.sleep(100);
                        long gc0 = gcMillis();
                        double s = w.run(dir, warmup);
                        double gc = (gcMillis() - gc0) / 1e3;
                        if (!warmup) {
                            w.seconds.add(s);
                            w.gcSeconds.add(gc);
                        }
                        log("[%s] %-60s %9.1f ms%s", warmup ? "warm-up" : "run " + round + "/" + o.runs(),
                                w.group + ": " + shorten(w.name), s * 1e3,
                                w.kind == Kind.THROUGHPUT ? String.format(Locale.ROOT, "  %,12.0f ops/s", w.ops / s) : "");
                    } finally {
                        Dirs.deleteTree(dir);
                    }
                }
            }
        } finally {
            for (Workload w : workloads) {
                w.cleanup();
            }
        }
        log("done in %.1f s", secondsSince(started));
        String amplification = writeAmplification(o.dir(), openKeys);

        // ---- report
        StringBuilder out = new StringBuilder();
        out.append("## Cairn local suite\n\n");
        out.append(String.format(Locale.ROOT, "- run finished %s, `local --runs %d --n %d --open-keys %d`, %d measured runs per workload after 1 warm-up run, medians of those runs; suite took %.0f s%n",
                Instant.now().toString().substring(0, 19) + "Z", o.runs(), n, openKeys, o.runs(), secondsSince(started)));
        out.append(String.format(Locale.ROOT, "- JVM: %s %s (%s), %d available processors, max heap %,d MiB; OS: %s %s %s%n",
                System.getProperty("java.vm.name"), System.getProperty("java.runtime.version"), System.getProperty("java.vendor"),
                Runtime.getRuntime().availableProcessors(), Runtime.getRuntime().maxMemory() >> 20,
                System.getProperty("os.name"), System.getProperty("os.version"), System.getProperty("os.arch")));
        out.append(String.format(Locale.ROOT, "- stores in: %s; written value: %d bytes of JSON (%s)%n%n",
                o.dir(), valueBytes[0].length, new String(valueBytes[0], StandardCharsets.UTF_8)));

        out.append("### Write throughput\n\n");
        out.append("| group | workload | ops per run | median ops/s | min ops/s | max ops/s | median time per run | median GC time per run |\n");
        out.append("|---|---|--:|--:|--:|--:|--:|--:|\n");
        for (Workload w : workloads) {
            if (w.kind != Kind.THROUGHPUT) {
                continue;
            }
            out.append(String.format(Locale.ROOT, "| %s | %s | %,d | %,.0f | %,.0f | %,.0f | %,.1f ms | %,.1f ms |%n",
                    w.group, w.name, w.ops, opsPerSecond(w), w.ops / w.seconds.max(), w.ops / w.seconds.min(), w.seconds.median() * 1e3,
                    w.gcSeconds.median() * 1e3));
        }
        out.append("\n### Ratios to the raw baselines (medians of this invocation)\n\n");
        out.append("| comparison | ratio |\n|---|--:|\n");
        ratio(out, "engine durable, save() per change ÷ raw journal commit every put", perSave, jrnEach);
        ratio(out, "engine durable, saveDelay batching ÷ raw journal commit every 10,000 puts", batched, jrn10k);
        ratio(out, "engine durable, saveDelay batching ÷ raw journal commit every 100 puts", batched, jrn100);
        ratio(out, "engine durable, saveDelay batching ÷ raw journal with the engine's records, commit every 10,000 changes", batched, jrnEngineLayout);
        ratio(out, "raw journal ÷ raw MapDB, commit every put", jrnEach, rawEach);
        ratio(out, "raw journal ÷ raw MapDB, commit every 100 puts", jrn100, raw100);
        ratio(out, "raw journal ÷ raw MapDB, commit every 10,000 puts", jrn10k, raw10k);
        ratio(out, "raw journal ÷ raw MapDB, the engine's records, commit every 10,000 changes", jrnEngineLayout, rawEngineLayout);
        ratio(out, "engine durable, save() per change ÷ raw MapDB commit every put", perSave, rawEach);
        ratio(out, "engine durable, saveDelay batching ÷ raw MapDB commit every 10,000 puts", batched, raw10k);
        ratio(out, "engine durable, saveDelay batching ÷ raw MapDB commit every 100 puts", batched, raw100);
        ratio(out, "engine durable, saveDelay batching ÷ raw MapDB with the engine's records, commit every 10,000 changes", batched, rawEngineLayout);
        ratio(out, "raw tiered store ÷ raw journal, commit every put", tieredEach, jrnEach);
        ratio(out, "raw tiered store ÷ raw journal, commit every 100 puts", tiered100, jrn100);
        ratio(out, "raw tiered store ÷ raw journal, commit every 10,000 puts", tiered10k, jrn10k);
        ratio(out, "raw tiered store ÷ raw journal, the engine's records, commit every 10,000 changes", tieredEngineLayout, jrnEngineLayout);

        out.append("\n### Where the batched time goes (medians)\n\n");
        out.append("| workload | write loop (calls return) | final save().join() |\n|---|--:|--:|\n");
        out.append(String.format(Locale.ROOT, "| %s | %,.1f ms | %,.1f ms |%n", batched.name, batchedLoop.median() * 1e3, batchedSave.median() * 1e3));
        out.append(String.format(Locale.ROOT, "| %s | %,.1f ms | %,.1f ms |%n", chat.name, chatLoop.median() * 1e3, chatSave.median() * 1e3));

        out.append(String.format(Locale.ROOT, "%n### Open time of a store with %,d keys%n%n", openKeys));
        out.append(String.format(Locale.ROOT, "Store made once by the engine (%,d keys written with the default policy, a save() every 100,000, "
                        + "close(), then the background move finished): %,d live keys, %,d records (state records + outbox entries + metadata); "
                        + "tiered store %,.1f MiB on disk in %d MapDB snapshots + journal tail; the same records in a compacted journal of the old store "
                        + "%,.1f MiB.%n%n",
                openKeys, storeFacts[2], storeFacts[1], storeFacts[0] / 1048576.0, storeFacts[3], storeFacts[4] / 1048576.0));
        out.append("| measurement | median | min | max | median GC time |\n|---|--:|--:|--:|--:|\n");
        for (Workload w : workloads) {
            if (w.kind == Kind.OPEN) {
                out.append(String.format(Locale.ROOT, "| %s | %,.1f ms | %,.1f ms | %,.1f ms | %,.1f ms |%n",
                        w.name, w.seconds.median() * 1e3, w.seconds.min() * 1e3, w.seconds.max() * 1e3, w.gcSeconds.median() * 1e3));
            }
        }
        out.append(String.format(Locale.ROOT, "%n| open ratio (medians) | ratio |%n|---|--:|%n| new store open ÷ old store open (replay) | %.3f× |%n"
                        + "| new store open + first get ÷ old store open (replay) | %.3f× |%n",
                tieredOpen.seconds.median() / journalOpen.seconds.median(), tieredFirstGet.seconds.median() / journalOpen.seconds.median()));
        out.append(amplification);
        System.out.print(out);
        System.out.flush();
    }

    /**
     * Bytes the tiered store writes (journal + snapshots, default options) per byte of keys and
     * values committed: first while {@code keys} distinct keys are inserted, then at steady state,
     * while as many updates of random existing keys are committed (1,000 per commit). The
     * background work still pending at the end is finished ({@code checkpoint}) and counted.
     */
    private String writeAmplification(Path base, int keys) {
        Path dir = Dirs.tempDir(base, "cairn-bench-wa-");
        try (TieredLocalStore store = TieredLocalStore.open(dir.resolve("store"))) {
            java.util.Random random = new java.util.Random(12);
            long[] payload = new long[2];
            long[][] written = new long[3][];
            written[0] = store.bytesWritten();
            long t0 = System.nanoTime();
            for (int phase = 0; phase < 2; phase++) {
                List<StoreWrite> batch = new ArrayList<>();
                for (int i = 0; i < keys; i++) {
                    int k = phase == 0 ? i : random.nextInt(keys);
                    byte[] key = ("key-" + k).getBytes(StandardCharsets.UTF_8);
                    byte[] value = valueBytes[(i + phase) % VALUE_POOL];
                    batch.add(StoreWrite.put(key, value));
                    payload[phase] += key.length + value.length;
                    if (batch.size() == 1_000) {
                        store.commit(batch);
                        batch = new ArrayList<>();
                    }
                }
                store.commit(batch);
                store.checkpoint();
                written[phase + 1] = store.bytesWritten();
                log("write amplification phase %d done after %.1f s, %d snapshots", phase, secondsSince(t0), store.snapshotCount());
            }
            StringBuilder out = new StringBuilder();
            out.append(String.format(Locale.ROOT, "%n### Write amplification of the tiered store (default options: 4 MiB segments, fanout 4)%n%n"));
            out.append("| phase | keys and values committed | journal bytes written | snapshot bytes written | (journal + snapshots) ÷ committed |\n|---|--:|--:|--:|--:|\n");
            String[] names = {"insert " + String.format(Locale.ROOT, "%,d", keys) + " distinct keys", "then " + String.format(Locale.ROOT, "%,d", keys) + " updates of random existing keys (steady state)"};
            for (int phase = 0; phase < 2; phase++) {
                long j = written[phase + 1][0] - written[phase][0];
                long sn = written[phase + 1][1] - written[phase][1];
                out.append(String.format(Locale.ROOT, "| %s | %,.1f MiB | %,.1f MiB | %,.1f MiB | %.2f |%n", names[phase], payload[phase] / 1048576.0,
                        j / 1048576.0, sn / 1048576.0, (double) (j + sn) / payload[phase]));
            }
            return out.toString();
        } finally {
            Dirs.deleteTree(dir);
        }
    }

    private Workload rawTiered(String name, int ops, int commitEvery, boolean engineLayout) {
        return new Workload("raw tiered store", name, ops, Kind.THROUGHPUT) {
            @Override
            double run(Path dir, boolean warmup) {
                try (TieredLocalStore store = TieredLocalStore.open(dir.resolve("tiered"))) {
                    List<StoreWrite> batch = new ArrayList<>();
                    long t0 = System.nanoTime();
                    for (int i = 0; i < ops; i++) {
                        if (engineLayout) {
                            batch.add(engineRecords[i]);
                            batch.add(engineOutbox[i]);
                        } else {
                            batch.add(StoreWrite.put(keyBytes[i], valueBytes[i % VALUE_POOL]));
                        }
                        if ((i + 1) % commitEvery == 0) {
                            store.commit(batch);
                            batch = new ArrayList<>();
                        }
                    }
                    store.commit(batch);
                    double s = secondsSince(t0);
                    long expected = engineLayout ? 2L * ops : ops;
                    check(store.count() == expected, "tiered store has " + store.count() + " records, expected " + expected);
                    return s;
                }
            }
        };
    }

    // ------------------------------------------------------------------ helpers

    private void prepareData(int count, int n) throws Exception {
        values = new UiState[VALUE_POOL];
        valueBytes = new byte[VALUE_POOL][];
        Instant base = Instant.parse("2026-01-15T10:23:45.123Z");
        for (int i = 0; i < VALUE_POOL; i++) {
            values[i] = new UiState(i % 2 == 0, i % 3 == 0, base.plusMillis(i * 7919L).toString(), String.format(Locale.ROOT, "sidebar-%04d", i));
            valueBytes[i] = Json.MAPPER.writeValueAsString(values[i]).getBytes(StandardCharsets.UTF_8);
        }
        keys = new String[count];
        for (int i = 0; i < count; i++) {
            keys[i] = "key-" + i;
        }
        keyBytes = new byte[n][];
        engineRecords = new StoreWrite[n];
        engineOutbox = new StoreWrite[n];
        long hlc = Stamp.pack(base.toEpochMilli(), 0);
        for (int i = 0; i < n; i++) {
            keyBytes[i] = keys[i].getBytes(StandardCharsets.UTF_8);
            Change.Put put = new Change.Put(StandardSections.STATE, keys[i],
                    new String(valueBytes[i % VALUE_POOL], StandardCharsets.UTF_8), new Stamp(hlc + ((long) i << Stamp.COUNTER_BITS), "abcdefghijklmnop"));
            engineRecords[i] = Records.write(put);
            engineOutbox[i] = StoreWrite.put(Records.outboxKey(i + 1L), Records.outboxValue(put));
        }
        StringBuilder t = new StringBuilder();
        while (t.length() < 80) {
            t.append("The quick brown fox jumps over the lazy dog. ");
        }
        chatText = t.substring(0, 80);
    }

    private Workload rawMapDb(String name, int ops, int commitEvery) {
        return new Workload("raw MapDB baseline", name, ops, Kind.THROUGHPUT) {
            @Override
            double run(Path dir, boolean warmup) {
                DB db = rawDb(dir.resolve("raw.db"));
                try {
                    BTreeMap<byte[], byte[]> map = db.treeMap("records", Serializer.BYTE_ARRAY, Serializer.BYTE_ARRAY).createOrOpen();
                    db.commit();
                    long t0 = System.nanoTime();
                    for (int i = 0; i < ops; i++) {
                        map.put(keyBytes[i], valueBytes[i % VALUE_POOL]);
                        if ((i + 1) % commitEvery == 0) {
                            db.commit();
                        }
                    }
                    db.commit();
                    double s = secondsSince(t0);
                    check(map.sizeLong() == ops, "raw map has " + map.sizeLong() + " entries, expected " + ops);
                    return s;
                } finally {
                    db.close();
                }
            }
        };
    }

    private Workload rawJournal(String name, int ops, int commitEvery) {
        return new Workload("raw journal baseline", name, ops, Kind.THROUGHPUT) {
            @Override
            double run(Path dir, boolean warmup) {
                try (JournalLocalStore store = JournalLocalStore.open(dir.resolve("raw.journal"))) {
                    List<StoreWrite> batch = new ArrayList<>(Math.min(commitEvery, ops));
                    long t0 = System.nanoTime();
                    for (int i = 0; i < ops; i++) {
                        batch.add(StoreWrite.put(keyBytes[i], valueBytes[i % VALUE_POOL]));
                        if ((i + 1) % commitEvery == 0) {
                            store.commit(batch);
                            batch = new ArrayList<>(Math.min(commitEvery, ops));
                        }
                    }
                    store.commit(batch); // a no-op when empty
                    double s = secondsSince(t0);
                    check(store.count() == ops, "raw journal has " + store.count() + " records, expected " + ops);
                    return s;
                }
            }
        };
    }

    /** The transactional MapDB configuration of the former MapDbLocalStore (minus fileLockDisable, which only affects opening a file). */
    private static DB rawDb(Path file) {
        return DBMaker.fileDB(file.toFile())
                .transactionEnable()
                .fileMmapEnableIfSupported()
                .fileMmapPreclearDisable()
                .cleanerHackEnable()
                .make();
    }

    private static void verifyReopen(Path dir, int expectedKeys) {
        try (Cairn cairn = Cairn.builder().dataDir(dir).open()) {
            int size = cairn.map(StandardSections.STATE).size();
            check(size == expectedKeys, "after reopening, the store has " + size + " keys, expected " + expectedKeys);
        }
    }

    private static double opsPerSecond(Workload w) {
        return w.ops / w.seconds.median();
    }

    private static void ratio(StringBuilder out, String label, Workload a, Workload b) {
        out.append(String.format(Locale.ROOT, "| %s | %.2f× |%n", label, opsPerSecond(a) / opsPerSecond(b)));
    }

    private static String shorten(String s) {
        int comma = s.indexOf(" (");
        return comma < 0 ? s : s.substring(0, comma);
    }

    private static long gcMillis() {
        long total = 0;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            total += Math.max(0, gc.getCollectionTime());
        }
        return total;
    }

    private static double secondsSince(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    private static void check(boolean ok, String message) {
        if (!ok) {
            throw new IllegalStateException(message);
        }
    }

    private static void log(String format, Object... args) {
        System.err.println(String.format(Locale.ROOT, format, args));
    }
}
