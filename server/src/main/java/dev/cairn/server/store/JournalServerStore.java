package dev.cairn.server.store;

import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.LwwEntry;
import dev.cairn.engine.crdt.TextOrder;
import dev.cairn.engine.store.TieredLocalStore;
import dev.cairn.engine.store.StoreWrite;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link ServerStore} on the engine's {@link TieredLocalStore} (journal segments + immutable MapDB
 * snapshots) in {@code dataDir/server-store/}: the embedded default, so {@code java -jar} works
 * with nothing installed. Single node only (a lock file refuses a second server).
 *
 * <p>A commit is one CRC32C-checked journal append forced to disk ({@code fdatasync}) before it
 * completes; full segments move into MapDB snapshots in the background, and MapDB never
 * overwrites a file the store depends on (ARCHITECTURE.md, "Durable store"), so a kill at any
 * moment leaves a store that opens with every acknowledged commit. The heap holds only the
 * journal tail ({@code CAIRN_STORE_SEGMENT_BYTES}, default 4 MiB, times at most four) and the
 * work in flight: a catch-up page is read from the memory-mapped snapshots. Opening replays only
 * the tail. A {@code server.journal} of earlier versions is moved into the store and adopted.
 *
 * <p>Records are laid out as in {@link ServerRecords}: per user a head, the winning entry per map
 * key, visible log entries, watermarks, and a seq index whose records hold their entries, so
 * {@link #readSince} is one range scan.
 * Semantics match {@link PgServerStore}: a user's changes are merged first
 * ({@link UserChanges#merge}), and each merged change that alters the state takes the next seq
 * (a change that alters nothing takes none, so the head does not move for it).
 *
 * <p>Every operation runs on one dedicated worker thread, in submission order, so a read never
 * sees half a commit. One {@link #commit} (a group commit) is one journal commit: its writes are
 * gathered in memory on top of the journal and appended at the end, all or nothing; on failure
 * the future fails with {@link StoreUnavailableException} and nothing of it is kept. The worker
 * pool ({@value #WORKER_POOL}, one thread) is shared by every journal store of one Vert.x instance.
 *
 * <p>Thread-safety: all methods may be called from any thread.
 */
public final class JournalServerStore implements ServerStore {

    /** Name of the single-thread worker pool all journal work runs on. */
    public static final String WORKER_POOL = "cairn-server-journal";
    /** The journal file of earlier versions in the server's data directory (adopted by the first start). */
    public static final String FILE_NAME = "server.journal";
    /** The store's directory in the server's data directory. */
    public static final String STORE_DIR = "server-store";
    /** The MapDB file of earlier versions; its data is not read by this store. */
    static final String LEGACY_FILE_NAME = "cairn-server.db";
    /** History records deleted per commit by {@link #pruneHistory}. */
    static final int PRUNE_CHUNK = 10_000;
    private static final Logger LOG = LoggerFactory.getLogger(JournalServerStore.class);

    private final Vertx vertx;
    private final Path file;
    private final TieredLocalStore.Options options;
    private volatile WorkerExecutor worker;
    private volatile boolean closed;
    // Touched only on the worker thread.
    private TieredLocalStore journal;
    private FileChannel lockChannel;
    private FileLock lock;

    private JournalServerStore(Vertx vertx, Path file, TieredLocalStore.Options options) {
        this.vertx = vertx;
        this.file = file.toAbsolutePath();
        this.options = options;
    }

    /**
     * A store whose old journal would be {@code file}; the store itself is the directory
     * {@value #STORE_DIR} beside it (created, with its parents, by {@link #start()}).
     */
    public static JournalServerStore open(Vertx vertx, Path file) {
        return open(vertx, file, defaultOptions());
    }

    /** As {@link #open(Vertx, Path)} with other store options (tests use small segments). */
    public static JournalServerStore open(Vertx vertx, Path file, TieredLocalStore.Options options) {
        return new JournalServerStore(Objects.requireNonNull(vertx, "vertx"), Objects.requireNonNull(file, "file"),
                Objects.requireNonNull(options, "options"));
    }

    /** The default options, with {@code CAIRN_STORE_SEGMENT_BYTES} (journal bytes per segment) if set. */
    static TieredLocalStore.Options defaultOptions() {
        String segment = System.getenv("CAIRN_STORE_SEGMENT_BYTES");
        TieredLocalStore.Options o = TieredLocalStore.Options.defaults();
        return segment == null || segment.isBlank() ? o : o.withFlushBytes(Long.parseLong(segment.trim()));
    }

    /** The directory the store keeps its files in. */
    public Path storeDir() {
        return file.resolveSibling(STORE_DIR);
    }

    /** The store in a server data directory: {@code dataDir/}{@value #FILE_NAME}. */
    public static JournalServerStore inDataDir(Vertx vertx, Path dataDir) {
        return open(vertx, dataDir.resolve(FILE_NAME));
    }

    public Path file() {
        return file;
    }

    /** The lock file that keeps a second server off this journal. */
    public Path lockFile() {
        return file.resolveSibling(file.getFileName() + ".lock");
    }

    @Override
    public String kind() {
        return "journal";
    }

    @Override
    public synchronized Future<Void> start() {
        if (worker != null || closed) {
            return Future.failedFuture(new IllegalStateException("journal server store " + file + " is already "
                    + (closed ? "closed" : "started") + "; open a new instance"));
        }
        worker = vertx.createSharedWorkerExecutor(WORKER_POOL, 1);
        return run("open", () -> {
            Files.createDirectories(file.getParent());
            lockChannel = FileChannel.open(lockFile(), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            try {
                lock = lockChannel.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                releaseLock();
                throw new StoreUnavailableException("journal server store " + file + " is in use by another server (lock file "
                        + lockFile() + " is held); stop that server first", null);
            }
            Path legacy = file.resolveSibling(LEGACY_FILE_NAME);
            if (Files.exists(legacy) && Files.notExists(file)) {
                LOG.warn("{} is a server store of an earlier version (MapDB); this version keeps its data in {} and does not read it",
                        legacy, file);
            }
            try {
                adoptOldJournal();
                journal = TieredLocalStore.open(storeDir(), options);
            } catch (IOException | RuntimeException e) {
                releaseLock();
                throw e;
            }
            return null;
        });
    }

    /** Moves a {@code server.journal} of an earlier version into the store, which adopts it (renames: atomic). */
    private void adoptOldJournal() throws IOException {
        if (!Files.exists(file)) {
            return;
        }
        byte[] head = new byte[8];
        int n;
        try (var in = Files.newInputStream(file)) {
            n = in.readNBytes(head, 0, head.length);
        }
        if (!Arrays.equals(Arrays.copyOf(head, n), Arrays.copyOf("CAIRNJ1\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII), n))) {
            throw new StoreUnavailableException("journal server store " + file + " is not a Cairn journal (wrong header);"
                    + " refusing to touch it", null);
        }
        Path dir = storeDir();
        Files.createDirectories(dir);
        Path target = dir.resolve(TieredLocalStore.LEGACY_JOURNAL);
        boolean storeHasData = Files.exists(dir.resolve("cairn.manifest")) || Files.exists(target);
        try (var files = Files.list(dir)) {
            storeHasData |= files.anyMatch(f -> f.getFileName().toString().endsWith(".journal"));
        }
        if (storeHasData) {
            throw new StoreUnavailableException("both " + file + " (a store of an earlier version) and the store in " + dir
                    + " exist; refusing to guess which is current. Nothing was changed", null);
        }
        Files.deleteIfExists(file.resolveSibling(file.getFileName() + ".compact")); // an unfinished compaction: the journal is whole
        Files.move(file, target, StandardCopyOption.ATOMIC_MOVE);
        LOG.info("moved {} into the store {}", file, dir);
    }

    @Override
    public Future<Map<String, CommitResult>> commit(List<UserBatch> batches, Limits limits) {
        Objects.requireNonNull(limits, "limits");
        TreeMap<String, List<Change>> byUser;
        try {
            byUser = UserChanges.byUser(batches);
            UserChanges.checkGuards(batches);
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
        if (byUser.isEmpty()) {
            return Future.succeededFuture(Map.of());
        }
        return run("commit", () -> {
            Pending r = new Pending(journal());
            // Guards read the state before this commit (as PostgreSQL's, which run before their
            // owner's writes); the committer never puts a guard and a write of its entry in one commit.
            // A failed guard of writes only refuses its batch only if its key's changes write something.
            Map<String, GuardFailedException> refusedIfWritten = Guards.check(batches, g -> {
                byte[] v = r.get(ServerRecords.mapKey(ServerRecords.userPrefix(g.owner()), g.section(), g.key()));
                return v == null ? null : ServerRecords.mapEntry(v).value();
            });
            Map<String, CommitResult> results = new LinkedHashMap<>();
            // A QuotaExceededException or GuardFailedException thrown here leaves the journal untouched: the writes are only in r.
            byUser.forEach((user, changes) -> results.put(user,
                    commitUser(r, user, UserChanges.merge(changes), limits, refusedIfWritten.get(user))));
            // One append, forced to disk; if it throws, nothing of the commit is in the journal or the map.
            journal().commit(r.writes());
            return Collections.unmodifiableMap(results);
        });
    }

    /** One key's part of a commit; {@code refusedIfWritten} (or null) is thrown if a change takes a seq. */
    private static CommitResult commitUser(Pending r, String user, List<Change> changes, Limits limits,
                                           GuardFailedException refusedIfWritten) {
        byte[] prefix = ServerRecords.userPrefix(user);
        byte[] headKey = ServerRecords.headKey(prefix);
        byte[] stored = r.get(headKey);
        long previousHead = stored == null ? 0L : ServerRecords.readLong(stored);
        if (changes.isEmpty()) {
            return new CommitResult(user, previousHead, previousHead, List.of());
        }
        // Read before any change of this user lands in r: a missing record is computed from the entries.
        long usedBefore = usage(r::get, r.base, prefix);
        long[] delta = {0};
        List<Sequenced> applied = new ArrayList<>();
        long seq = previousHead + 1; // the next seq: only a change that alters the state takes one (PROTOCOL.md 1.3)
        for (int i = 0; i < changes.size(); i++) {
            Change change = changes.get(i);
            boolean altered;
            if (change instanceof Change.Put put) {
                altered = put(r, prefix, put, seq, limits, delta);
            } else if (change instanceof Change.Append append) {
                altered = append(r, prefix, append, seq, delta);
            } else {
                altered = clear(r, prefix, (Change.Clear) change, seq, delta);
            }
            if (altered) {
                applied.add(new Sequenced(seq, change));
                seq++;
            }
        }
        if (refusedIfWritten != null && !applied.isEmpty()) {
            throw refusedIfWritten; // PROTOCOL.md 8.2: a batch that writes nothing is acknowledged, one that writes is refused
        }
        long usedAfter = usedBefore + delta[0];
        // PROTOCOL.md 8.5: a space's bytes count against its owner's quota (and move with ownership).
        String account = dev.cairn.server.space.SpaceKeys.isSpaceKey(user) ? chargeOwner(r, prefix, usedBefore, usedAfter) : user;
        if (account != null && limits.quotaBytes() > 0 && delta[0] > 0) {
            byte[] accountPrefix = ServerRecords.userPrefix(account);
            long total = (account.equals(user) ? usedAfter : usage(r::get, r.base, accountPrefix)) + owned(r, accountPrefix);
            if (total > limits.quotaBytes()) {
                throw new QuotaExceededException(user, total - delta[0], total, limits.quotaBytes());
            }
        }
        byte[] usageKey = ServerRecords.usageKey(prefix);
        if (delta[0] != 0 || r.get(usageKey) == null) {
            r.put(usageKey, ServerRecords.longValue(usedAfter));
        }
        long head = seq - 1;
        if (head != previousHead) {
            r.put(headKey, ServerRecords.longValue(head));
        }
        return new CommitResult(user, previousHead, head, Collections.unmodifiableList(applied));
    }

    /**
     * Keeps a space's bytes charged to its owner (the member whose role is owner, after this
     * commit's changes): moves the whole charge when the owner changed (a transfer; none after a
     * delete), else adds the commit's change. Returns the owner, or null for none.
     */
    private static String chargeOwner(Pending r, byte[] space, long usedBefore, long usedAfter) {
        String owner = null;
        for (Map.Entry<byte[], byte[]> e : r.rangeInclusive(ServerRecords.mapSectionPrefix(space, "members"),
                ServerRecords.mapSectionLast(space, "members")).entrySet()) {
            Change.Put member = (Change.Put) ServerRecords.decode(e.getKey(), space.length, e.getValue()).change();
            if ("owner".equals(Guards.roleOf(member.value()))) {
                owner = member.key();
                break;
            }
        }
        byte[] chargedKey = ServerRecords.chargedKey(space);
        byte[] c = r.get(chargedKey);
        String charged = c == null ? null : new String(c, java.nio.charset.StandardCharsets.UTF_8);
        if (!Objects.equals(charged, owner)) {
            if (charged != null) {
                addOwned(r, ServerRecords.userPrefix(charged), -usedBefore);
            }
            if (owner != null) {
                addOwned(r, ServerRecords.userPrefix(owner), usedAfter);
                r.put(chargedKey, owner.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            } else {
                r.remove(chargedKey);
            }
        } else if (owner != null && usedAfter != usedBefore) {
            addOwned(r, ServerRecords.userPrefix(owner), usedAfter - usedBefore);
        }
        return owner;
    }

    private static long owned(Pending r, byte[] user) {
        byte[] v = r.get(ServerRecords.ownedKey(user));
        return v == null ? 0L : ServerRecords.readLong(v);
    }

    private static void addOwned(Pending r, byte[] user, long bytes) {
        r.put(ServerRecords.ownedKey(user), ServerRecords.longValue(owned(r, user) + bytes));
    }

    /**
     * The user's usage record, or (a journal written before usage was kept) the sum over the user's
     * map and log entries, read from {@code base}.
     */
    private static long usage(java.util.function.Function<byte[], byte[]> get, TieredLocalStore base, byte[] prefix) {
        byte[] v = get.apply(ServerRecords.usageKey(prefix));
        if (v != null) {
            return ServerRecords.readLong(v);
        }
        long[] sum = {0};
        for (byte type : new byte[] {ServerRecords.MAP, ServerRecords.LOG}) {
            byte[] from = Arrays.copyOf(prefix, prefix.length + 1);
            from[prefix.length] = type;
            byte[] to = from.clone();
            to[prefix.length] = (byte) (type + 1);
            base.scan(from, to, (k, value) -> {
                Change c = ServerRecords.decode(k, prefix.length, value).change();
                if (c instanceof Change.Put put) {
                    sum[0] += UserChanges.bytes(put.key(), put.value());
                } else if (c instanceof Change.Append append) {
                    sum[0] += UserChanges.bytes(append.stream(), append.value());
                }
                return true;
            });
        }
        return sum[0];
    }

    private static boolean put(Pending r, byte[] prefix, Change.Put put, long seq, Limits limits, long[] delta) {
        byte[] mark = r.get(ServerRecords.watermarkKey(prefix, put.section(), Change.Clear.WHOLE_SECTION));
        if (mark != null && put.stamp().compareTo(ServerRecords.watermarkStamp(mark)) <= 0) {
            return false; // the section was cleared after this write
        }
        byte[] key = ServerRecords.mapKey(prefix, put.section(), put.key());
        byte[] old = r.get(key);
        LwwEntry entry = put.entry();
        if (old != null) {
            LwwEntry previous = ServerRecords.mapEntry(old);
            if (!entry.beats(previous)) {
                return false;
            }
            long oldSeq = ServerRecords.seqOf(old);
            r.remove(ServerRecords.seqKey(prefix, oldSeq));
            if (limits.historyMillis() > 0) {
                r.put(ServerRecords.historyKey(prefix, put.section(), put.key(), oldSeq),
                        ServerRecords.historyValue(limits.nowMillis(), old));
            }
            delta[0] -= UserChanges.bytes(put.key(), previous.value());
        }
        delta[0] += UserChanges.bytes(put.key(), entry.value());
        byte[] value = ServerRecords.mapValue(seq, entry);
        r.put(key, value);
        r.put(ServerRecords.seqKey(prefix, seq), ServerRecords.indexValue(prefix.length, key, value));
        return true;
    }

    private static boolean append(Pending r, byte[] prefix, Change.Append append, long seq, long[] delta) {
        byte[] mark = r.get(ServerRecords.watermarkKey(prefix, append.section(), append.stream()));
        if (mark != null && append.stamp().compareTo(ServerRecords.watermarkStamp(mark)) <= 0) {
            return false;
        }
        byte[] key = ServerRecords.logKey(prefix, append.section(), append.stream(), append.stamp());
        byte[] old = r.get(key);
        if (old != null) {
            // Same stamp: only a reused stamp does this; the greater value wins, as in GrowOnlyLog.
            String oldValue = ServerRecords.logEntryValue(old);
            if (TextOrder.compare(append.value(), oldValue) <= 0) {
                return false;
            }
            r.remove(ServerRecords.seqKey(prefix, ServerRecords.seqOf(old)));
            delta[0] -= UserChanges.bytes(append.stream(), oldValue);
        }
        delta[0] += UserChanges.bytes(append.stream(), append.value());
        byte[] value = ServerRecords.logValue(seq, append.value());
        r.put(key, value);
        r.put(ServerRecords.seqKey(prefix, seq), ServerRecords.indexValue(prefix.length, key, value));
        return true;
    }

    private static boolean clear(Pending r, byte[] prefix, Change.Clear clear, long seq, long[] delta) {
        byte[] markKey = ServerRecords.watermarkKey(prefix, clear.section(), clear.stream());
        byte[] old = r.get(markKey);
        if (old != null) {
            if (clear.stamp().compareTo(ServerRecords.watermarkStamp(old)) <= 0) {
                return false;
            }
            r.remove(ServerRecords.seqKey(prefix, ServerRecords.seqOf(old)));
        }
        byte[] markValue = ServerRecords.watermarkValue(seq, clear.stamp());
        r.put(markKey, markValue);
        r.put(ServerRecords.seqKey(prefix, seq), ServerRecords.indexValue(prefix.length, markKey, markValue));
        if (clear.isWholeSection()) {
            // A map section's clear purges every value and tombstone it covers, at once.
            byte[] from = ServerRecords.mapSectionPrefix(prefix, clear.section());
            byte[] to = ServerRecords.mapSectionLast(prefix, clear.section());
            for (Map.Entry<byte[], byte[]> e : r.rangeInclusive(from, to).entrySet()) {
                if (ServerRecords.mapEntry(e.getValue()).stamp().compareTo(clear.stamp()) <= 0) {
                    Change.Put purged = (Change.Put) ServerRecords.decode(e.getKey(), prefix.length, e.getValue()).change();
                    delta[0] -= UserChanges.bytes(purged.key(), purged.value());
                    r.remove(e.getKey());
                    r.remove(ServerRecords.seqKey(prefix, ServerRecords.seqOf(e.getValue())));
                }
            }
            return true;
        }
        // Purge the entries the watermark hides: the stream's keys up to and including its stamp.
        byte[] from = ServerRecords.logStreamPrefix(prefix, clear.section(), clear.stream());
        byte[] to = ServerRecords.logKey(prefix, clear.section(), clear.stream(), clear.stamp());
        for (Map.Entry<byte[], byte[]> e : r.rangeInclusive(from, to).entrySet()) {
            r.remove(e.getKey());
            r.remove(ServerRecords.seqKey(prefix, ServerRecords.seqOf(e.getValue())));
            delta[0] -= UserChanges.bytes(clear.stream(), ServerRecords.logEntryValue(e.getValue()));
        }
        return true;
    }

    @Override
    public Future<Long> usage(String user) {
        try {
            UserChanges.checkUser(user);
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
        return run("usage read", () -> {
            TieredLocalStore j = journal();
            byte[] prefix = ServerRecords.userPrefix(user);
            byte[] owned = j.get(ServerRecords.ownedKey(prefix));
            return usage(j::get, j, prefix) + (owned == null ? 0L : ServerRecords.readLong(owned));
        });
    }

    @Override
    public Future<List<HistoryEntry>> history(String user, String section, String key, long sinceMillis, int limit) {
        try {
            UserChanges.checkHistory(user, section, key, limit);
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
        return run("history read", () -> {
            byte[] from = ServerRecords.historyKeyPrefix(ServerRecords.userPrefix(user), section, key);
            byte[] to = Arrays.copyOf(from, from.length);
            to[to.length - 1] = 1; // just past the NUL that ends the key: only this key's records
            List<HistoryEntry> all = new ArrayList<>();
            journal().scan(from, to, (k, v) -> {
                long at = ServerRecords.historyReplacedAt(v);
                if (at >= sinceMillis) {
                    LwwEntry entry = ServerRecords.historyEntry(v);
                    all.add(new HistoryEntry(entry.value(), entry.stamp(), at));
                }
                return true;
            });
            Collections.reverse(all); // records sort by the replaced entry's seq: oldest first
            return Collections.unmodifiableList(new ArrayList<>(all.subList(0, Math.min(limit, all.size()))));
        });
    }

    @Override
    public Future<MapPage> readMap(String user, String section, String prefix, String afterKey, int limit) {
        try {
            UserChanges.checkMapRead(user, section, prefix, limit);
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
        return run("section read", () -> {
            byte[] userPrefix = ServerRecords.userPrefix(user);
            byte[] keys = ServerRecords.mapKey(userPrefix, section, prefix); // every key of the prefix starts with these bytes
            byte[] from = afterKey == null ? keys : after(ServerRecords.mapKey(userPrefix, section, afterKey));
            byte[] to = ServerRecords.mapSectionLast(userPrefix, section);
            List<MapEntry> out = new ArrayList<>();
            boolean[] more = new boolean[1];
            journal().scan(from, to, (k, v) -> {
                if (!startsWith(k, keys)) {
                    return false;
                }
                if (out.size() == limit) {
                    more[0] = true;
                    return false;
                }
                Change.Put put = (Change.Put) ServerRecords.decode(k, userPrefix.length, v).change();
                out.add(new MapEntry(put.key(), put.value(), put.stamp()));
                return true;
            });
            return new MapPage(Collections.unmodifiableList(out), more[0]);
        });
    }

    /** The smallest key greater than {@code key}. */
    private static byte[] after(byte[] key) {
        return Arrays.copyOf(key, key.length + 1);
    }

    private static boolean startsWith(byte[] key, byte[] prefix) {
        return key.length >= prefix.length && Arrays.equals(key, 0, prefix.length, prefix, 0, prefix.length);
    }

    /**
     * A full scan of the store (journal tail and snapshots), deleting in commits of at most
     * {@value #PRUNE_CHUNK} records so the heap holds one chunk, not every expired record.
     */
    @Override
    public Future<Long> pruneHistory(long beforeMillis) {
        return run("history prune", () -> {
            long pruned = 0;
            byte[] from = new byte[0];
            byte[] end = {(byte) 0xFF};  // UTF-8 never holds 0xFF: every key
            while (from != null) {
                List<StoreWrite> deletes = new ArrayList<>();
                byte[][] last = {null};
                boolean[] full = {false};
                journal().scan(from, end, (k, v) -> {
                    if (ServerRecords.isHistoryKey(k) && ServerRecords.historyReplacedAt(v) < beforeMillis) {
                        deletes.add(StoreWrite.delete(k));
                        if (deletes.size() == PRUNE_CHUNK) {
                            last[0] = k;
                            full[0] = true;
                            return false;
                        }
                    }
                    return true;
                });
                if (!deletes.isEmpty()) {
                    journal().commit(deletes); // the scan is over: a commit cannot run inside one
                    pruned += deletes.size();
                }
                from = full[0] ? Arrays.copyOf(last[0], last[0].length + 1) : null; // the smallest key after the last one
            }
            return pruned;
        });
    }

    @Override
    public Future<Page> readSince(String user, long cursor, int limit) {
        try {
            UserChanges.checkRead(user, cursor, limit);
        } catch (RuntimeException e) {
            return Future.failedFuture(e);
        }
        return run("read", () -> {
            TieredLocalStore j = journal();
            byte[] prefix = ServerRecords.userPrefix(user);
            byte[] headValue = j.get(ServerRecords.headKey(prefix));
            long head = headValue == null ? 0L : ServerRecords.readLong(headValue);
            List<Sequenced> changes = new ArrayList<>();
            boolean[] more = {false};
            j.scanWithTier(ServerRecords.seqKey(prefix, cursor + 1), ServerRecords.seqKeyEnd(prefix), (indexKey, indexValue, sameTier) -> {
                if (changes.size() == limit) {
                    more[0] = true;
                    return false;
                }
                long seq = ServerRecords.seqOfIndexKey(indexKey);
                if (ServerRecords.indexHoldsEntry(indexValue)) {
                    ServerRecords.Stored stored = ServerRecords.decodeIndexed(prefix, indexValue);
                    if (stored.seq() != seq) {
                        throw new IllegalStateException("server store " + file + " is damaged: seq " + seq + " of user '" + user
                                + "' holds an entry of seq " + stored.seq());
                    }
                    changes.add(new Sequenced(seq, stored.change()));
                    return true;
                }
                // An index record of an earlier version names its entry's key. The two are written in
                // one commit, and a later write of the entry deletes that record in its commit: the tier
                // holding a live index record holds the entry's live value, so one lookup there.
                byte[] entryKey = indexValue;
                byte[] entry = sameTier.apply(entryKey);
                if (entry == null || ServerRecords.seqOf(entry) != seq) {
                    entry = j.get(entryKey); // not expected: the full read, and the check below
                }
                if (entry == null || ServerRecords.seqOf(entry) != seq) {
                    throw new IllegalStateException("server store " + file + " is damaged: seq " + seq + " of user '" + user
                            + "' points to a missing or newer entry");
                }
                changes.add(new Sequenced(seq, ServerRecords.decode(entryKey, prefix.length, entry).change()));
                return true;
            });
            long last = changes.isEmpty() ? 0L : changes.get(changes.size() - 1).seq();
            return new Page(Collections.unmodifiableList(changes), more[0] ? last : Math.max(head, last), more[0]);
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
            byte[] v = journal().get(ServerRecords.headKey(ServerRecords.userPrefix(user)));
            return v == null ? 0L : ServerRecords.readLong(v);
        });
    }

    @Override
    public Future<Void> ping() {
        return run("ping", () -> {
            journal();
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
            try {
                if (journal != null) {
                    journal.close();
                    journal = null;
                }
            } finally {
                releaseLock();
            }
            return null;
        }, true).eventually(w::close);
    }

    /** The open journal; fails if the store was not started or is closed. */
    private TieredLocalStore journal() {
        if (journal == null) {
            throw new StoreUnavailableException("journal server store " + file + " is not open", null);
        }
        return journal;
    }

    private void releaseLock() {
        try {
            if (lock != null) {
                lock.release();
            }
            if (lockChannel != null) {
                lockChannel.close();
            }
        } catch (IOException ignored) {
            // closing the channel releases the lock; the OS releases it when the process ends anyway
        } finally {
            lock = null;
            lockChannel = null;
        }
    }

    /** Runs blocking work on the store's worker thread, in order; failures become StoreUnavailableException. */
    private <T> Future<T> run(String what, Callable<T> work) {
        WorkerExecutor w = worker;
        if (w == null || closed) {
            return Future.failedFuture(new StoreUnavailableException("journal server store " + file + " is "
                    + (closed ? "closed" : "not started"), null));
        }
        Future<T> done;
        try {
            // Not ordered: Vert.x orders per calling context, with one queue per context that runs until
            // it is empty, so the reads of busy event loops could hold a commit from the committer's
            // context back for seconds (SlowConsumersIT). The pool's one thread runs every task in
            // submission order anyway.
            done = w.executeBlocking(work, false);
        } catch (RejectedExecutionException e) {   // closed concurrently
            return Future.failedFuture(new StoreUnavailableException("journal server store " + file + " is closed", e));
        }
        return done.recover(e -> {
            if (e instanceof StoreUnavailableException || e instanceof IllegalArgumentException || e instanceof QuotaExceededException
                    || e instanceof GuardFailedException) {
                return Future.failedFuture(e);
            }
            return Future.failedFuture(new StoreUnavailableException("journal " + what + " on " + file + " failed: " + e.getMessage(), e));
        });
    }

    /**
     * The writes of one commit on top of the journal: reads see them at once, the journal sees
     * them only in {@link #writes()}, as one commit.
     */
    private static final class Pending {
        /** Marks a deleted key (compared by identity). */
        private static final byte[] DELETED = new byte[0];

        final TieredLocalStore base;
        private final TreeMap<byte[], byte[]> writes = new TreeMap<>(Arrays::compareUnsigned);
        /**
         * What this commit already read from {@code base} (DELETED = absent): a push of 1,000 puts
         * asks for its section's watermark 1,000 times, and a miss costs a B-tree lookup in every
         * snapshot. Holds at most one entry per key the commit touches.
         */
        private final TreeMap<byte[], byte[]> read = new TreeMap<>(Arrays::compareUnsigned);

        Pending(TieredLocalStore base) {
            this.base = base;
        }

        byte[] get(byte[] key) {
            byte[] v = writes.get(key);
            if (v == null) {
                v = read.get(key);
            }
            if (v == null) {
                byte[] stored = base.get(key);
                v = stored == null ? DELETED : stored;
                read.put(key, v);
            }
            return v == DELETED ? null : v;
        }

        void put(byte[] key, byte[] value) {
            writes.put(key, value);
        }

        void remove(byte[] key) {
            writes.put(key, DELETED);
        }

        /** The live records with {@code from <= key <= to}, this commit's writes included. */
        TreeMap<byte[], byte[]> rangeInclusive(byte[] from, byte[] to) {
            TreeMap<byte[], byte[]> range = new TreeMap<>(Arrays::compareUnsigned);
            byte[] after = Arrays.copyOf(to, to.length + 1); // the smallest key greater than `to`
            base.scan(from, after, (k, v) -> {
                range.put(k, v);
                return true;
            });
            for (Map.Entry<byte[], byte[]> e : writes.subMap(from, true, to, true).entrySet()) {
                if (e.getValue() == DELETED) {
                    range.remove(e.getKey());
                } else {
                    range.put(e.getKey(), e.getValue());
                }
            }
            return range;
        }

        List<StoreWrite> writes() {
            List<StoreWrite> out = new ArrayList<>(writes.size());
            writes.forEach((k, v) -> out.add(v == DELETED ? StoreWrite.delete(k) : StoreWrite.put(k, v)));
            return out;
        }
    }
}
