package dev.cairn.engine.sim;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.codec.CanonicalJson;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.LwwEntry;
import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.crdt.TextOrder;
import dev.cairn.engine.sim.ServerModel.CommitResult;
import dev.cairn.engine.sim.ServerModel.Page;
import dev.cairn.engine.sim.ServerModel.Sequenced;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * The server store of one store key (a user's state, or a space's, {@code space:<id>}), following
 * {@code server/.../store/UserChanges.java} and {@code JournalServerStore.java}: a batch is merged
 * first (one change per target), the i-th merged change gets {@code previousHead + 1 + i}, keeps
 * that seq only if it altered the state, and the head moves by the merged count (gaps allowed).
 * Map keys keep only the winning entry and its seq; log streams keep visible entries and the
 * watermark; a map section keeps its clear watermark; entries a watermark hides are purged. Each
 * store key has its own seqs, in its own commit order.
 */
final class StoreModel {

    final String key;
    private final Function<String, SectionKind> kinds;
    private final SimStats stats;

    private long head;
    private final TreeMap<Long, Change> bySeq = new TreeMap<>();
    private final HashMap<String, Sequenced> maps = new HashMap<>();
    private final HashMap<String, TreeMap<Stamp, Sequenced>> logs = new HashMap<>();
    private final HashMap<String, Sequenced> watermarks = new HashMap<>();
    /** Every change ever accepted in a committed batch (for the fold check). */
    final List<Change> accepted = new ArrayList<>();
    private final java.util.Set<Change> acceptedSet = new java.util.HashSet<>();
    /** Change identity to the seq that applied it: a second seq for one identity is a duplicate. */
    private final HashMap<Change, Long> seqOf = new HashMap<>();

    StoreModel(String key, Function<String, SectionKind> kinds, SimStats stats) {
        this.key = key;
        this.kinds = kinds;
        this.stats = stats;
    }

    /** Whether this change (by identity) was accepted in an earlier commit. */
    boolean hasAccepted(Change c) {
        return acceptedSet.contains(c);
    }

    long head() {
        return head;
    }

    /** The highest seq an entry still holds (the head may be higher: seqs have gaps). */
    long lastSeq() {
        return bySeq.isEmpty() ? 0 : bySeq.lastKey();
    }

    /** One change per target, as UserChanges.merge: the CRDT winner; appends at or below the batch's own clear dropped. */
    static List<Change> merge(List<Change> changes) {
        LinkedHashMap<String, Change> winners = new LinkedHashMap<>();
        Map<String, Stamp> clears = new HashMap<>();
        for (Change change : changes) {
            if (change instanceof Change.Put put) {
                winners.merge("m\u0000" + put.section() + '\u0000' + put.key(), put,
                        (a, b) -> ((Change.Put) b).entry().beats(((Change.Put) a).entry()) ? b : a);
            } else if (change instanceof Change.Append append) {
                winners.merge("e\u0000" + append.section() + '\u0000' + append.stream() + '\u0000' + append.stamp(), append,
                        (a, b) -> TextOrder.compare(((Change.Append) b).value(), ((Change.Append) a).value()) > 0 ? b : a);
            } else {
                Change.Clear clear = (Change.Clear) change;
                String target = streamKey(clear.section(), clear.stream());
                winners.merge("w\u0000" + target, clear, (a, b) -> b.stamp().compareTo(a.stamp()) > 0 ? b : a);
                clears.merge(target, clear.stamp(), (a, b) -> b.compareTo(a) > 0 ? b : a);
            }
        }
        List<Change> out = new ArrayList<>(winners.size());
        for (Change change : winners.values()) {
            if (change instanceof Change.Append append) {
                Stamp mark = clears.get(streamKey(append.section(), append.stream()));
                if (mark != null && append.stamp().compareTo(mark) <= 0) {
                    continue;
                }
            } else if (change instanceof Change.Put put) {
                Stamp mark = clears.get(streamKey(put.section(), Change.Clear.WHOLE_SECTION));
                if (mark != null && put.stamp().compareTo(mark) <= 0) {
                    continue;
                }
            }
            out.add(change);
        }
        return out;
    }

    CommitResult commit(List<Change> batch) {
        accepted.addAll(batch);
        acceptedSet.addAll(batch);
        List<Change> merged = merge(batch);
        long previousHead = head;
        List<Sequenced> applied = new ArrayList<>();
        for (int i = 0; i < merged.size(); i++) {
            long seq = previousHead + 1 + i;
            Change change = merged.get(i);
            boolean altered;
            if (change instanceof Change.Put put) {
                altered = put(put, seq);
            } else if (change instanceof Change.Append append) {
                altered = append(append, seq);
            } else {
                altered = clear((Change.Clear) change, seq);
            }
            if (altered) {
                Long before = seqOf.putIfAbsent(change, seq);
                if (before != null) {
                    throw new AssertionError("duplicate in " + key + ": change " + change + " got seq " + seq + " but already had seq " + before);
                }
                applied.add(new Sequenced(seq, change));
            } else {
                stats.changesAlteringNothing++;
            }
        }
        head = previousHead + merged.size();
        stats.seqsGiven += applied.size();
        return new CommitResult(previousHead, head, List.copyOf(applied));
    }

    private static String streamKey(String section, String stream) {
        return section + '\u0000' + stream;
    }

