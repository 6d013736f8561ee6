package dev.cairn.server.store;

import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.LwwEntry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.RejectedExecutionException;
import org.mapdb.BTreeMap;
import org.mapdb.DB;
import org.mapdb.DBMaker;
import org.mapdb.Serializer;

/**
 * {@link ServerStore} in one MapDB file: the embedded default, so {@code java -jar} works with
 * nothing installed. Single node only (MapDB locks the file).
 *
 * <p>Records are laid out as in {@link MapDbRecords}: per user a head, the winning entry per map
 * key, visible log entries, watermarks, and a seq index, so {@link #readSince} is one range scan.
 * Semantics match {@link PgServerStore}: a user's changes are merged first
 * ({@link UserChanges#merge}), the i-th merged change gets seq {@code previousHead + 1 + i}, and
 * it keeps that seq only if it altered the state.
 *
 * <p>MapDB work is blocking and MapDB transactions do not isolate readers from uncommitted
 * writes, so every operation runs on one dedicated worker thread, in submission order: a read
 * never sees half a commit. One {@link #commit} is one MapDB commit (group commit); on failure it
 * is rolled back and the future fails with {@link StoreUnavailableException}. The worker pool
 * ({@value #WORKER_POOL}, one thread) is shared by every MapDB store of one Vert.x instance.
 *
 * <p>Thread-safety: all methods may be called from any thread.
 */
public final class MapDbServerStore implements ServerStore {

    /** Name of the single-thread worker pool all MapDB work runs on. */
    public static final String WORKER_POOL = "cairn-mapdb";

    private final Vertx vertx;
    private final Path file;
    private volatile WorkerExecutor worker;
    private volatile boolean closed;
    // Touched only on the worker thread.
    private DB db;
    private BTreeMap<byte[], byte[]> records;

    private MapDbServerStore(Vertx vertx, Path file) {
        this.vertx = vertx;
        this.file = file;
    }

    /** A store on {@code file} (created if missing by {@link #start()}). */
    public static MapDbServerStore open(Vertx vertx, Path file) {
        return new MapDbServerStore(Objects.requireNonNull(vertx, "vertx"), Objects.requireNonNull(file, "file"));
    }

    public Path file() {
        return file;
    }

    @Override
    public String kind() {
        return "mapdb";
    }

    @Override
    public synchronized Future<Void> start() {
        if (worker != null || closed) {
            return Future.failedFuture(new IllegalStateException("MapDB server store " + file + " is already "
                    + (closed ? "closed" : "started") + "; open a new instance"));
        }
        worker = vertx.createSharedWorkerExecutor(WORKER_POOL, 1);
        return run("open", () -> {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            DB opened = DBMaker.fileDB(file.toFile())
                    .transactionEnable()
                    .fileMmapEnableIfSupported()
                    .fileMmapPreclearDisable()
                    .cleanerHackEnable()
                    .make();
            try {
                records = opened.treeMap("server-records", Serializer.BYTE_ARRAY, Serializer.BYTE_ARRAY)
                        .valuesOutsideNodesEnable()
                        .createOrOpen();
                opened.commit();
            } catch (RuntimeException e) {
                opened.close();
                throw new IllegalStateException(file + " is not a Cairn server store or is damaged: " + e.getMessage(), e);
            }
            db = opened;
            return null;
        });
    }

