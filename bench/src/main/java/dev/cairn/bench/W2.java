package dev.cairn.bench;

import dev.cairn.engine.MapSection;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.section.StandardSections;
import dev.cairn.engine.store.JournalLocalStore;
import dev.cairn.engine.store.StoreWrite;
import io.vertx.core.Future;
import io.vertx.pgclient.PgBuilder;
import io.vertx.pgclient.PgConnectOptions;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import io.vertx.sqlclient.Tuple;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * W2 ingest, as the peers' w2.js: {@code w2-devices} devices, each its own user, each a real
 * engine (memory store: the device's disk is not what W2 measures) with a sync client, connected
 * before the clock starts. Each device's thread then makes {@code w2-changes} changes
 * {@code ui["k" + i] = card(i)} as fast as the engine takes them, and calls {@code syncNow()},
 * which completes when the server has acknowledged every change, and an ack is sent only after
 * the commit (PROTOCOL.md 4.1). Done when every device's syncNow has completed:
 * changes/s = devices × changes / that time.
 *
 * <p>Ceilings, same invocation: for pg, raw vertx-pg-client inserts of the same number of rows
 * into a table shaped like {@code map_entries} (same columns, primary key and seq index), one
 * {@code INSERT ... SELECT FROM unnest(...)} transaction per 500 rows (the sync client's batch
 * size), one writer per device, through a pool of 8 connections (the server's default pool
 * size). For embedded, the raw engine journal the server's embedded store is built on
 * ({@link JournalLocalStore}, fsync per commit): one commit per 500 puts of the same JSON values,
 * one writer (the embedded committer is single).
 */
final class W2 {

    static final int BATCH = 500;

    private W2() {
    }

    static void run(Ctx ctx) throws Exception {
        int devices = ctx.args.integer("w2-devices");
        int changes = ctx.args.integer("w2-changes");
        int runs = ctx.args.integer("runs");
        for (int run = 1; run <= runs; run++) {
            for (String store : ctx.args.stores()) {
                try (Site site = Site.start(ctx, store, 1)) {
                    ctx.report.add("W2 ingest", "cairn " + store, run, ingest(ctx, site, devices, changes, "w2r" + run));
                }
                if (ctx.args.bool("ceilings")) {
                    if (store.equals("pg")) {
                        ctx.report.add("W2 ingest", "ceiling pg: raw vertx-pg-client unnest inserts, 500 rows/txn, pool 8", run,
                                rawPg(ctx, devices, changes));
                    } else {
                        ctx.report.add("W2 ingest", "ceiling embedded: raw engine journal (server store's base), commit per 500 puts", run,
                                rawJournal(ctx, devices, changes));
                    }
                }
            }
        }
    }

    /** The measured part of W2 on a running site (also W6's scaling run). */
    static Map<String, Object> ingest(Ctx ctx, Site site, int devices, int changes, String tag) throws Exception {
        List<Device> ds = new ArrayList<>();
        try {
            for (int d = 0; d < devices; d++) {
                ds.add(Device.open("w2-d" + d, null, site.syncUri(d), tag + "-user-" + d).start());
            }
            for (Device d : ds) {
                d.awaitLive(60_000);
            }
            long rssBefore = site.rssKiB();
            AtomicLong lastWriteDone = new AtomicLong();
            List<CompletableFuture<Void>> done = new ArrayList<>();
            long start = System.nanoTime();
            for (Device d : ds) {
                CompletableFuture<Void> f = new CompletableFuture<>();
                done.add(f);
                Thread t = new Thread(() -> {
                    try {
                        MapSection map = d.cairn.map(StandardSections.UI);
                        for (int i = 0; i < changes; i++) {
                            map.put("k" + i, Values.card(i));
                        }
                        lastWriteDone.accumulateAndGet(System.nanoTime(), Math::max);
                        d.sync.syncNow().whenComplete((v, e) -> {
                            if (e != null) {
                                f.completeExceptionally(e);
                            } else {
                                f.complete(null);
                            }
                        });
                    } catch (Throwable e) {
                        f.completeExceptionally(e);
                    }
                }, "w2-writer-" + d.cairn.replicaId());
                t.start();
            }
            CompletableFuture.allOf(done.toArray(CompletableFuture[]::new)).get(30, TimeUnit.MINUTES);
            long end = System.nanoTime();
            for (Device d : ds) {
                if (d.cairn.pendingChanges() != 0) {
                    throw new IllegalStateException(d.cairn.replicaId() + " still has " + d.cairn.pendingChanges() + " unacknowledged changes");
                }
                if (d.cairn.map(StandardSections.UI).size() != changes) {
                    throw new IllegalStateException(d.cairn.replicaId() + " has " + d.cairn.map(StandardSections.UI).size() + " keys");
                }
            }
            double seconds = (end - start) / 1e9;
            long total = (long) devices * changes;
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("nodes", site.nodes.size());
            m.put("changes", total);
            m.put("changes/s (acked)", total / seconds);
            m.put("acked ms", seconds * 1e3);
            m.put("client writes done ms", (lastWriteDone.get() - start) / 1e6);
            m.put("bytes sent", ds.stream().mapToLong(Device::sent).sum());
            m.put("server RSS before MiB", rssBefore / 1024.0);
            m.put("server RSS after MiB", site.rssKiB() / 1024.0);
            if (site.store.equals("embedded")) {
                m.put("server data dir KiB", site.dataDirBytes() / 1024.0);
            }
            Ctx.log("W2 cairn %s, %d node(s): %,.0f changes/s acked (%,.0f ms)", site.store, site.nodes.size(), total / seconds, seconds * 1e3);
            return m;
        } finally {
            for (Device d : ds) {
                try {
                    d.close();
                } catch (RuntimeException e) {
                    Ctx.log("closing a device: %s", e);
                }
            }
        }
    }

    private static final String RAW_TABLE = """
            CREATE TABLE raw_entries (
                user_id text NOT NULL, section text NOT NULL, key text NOT NULL, value text COLLATE "C",
                hlc bigint NOT NULL, replica text COLLATE "C" NOT NULL, seq bigint NOT NULL,
                PRIMARY KEY (user_id, section, key));
            CREATE INDEX raw_entries_user_seq ON raw_entries (user_id, seq)""";

    private static final String RAW_INSERT = """
            INSERT INTO raw_entries (user_id, section, key, value, hlc, replica, seq)
            SELECT $1, x.section, x.key, x.value, x.hlc, x.replica, x.seq
            FROM unnest($2::text[], $3::text[], $4::text[], $5::int8[], $6::text[], $7::int8[]) AS x(section, key, value, hlc, replica, seq)""";

    static Map<String, Object> rawPg(Ctx ctx, int devices, int changes) throws Exception {
        String url = ctx.createDatabase();
        Pool pool = null;
        try {
            pool = PgBuilder.pool().with(new PoolOptions().setMaxSize(8)).connectingTo(PgConnectOptions.fromUri(url)
                    .setPipeliningLimit(256).setCachePreparedStatements(true)).using(ctx.vertx).build();
            Ctx.await(pool.query(RAW_TABLE).execute());
            String[][] values = new String[devices][changes];
            for (int d = 0; d < devices; d++) {
                for (int i = 0; i < changes; i++) {
                    values[d][i] = Json.MAPPER.writeValueAsString(Values.card(i));
                }
            }
            Pool p = pool;
            long start = System.nanoTime();
            List<Future<Void>> writers = new ArrayList<>();
            for (int d = 0; d < devices; d++) {
                int dev = d;
                Future<Void> chain = Future.succeededFuture();
                for (int from = 0; from < changes; from += BATCH) {
                    int lo = from;
                    int hi = Math.min(changes, from + BATCH);
                    chain = chain.compose(v -> p.withTransaction(conn -> conn.preparedQuery(RAW_INSERT).execute(batch(dev, lo, hi, values[dev])))
                            .mapEmpty());
                }
                writers.add(chain);
            }
            Ctx.await(Future.all(writers));
            double seconds = (System.nanoTime() - start) / 1e9;
            long rows = Ctx.await(pool.query("SELECT count(*) FROM raw_entries").execute()).iterator().next().getLong(0);
            if (rows != (long) devices * changes) {
                throw new IllegalStateException("raw table has " + rows + " rows");
            }
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("changes", rows);
            m.put("changes/s (acked)", rows / seconds);
            m.put("acked ms", seconds * 1e3);
            Ctx.log("W2 raw pg ceiling: %,.0f rows/s", rows / seconds);
            return m;
        } finally {
            if (pool != null) {
                Ctx.await(pool.close());
            }
            ctx.dropDatabase(url);
        }
    }

    private static Tuple batch(int device, int lo, int hi, String[] values) {
        int n = hi - lo;
        String[] sections = new String[n];
        String[] keys = new String[n];
        String[] vals = new String[n];
        Long[] hlcs = new Long[n];
        String[] replicas = new String[n];
        Long[] seqs = new Long[n];
        long hlc = System.currentTimeMillis() << 16;
        for (int i = 0; i < n; i++) {
            sections[i] = StandardSections.UI;
            keys[i] = "k" + (lo + i);
            vals[i] = values[lo + i];
            hlcs[i] = hlc + i;
            replicas[i] = "w2-d" + device;
            seqs[i] = (long) lo + i + 1;
        }
        return Tuple.tuple().addString("w2-raw-" + device).addArrayOfString(sections).addArrayOfString(keys).addArrayOfString(vals)
                .addArrayOfLong(hlcs).addArrayOfString(replicas).addArrayOfLong(seqs);
    }

    static Map<String, Object> rawJournal(Ctx ctx, int devices, int changes) throws Exception {
        Path dir = ctx.newDir("w2-rawjournal-");
        try {
            byte[][] values = new byte[changes][];
            for (int i = 0; i < changes; i++) {
                values[i] = Json.MAPPER.writeValueAsString(Values.card(i)).getBytes(StandardCharsets.UTF_8);
            }
            long start = System.nanoTime();
            long count;
            // the server's embedded store is a JournalServerStore on this journal, fsynced per commit
            try (JournalLocalStore journal = JournalLocalStore.open(dir.resolve("raw.journal"))) {
                List<StoreWrite> batch = new ArrayList<>(BATCH);
                for (int d = 0; d < devices; d++) {
                    for (int i = 0; i < changes; i++) {
                        batch.add(StoreWrite.put(("w2-raw-" + d + "\u0000ui\u0000k" + i).getBytes(StandardCharsets.UTF_8), values[i]));
                        if (batch.size() == BATCH) {
                            journal.commit(batch);
                            batch = new ArrayList<>(BATCH);
                        }
                    }
                }
                if (!batch.isEmpty()) {
                    journal.commit(batch);
                }
                count = journal.count();
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("changes", count);
            m.put("changes/s (acked)", count / seconds);
            m.put("acked ms", seconds * 1e3);
            Ctx.log("W2 raw journal ceiling: %,.0f puts/s", count / seconds);
            return m;
        } finally {
            Dirs.deleteTree(dir);
        }
    }
}