    /**
     * Whether committing {@code batch} would alter the state (a merged change would keep a seq),
     * without committing it: what the server's guard of a space push asks (PROTOCOL.md 8.2).
     */
    boolean wouldAlter(List<Change> batch) {
        // Until one change alters the state it is as before the batch, so each is checked against it.
        for (Change change : merge(batch)) {
            if (change instanceof Change.Put put ? alters(put) : change instanceof Change.Append append ? alters(append)
                    : alters((Change.Clear) change)) {
                return true;
            }
        }
        return false;
    }

    private boolean alters(Change.Put put) {
        Sequenced mark = watermarks.get(streamKey(put.section(), Change.Clear.WHOLE_SECTION));
        if (mark != null && put.stamp().compareTo(mark.change().stamp()) <= 0) {
            return false;
        }
        Sequenced old = maps.get(put.section() + '\u0000' + put.key());
        return old == null || put.entry().beats(((Change.Put) old.change()).entry());
    }

    private boolean alters(Change.Append append) {
        String stream = streamKey(append.section(), append.stream());
        Sequenced mark = watermarks.get(stream);
        if (mark != null && append.stamp().compareTo(mark.change().stamp()) <= 0) {
            return false;
        }
        TreeMap<Stamp, Sequenced> entries = logs.get(stream);
        Sequenced old = entries == null ? null : entries.get(append.stamp());
        return old == null || TextOrder.compare(append.value(), ((Change.Append) old.change()).value()) > 0;
    }

    private boolean alters(Change.Clear clear) {
        Sequenced old = watermarks.get(streamKey(clear.section(), clear.stream()));
        return old == null || clear.stamp().compareTo(old.change().stamp()) > 0;
    }

    private boolean put(Change.Put put, long seq) {
        if (!alters(put)) {
            return false;
        }
        String key = put.section() + '\u0000' + put.key();
        Sequenced old = maps.get(key);
        if (old != null) {
            bySeq.remove(old.seq());
        }
        maps.put(key, new Sequenced(seq, put));
        bySeq.put(seq, put);
        return true;
    }

    private boolean append(Change.Append append, long seq) {
        if (!alters(append)) {
            return false;
        }
        TreeMap<Stamp, Sequenced> entries = logs.computeIfAbsent(streamKey(append.section(), append.stream()), k -> new TreeMap<>());
        Sequenced old = entries.get(append.stamp());
        if (old != null) {
            bySeq.remove(old.seq());
        }
        entries.put(append.stamp(), new Sequenced(seq, append));
        bySeq.put(seq, append);
        return true;
    }

    private boolean clear(Change.Clear clear, long seq) {
        if (!alters(clear)) {
            return false;
        }
        String stream = streamKey(clear.section(), clear.stream());
        Sequenced old = watermarks.get(stream);
        if (old != null) {
            bySeq.remove(old.seq());
        }
        watermarks.put(stream, new Sequenced(seq, clear));
        bySeq.put(seq, clear);
        if (clear.isWholeSection()) {
            // A map section's clear purges its values and tombstones at once.
            String prefix = clear.section() + '\u0000';
            maps.entrySet().removeIf(e -> {
                if (e.getKey().startsWith(prefix) && e.getValue().change().stamp().compareTo(clear.stamp()) <= 0) {
                    bySeq.remove(e.getValue().seq());
                    return true;
                }
                return false;
            });
            return true;
        }
        TreeMap<Stamp, Sequenced> entries = logs.get(stream);
        if (entries != null) {
            NavigableMap<Stamp, Sequenced> hidden = entries.headMap(clear.stamp(), true);
            for (Sequenced h : hidden.values()) {
                bySeq.remove(h.seq());
            }
            hidden.clear();
        }
        return true;
    }

    /** As ServerStore.readSince: changes with seq > cursor in seq order; cursor is the head when nothing more is left. */
    Page readSince(long cursor, int limit) {
        List<Sequenced> changes = new ArrayList<>();
        boolean more = false;
        for (Map.Entry<Long, Change> e : bySeq.tailMap(cursor, false).entrySet()) {
            if (changes.size() == limit) {
                more = true;
                break;
            }
            changes.add(new Sequenced(e.getKey(), e.getValue()));
        }
        long last = changes.isEmpty() ? 0L : changes.get(changes.size() - 1).seq();
        return new Page(changes, more ? last : Math.max(head, last), more);
    }

    /** The server's view: its store read from 0 and folded into a fresh replica, canonically encoded. */
    String canonicalFromStore() {
        ReplicaState state = new ReplicaState(kinds);
        long cursor = 0;
        while (true) {
            Page page = readSince(cursor, 1000);
            page.changes().forEach(q -> state.apply(q.change()));
            cursor = page.cursor();
            if (!page.more()) {
                break;
            }
        }
        return CanonicalJson.encode(state);
    }

    /** Every accepted change folded by the merge rules, canonically encoded. */
    ReplicaState foldAccepted() {
        ReplicaState state = new ReplicaState(kinds);
        accepted.forEach(state::apply);
        return state;
    }

    /** The winning map entry for a key in the store (null if never written). */
    LwwEntry entry(String section, String key) {
        Sequenced q = maps.get(section + '\u0000' + key);
        return q == null ? null : ((Change.Put) q.change()).entry();
    }
}
