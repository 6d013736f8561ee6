package dev.cairn.engine;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.GrowOnlyLog;
import dev.cairn.engine.crdt.LwwMap;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.section.SectionSpec;
import dev.cairn.engine.section.StoragePolicy;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The privacy switches of one engine ({@link Cairn#disableSync}, {@link Cairn#enableSync}): which
 * sections stay on this device, what became of the server's copy, saved in the store's metadata.
 * The twin of the browser client's privacy.js.
 */
final class Privacy {

    private static final String SYNC_OFF_META = "sync-off";

    /** A privacy switch in the off position; {@code deletedUpTo} is the stamp of the server-side clear (DELETE), else null. */
    private record SyncOff(ServerCopy serverCopy, Stamp deletedUpTo) {
    }

    private final Cairn cairn;
    /** Sections whose sync the user switched off on this device (privacy switch), with the server-copy choice. */
    private final ConcurrentHashMap<String, SyncOff> syncOff = new ConcurrentHashMap<>();
    private final CopyOnWriteArrayList<Runnable> resyncListeners = new CopyOnWriteArrayList<>();

    Privacy(Cairn cairn) {
        this.cairn = cairn;
    }

    /** True if the user switched the section's sync off on this device. */
    boolean isOff(String section) {
        return syncOff.containsKey(section);
    }

    CompletableFuture<Void> disableSync(String section, ServerCopy serverCopy) {
        Objects.requireNonNull(serverCopy, "serverCopy");
        SectionSpec spec = cairn.spec(section, null);
        return cairn.locked(() -> {
            SyncOff previous = syncOff.get(section);
            if (previous != null && (serverCopy == ServerCopy.KEEP || previous.serverCopy() == ServerCopy.DELETE)) {
                return CompletableFuture.<Void>completedFuture(null);
            }
            List<CompletableFuture<Void>> saved = new ArrayList<>();
            Stamp deletedUpTo = null;
            if (serverCopy == ServerCopy.DELETE) {
                List<Change> clears = new ArrayList<>();
                if (spec.kind() == SectionKind.MAP) {
                    clears.add(Change.Clear.wholeSection(section, cairn.clock.tick()));
                } else {
                    for (String stream : cairn.state.log(section).streams()) {
                        clears.add(new Change.Clear(section, stream, cairn.clock.tick()));
                    }
                }
                for (Change clear : clears) {
                    deletedUpTo = clear.stamp();
                    saved.add(cairn.persister.recordOutboxOnly(clear));
                }
                if (deletedUpTo == null) {
                    deletedUpTo = cairn.clock.tick(); // nothing here to clear; still the point "before the switch"
                }
            }
            syncOff.put(section, new SyncOff(serverCopy, deletedUpTo));
            saved.add(cairn.persister.queueMeta(SYNC_OFF_META, syncOffJson()));
            return StorageException.translated(CompletableFuture.allOf(saved.toArray(CompletableFuture[]::new)));
        });
    }

    CompletableFuture<Void> enableSync(String section) {
        SectionSpec spec = cairn.spec(section, null);
        boolean[] resync = {false};
        CompletableFuture<Void> done = cairn.locked(() -> {
            SyncOff off = syncOff.remove(section);
            if (off == null) {
                return CompletableFuture.<Void>completedFuture(null);
            }
            CompletableFuture<Void> meta = cairn.persister.queueMeta(SYNC_OFF_META, syncOffJson());
            if (!spec.policy().sync()) {
                return StorageException.translated(meta); // registered local-only: the switch alone never made it sync
            }
            Stamp upTo = off.deletedUpTo();
            StoragePolicy policy = spec.policy();
            if (spec.kind() == SectionKind.MAP) {
                LwwMap map = cairn.state.map(section);
                for (Map.Entry<String, dev.cairn.engine.crdt.LwwEntry> e : map.sorted().entrySet()) {
                    Change.Put put = new Change.Put(section, e.getKey(), e.getValue().value(), e.getValue().stamp());
                    StoragePolicy keyPolicy = cairn.writes.policyFor(put);
                    if (!keyPolicy.sync()) {
                        continue; // a key of its own local-only policy
                    }
                    if (upTo != null && put.stamp().compareTo(upTo) <= 0) {
                        if (!put.isDelete()) {
                            cairn.writes.applyLocal(new Change.Put(section, put.key(), put.value(), cairn.clock.tick()));
                        }
                    } else {
                        cairn.persister.record(put, keyPolicy, true);
                    }
                }
                if (map.watermark() != null && (upTo == null || map.watermark().compareTo(upTo) > 0)) {
                    cairn.persister.record(Change.Clear.wholeSection(section, map.watermark()), policy, true);
                }
                if (upTo != null) {
                    applyServerClear(Change.Clear.wholeSection(section, upTo), policy);
                }
            } else {
                GrowOnlyLog log = cairn.state.log(section);
                for (String stream : log.streams()) {
                    Stamp mark = log.watermark(stream);
                    if (mark != null && (upTo == null || mark.compareTo(upTo) > 0)) {
                        cairn.persister.record(new Change.Clear(section, stream, mark), policy, true);
                    }
                    for (dev.cairn.engine.crdt.LogEntry entry : log.entries(stream)) {
                        if (upTo != null && entry.stamp().compareTo(upTo) <= 0) {
                            cairn.writes.applyLocal(new Change.Append(section, stream, entry.value(), cairn.clock.tick()));
                        } else {
                            cairn.persister.record(new Change.Append(section, stream, entry.value(), entry.stamp()), policy, true);
                        }
                    }
                    if (upTo != null) {
                        applyServerClear(new Change.Clear(section, stream, upTo), policy);
                    }
                }
            }
            cairn.port.resyncFromZero();
            resync[0] = true;
            return StorageException.translated(CompletableFuture.allOf(meta, cairn.persister.flush()));
        });
        if (resync[0]) {
            for (Runnable listener : resyncListeners) {
                try {
                    listener.run();
                } catch (RuntimeException e) {
                    cairn.listeners.reportError(e);
                }
            }
        }
        return done;
    }

    /**
     * Told when this replica must catch up from its (reset) cursor again, e.g. after
     * {@link Cairn#enableSync}: a connected sync client reconnects.
     */
    Subscription onResync(Runnable listener) {
        Objects.requireNonNull(listener, "listener");
        resyncListeners.add(listener);
        return () -> resyncListeners.remove(listener);
    }

    /** Applies here the server-side clear of a DELETE switch (the server has it already): hides the old copies. Lock held. */
    private void applyServerClear(Change.Clear clear, StoragePolicy policy) {
        if (cairn.state.apply(clear)) {
            cairn.persister.record(clear, policy, false);
            cairn.listeners.queued().add(new ChangeEvent(clear, ChangeEvent.Origin.LOCAL));
        }
    }

    private String syncOffJson() {
        Map<String, Map<String, String>> out = new TreeMap<>();
        syncOff.forEach((section, off) -> {
            Map<String, String> v = new TreeMap<>();
            v.put("serverCopy", off.serverCopy().name());
            if (off.deletedUpTo() != null) {
                v.put("deletedUpTo", off.deletedUpTo().toString());
            }
            out.put(section, v);
        });
        return Json.write(out);
    }

    /** Reads the switches saved in the store's metadata, at open. */
    void load() {
        String json = cairn.persister.meta(SYNC_OFF_META);
        if (json == null) {
            return;
        }
        try {
            Map<String, Map<String, String>> saved = Json.MAPPER.readValue(json,
                    new TypeReference<Map<String, Map<String, String>>>() { });
            saved.forEach((section, v) -> {
                if (cairn.sections.containsKey(section)) {
                    String mark = v.get("deletedUpTo");
                    syncOff.put(section, new SyncOff(ServerCopy.valueOf(v.get("serverCopy")), mark == null ? null : Stamp.parse(mark)));
                }
            });
        } catch (IOException | RuntimeException e) {
            throw new StorageException("damaged privacy switches in the local store: " + e.getMessage(), e);
        }
    }

    /** Server changes of sections whose sync is switched off here are not applied (see {@link Cairn#disableSync}). */
    List<Change> withoutSyncOff(List<Change> changes) {
        if (syncOff.isEmpty()) {
            return changes;
        }
        List<Change> out = new ArrayList<>(changes.size());
        for (Change change : changes) {
            if (!syncOff.containsKey(change.section())) {
                out.add(change);
            }
        }
        return out;
    }
}