    @Override
    public Future<Map<String, CommitResult>> commit(List<UserBatch> batches) {
        TreeMap<String, List<Change>> byUser;
        try {
            byUser = UserChanges.byUser(batches);
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
        if (byUser.isEmpty()) {
            return Future.succeededFuture(Map.of());
        }
        return run("commit", () -> {
            BTreeMap<byte[], byte[]> r = tree();
            try {
                Map<String, CommitResult> results = new LinkedHashMap<>();
                byUser.forEach((user, changes) -> results.put(user, commitUser(r, user, UserChanges.merge(changes))));
                db.commit();
                return Collections.unmodifiableMap(results);
            } catch (RuntimeException | Error e) {
                try {
                    db.rollback();
                } catch (RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
                throw e;
            }
        });
    }

    private static CommitResult commitUser(BTreeMap<byte[], byte[]> r, String user, List<Change> changes) {
        byte[] prefix = MapDbRecords.userPrefix(user);
        byte[] headKey = MapDbRecords.headKey(prefix);
        byte[] stored = r.get(headKey);
        long previousHead = stored == null ? 0L : MapDbRecords.readLong(stored);
        List<Sequenced> applied = new ArrayList<>();
        for (int i = 0; i < changes.size(); i++) {
            long seq = previousHead + 1 + i;
            Change change = changes.get(i);
            boolean altered;
            if (change instanceof Change.Put put) {
                altered = put(r, prefix, put, seq);
            } else if (change instanceof Change.Append append) {
                altered = append(r, prefix, append, seq);
            } else {
                altered = clear(r, prefix, (Change.Clear) change, seq);
            }
            if (altered) {
                applied.add(new Sequenced(seq, change));
            }
        }
        long head = previousHead + changes.size();
        if (!changes.isEmpty()) {
            r.put(headKey, MapDbRecords.longValue(head));
        }
        return new CommitResult(user, previousHead, head, Collections.unmodifiableList(applied));
    }

    private static boolean put(BTreeMap<byte[], byte[]> r, byte[] prefix, Change.Put put, long seq) {
        byte[] key = MapDbRecords.mapKey(prefix, put.section(), put.key());
        byte[] old = r.get(key);
        LwwEntry entry = put.entry();
        if (old != null) {
            if (!entry.beats(MapDbRecords.mapEntry(old))) {
                return false;
            }
            r.remove(MapDbRecords.seqKey(prefix, MapDbRecords.seqOf(old)));
        }
        r.put(key, MapDbRecords.mapValue(seq, entry));
        r.put(MapDbRecords.seqKey(prefix, seq), key);
        return true;
    }

    private static boolean append(BTreeMap<byte[], byte[]> r, byte[] prefix, Change.Append append, long seq) {
        byte[] mark = r.get(MapDbRecords.watermarkKey(prefix, append.section(), append.stream()));
        if (mark != null && append.stamp().compareTo(MapDbRecords.watermarkStamp(mark)) <= 0) {
            return false;
        }
        byte[] key = MapDbRecords.logKey(prefix, append.section(), append.stream(), append.stamp());
        byte[] old = r.get(key);
        if (old != null) {
            // Same stamp: only a reused stamp does this; the greater value wins, as in GrowOnlyLog.
            if (append.value().compareTo(MapDbRecords.logEntryValue(old)) <= 0) {
                return false;
            }
            r.remove(MapDbRecords.seqKey(prefix, MapDbRecords.seqOf(old)));
        }
        r.put(key, MapDbRecords.logValue(seq, append.value()));
        r.put(MapDbRecords.seqKey(prefix, seq), key);
        return true;
    }

    private static boolean clear(BTreeMap<byte[], byte[]> r, byte[] prefix, Change.Clear clear, long seq) {
        byte[] markKey = MapDbRecords.watermarkKey(prefix, clear.section(), clear.stream());
        byte[] old = r.get(markKey);
        if (old != null) {
            if (clear.stamp().compareTo(MapDbRecords.watermarkStamp(old)) <= 0) {
                return false;
            }
            r.remove(MapDbRecords.seqKey(prefix, MapDbRecords.seqOf(old)));
        }
        r.put(markKey, MapDbRecords.watermarkValue(seq, clear.stamp()));
        r.put(MapDbRecords.seqKey(prefix, seq), markKey);
        // Purge the entries the watermark hides: the stream's keys up to and including its stamp.
        byte[] from = MapDbRecords.logStreamPrefix(prefix, clear.section(), clear.stream());
        byte[] to = MapDbRecords.logKey(prefix, clear.section(), clear.stream(), clear.stamp());
        List<Map.Entry<byte[], byte[]>> hidden = new ArrayList<>(r.subMap(from, true, to, true).entrySet());
        for (Map.Entry<byte[], byte[]> e : hidden) {
            r.remove(e.getKey());
            r.remove(MapDbRecords.seqKey(prefix, MapDbRecords.seqOf(e.getValue())));
        }
        return true;
    }

    @Override
    public Future<Page> readSince(String user, long cursor, int limit) {
        try {
            UserChanges.checkRead(user, cursor, limit);
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
        return run("read", () -> {
            BTreeMap<byte[], byte[]> r = tree();
            byte[] prefix = MapDbRecords.userPrefix(user);
            byte[] headValue = r.get(MapDbRecords.headKey(prefix));
            long head = headValue == null ? 0L : MapDbRecords.readLong(headValue);
            List<Sequenced> changes = new ArrayList<>();
            boolean more = false;
            Map<byte[], byte[]> index = r.subMap(MapDbRecords.seqKey(prefix, cursor + 1), true, MapDbRecords.seqKeyEnd(prefix), false);
            for (Map.Entry<byte[], byte[]> e : index.entrySet()) {
                if (changes.size() == limit) {
                    more = true;
                    break;
                }
                byte[] entry = r.get(e.getValue());
                long seq = MapDbRecords.seqOfIndexKey(e.getKey());
                if (entry == null || MapDbRecords.seqOf(entry) != seq) {
                    throw new IllegalStateException("server store " + file + " is damaged: seq " + seq + " of user '" + user
                            + "' points to a missing or newer entry");
                }
                changes.add(new Sequenced(seq, MapDbRecords.decode(e.getValue(), prefix.length, entry).change()));
            }
            long last = changes.isEmpty() ? 0L : changes.get(changes.size() - 1).seq();
            return new Page(Collections.unmodifiableList(changes), more ? last : Math.max(head, last), more);
        });
    }

    @Override
    public Future<Long> head(String user) {
        try {
            UserChanges.checkUser(user);
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
        return run("head read", () -> {
            byte[] v = tree().get(MapDbRecords.headKey(MapDbRecords.userPrefix(user)));
            return v == null ? 0L : MapDbRecords.readLong(v);
        });
    }

    @Override
    public Future<Void> ping() {
        return run("ping", () -> {
            tree();
            return null;
        });
    }

    @Override
    public synchronized Future<Void> close() {
        WorkerExecutor w = worker;
        if (w == null || closed) {
            closed = true;
            return Future.succeededFuture();
        }
        closed = true;
        return w.<Void>executeBlocking(() -> {
            if (db != null && !db.isClosed()) {
                db.close();
            }
            return null;
        }, true).eventually(w::close);
    }

    /** The open tree; fails if the store was not started or is closed. */
    private BTreeMap<byte[], byte[]> tree() {
        if (db == null || db.isClosed()) {
            throw new StoreUnavailableException("MapDB server store " + file + " is not open", null);
        }
        return records;
    }

    /** Runs blocking MapDB work on the store's worker thread, in order; failures become StoreUnavailableException. */
    private <T> Future<T> run(String what, Callable<T> work) {
        WorkerExecutor w = worker;
        if (w == null || closed) {
            return Future.failedFuture(new StoreUnavailableException("MapDB server store " + file + " is "
                    + (closed ? "closed" : "not started"), null));
        }
        Future<T> done;
        try {
            done = w.executeBlocking(work, true);
        } catch (RejectedExecutionException e) {   // closed concurrently
            return Future.failedFuture(new StoreUnavailableException("MapDB server store " + file + " is closed", e));
        }
        return done.recover(e -> {
            if (e instanceof StoreUnavailableException || e instanceof IllegalArgumentException) {
                return Future.failedFuture(e);
            }
            return Future.failedFuture(new StoreUnavailableException("MapDB " + what + " on " + file + " failed: " + e.getMessage(), e));
        });
    }
}
