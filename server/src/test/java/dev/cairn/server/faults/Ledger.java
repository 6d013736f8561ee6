package dev.cairn.server.faults;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.codec.CanonicalJson;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.GrowOnlyLog;
import dev.cairn.engine.crdt.LogEntry;
import dev.cairn.engine.crdt.LwwEntry;
import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.server.TestServer;
import dev.cairn.server.store.ServerStore;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * The checks of issue 5 on a final state: every change a device wrote is in the server's state or
 * superseded by a later stamp (lost = 0), nothing is in the server's log twice, and the server's
 * state equals folding every written change with the merge rules.
 */
final class Ledger {

    private Ledger() {
    }

    /** What the server's log of one user holds. */
    record ServerLog(List<ServerStore.Sequenced> entries, ReplicaState state) {
    }

    /** Reads the user's whole log from the server's store (pages of 1,000) and folds it. */
    static ServerLog read(TestServer server, String user, Function<String, SectionKind> kinds) {
        List<ServerStore.Sequenced> all = new ArrayList<>();
        ReplicaState state = new ReplicaState(kinds);
        long cursor = 0;
        while (true) {
            ServerStore.Page page = TestServer.await(server.store().readSince(user, cursor, 1000));
            for (ServerStore.Sequenced s : page.changes()) {
                all.add(s);
                state.apply(s.change());
            }
            if (!page.more()) {
                return new ServerLog(all, state);
            }
            cursor = page.cursor();
        }
    }

    /** Canonical JSON of folding {@code changes} into a fresh state. */
    static String fold(List<Change> changes, Function<String, SectionKind> kinds) {
        ReplicaState state = new ReplicaState(kinds);
        changes.forEach(state::apply);
        return CanonicalJson.encode(state);
    }

    /** Descriptions of written changes that are neither in {@code state} nor superseded there (empty = 0 lost). */
    static List<String> lost(List<Change> written, ReplicaState state) {
        List<String> lost = new ArrayList<>();
        for (Change c : written) {
            if (c instanceof Change.Put put) {
                Stamp cleared = state.map(put.section()).watermark();
                if (cleared != null && put.stamp().compareTo(cleared) <= 0) {
                    continue; // the section was cleared later: superseded
                }
                LwwEntry e = state.map(put.section()).entry(put.key());
                if (e == null) {
                    if (!put.isDelete()) {
                        lost.add("missing " + put);
                    }
                } else if (e.stamp().compareTo(put.stamp()) < 0) {
                    lost.add("older entry " + e + " instead of " + put);
                } else if (e.stamp().equals(put.stamp()) && !java.util.Objects.equals(e.value(), put.value())) {
                    lost.add("same stamp, other value: " + e + " vs " + put);
                }
            } else if (c instanceof Change.Append append) {
                GrowOnlyLog log = state.log(append.section());
                Stamp wm = log.watermark(append.stream());
                if (wm != null && append.stamp().compareTo(wm) <= 0) {
                    continue; // cleared later: superseded
                }
                boolean found = log.entries(append.stream()).stream()
                        .anyMatch(e -> e.stamp().equals(append.stamp()) && e.value().equals(append.value()));
                if (!found) {
                    lost.add("missing " + append);
                }
            } else if (c instanceof Change.Clear clear) {
                Stamp wm = clear.isWholeSection() ? state.map(clear.section()).watermark()
                        : state.log(clear.section()).watermark(clear.stream());
                if (wm == null || wm.compareTo(clear.stamp()) < 0) {
                    lost.add("clear not applied: " + clear + " (watermark " + wm + ")");
                }
            }
        }
        return lost;
    }

    /** Descriptions of duplicates in the server's log and state (empty = none). */
    static List<String> duplicates(ServerLog log) {
        List<String> dups = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        long lastSeq = 0;
        for (ServerStore.Sequenced s : log.entries()) {
            if (s.seq() <= lastSeq) {
                dups.add("seq " + s.seq() + " after " + lastSeq);
            }
            lastSeq = s.seq();
            Change c = s.change();
            String identity;
            if (c instanceof Change.Put p) {
                identity = "put " + p.section() + "/" + p.key(); // only the winner is kept per key
            } else if (c instanceof Change.Append a) {
                identity = "append " + a.section() + "/" + a.stream() + "@" + a.stamp();
            } else {
                identity = "clear " + c.section() + "/" + c.target(); // one watermark per stream
            }
            if (!seen.add(identity)) {
                dups.add("twice in the server's log: " + identity);
            }
        }
        ReplicaState state = log.state();
        for (String section : state.sections().keySet()) {
            if (state.kind(section) != SectionKind.LOG) {
                continue;
            }
            GrowOnlyLog l = state.log(section);
            for (String stream : l.streams()) {
                Map<String, Integer> values = new HashMap<>();
                Set<Stamp> stamps = new HashSet<>();
                for (LogEntry e : l.entries(stream)) {
                    if (!stamps.add(e.stamp())) {
                        dups.add("stamp twice in " + section + "/" + stream + ": " + e.stamp());
                    }
                    if (values.merge(e.value(), 1, Integer::sum) == 2) {
                        dups.add("message twice in " + section + "/" + stream + ": " + e.value());
                    }
                }
            }
        }
        return dups;
    }
}
