package dev.cairn.engine.sim;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cairn.engine.RefusedChange;
import dev.cairn.engine.Space;
import dev.cairn.engine.codec.CanonicalJson;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.engine.section.SpaceSections;
import dev.cairn.engine.sync.internal.SyncPort;
import dev.cairn.engine.sync.internal.SyncPorts;
import dev.cairn.engine.clock.Stamp;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The checks of a spaces run after its heal. Per user: every device's own state (with its
 * {@code spaces} section) equals the user's store, which equals the fold of what it accepted. Per
 * space: the store equals the fold of its accepted changes; every device of a member holds the
 * fold of the accepted changes plus its own refused writes (a refused write stays until the
 * space's data overwrites it); a copy kept after a live {@code space-left} holds the fold of what
 * was accepted before the cut plus its own writes; no refused change was accepted, and the
 * device's {@code refusedChanges()} holds no accepted one (a re-sent batch that alters nothing is
 * acknowledged, and an unanswered batch is never re-sent beside a new write); every own write of a space is accepted,
 * listed as refused, or still queued in a left copy (0 lost); the store holds no change of a user
 * committed while not an editor or owner.
 */
final class SpaceChecks {

    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final SpaceSim sim;

    SpaceChecks(SpaceSim sim) {
        this.sim = sim;
    }

    void check() {
        SpaceServer server = sim.server;
        for (String user : sim.members.users) {
            StoreModel store = server.userStore(user);
            String expected = sameAsFold(store);
            for (SpaceDevice d : sim.devices) {
                if (d.user.equals(user) && !d.cairn.canonicalState().equals(expected)) {
                    throw new AssertionError(d.replica + "'s own state did not converge:\n device: " + d.cairn.canonicalState()
                            + "\n server: " + expected);
                }
            }
        }
        for (String space : sim.members.spaces) {
            StoreModel store = server.spaceStore(space);
            sameAsFold(store);
            Set<Change> accepted = new HashSet<>(store.accepted);
            for (Change c : store.accepted) {
                if (c.section().equals(SpaceSections.MEMBERS)) {
                    continue; // written by the server's membership steps
                }
                String role = server.roleAtCommit.get(c);
                if (!SpaceSections.EDITOR.equals(role) && !SpaceSections.OWNER.equals(role) && !SpaceServer.ALTERED_NOTHING.equals(role)) {
                    throw new AssertionError("space " + space + ": " + server.authorOf.get(c) + " committed " + c + " as "
                            + (role == null ? "no member" : role));
                }
            }
            for (SpaceDevice d : sim.devices) {
                checkDevice(d, space, store, accepted);
            }
        }
    }

    /** The store read from 0 equals the fold of every accepted change; returns it. */
    private static String sameAsFold(StoreModel store) {
        String folded = CanonicalJson.encode(store.foldAccepted());
        String fromStore = store.canonicalFromStore();
        if (!fromStore.equals(folded)) {
            throw new AssertionError(store.key + ": the store differs from the fold of its accepted changes:\n store: " + fromStore
                    + "\n  fold: " + folded);
        }
        return folded;
    }

    private void checkDevice(SpaceDevice d, String space, StoreModel store, Set<Change> accepted) {
        SyncPort user = SyncPorts.of(d.cairn);
        SyncPort port = user.space(space, false);
        boolean member = sim.members.role(space, d.user) != null;
        if (port == null) {
            if (member) {
                throw new AssertionError(d.replica + " holds no copy of space " + space + ", of which " + d.user + " is a member");
            }
            return;
        }
        Space copy = d.cairn.space(space);
        List<Change> own = d.spaceWrites.getOrDefault(space, List.of());
        Set<Change> refused = new HashSet<>();
        for (RefusedChange r : copy.refusedChanges()) {
            // A change is accepted or refused, never both (PROTOCOL.md 8.2: a re-sent batch that alters nothing is
            // acknowledged, and an unanswered batch goes again as it was, never beside a new write: 3.3).
            if (accepted.contains(r.change())) {
                throw new AssertionError(d.replica + " lists as refused a change of space " + space + " the server accepted: " + r);
            }
            refused.add(r.change());
        }
        Set<Change> queued = new HashSet<>(port.outbox(Integer.MAX_VALUE).values());
        // A write coalesced in the outbox with a later write of the same key by this device, or dropped from the
        // queue because newer data of the key came first, is superseded, not lost.
        Map<String, Stamp> newestAccepted = new HashMap<>();
        for (Change c : store.accepted) {
            if (c instanceof Change.Put put) {
                newestAccepted.merge(put.section() + '\u0000' + put.key(), put.stamp(), (a, b) -> a.compareTo(b) >= 0 ? a : b);
            }
        }
        Set<String> later = new HashSet<>();
        for (int i = own.size() - 1; i >= 0; i--) {
            Change c = own.get(i);
            String target = c.section() + '\u0000' + ((Change.Put) c).key();
            Stamp newest = newestAccepted.get(target);
            boolean superseded = !later.add(target) || (newest != null && newest.compareTo(c.stamp()) > 0);
            if (!superseded && !accepted.contains(c) && !refused.contains(c) && !(copy.leftReason() != null && queued.contains(c))) {
                throw new AssertionError(d.replica + " lost its write of space " + space + " (not accepted, not refused, not queued"
                        + " in a left copy; left=" + copy.leftReason() + "): " + c);
            }
        }
        String state = copy.canonicalState();
        if (member) {
            if (copy.leftReason() != null) {
                throw new AssertionError(d.replica + "'s copy of space " + space + " is still left (" + copy.leftReason() + ") though "
                        + d.user + " is a member");
            }
            String expected = fold(store.accepted, refused);
            if (!state.equals(expected)) {
                throw new AssertionError(d.replica + "'s copy of space " + space + " did not converge (accepted + own refused):\n device: "
                        + state + "\n expected: " + expected + "\n server: " + store.canonicalFromStore());
            }
            return;
        }
        Long cut = d.keptCut.get(space);
        if (cut == null || cut < 0) {
            return; // never taken live, or left at hello: the copy holds what it had
        }
        MembershipModel.Cut at = null;
        for (MembershipModel.Cut c : sim.members.cuts) {
            if (c.space().equals(space) && c.user().equals(d.user) && c.seq() == cut) {
                at = c;
            }
        }
        if (at == null) {
            throw new AssertionError(d.replica + " took a space-left of " + space + " at seq " + cut + ", which is no cut of " + d.user);
        }
        List<Change> before = store.accepted.subList(0, at.acceptedBefore());
        String expected = fold(before, own);
        if (state.equals(expected)) {
            return;
        }
        // The store keeps only each key's winning entry: a key written before the cut and again at or after it
        // may have been read (for a page) after the later write, which the cut leaves out; then the copy keeps an
        // older entry of that key. Every other key must equal the fold; no entry may come from after the cut.
        Set<String> rewritten = new HashSet<>();
        for (Change c : store.accepted.subList(at.acceptedBefore(), store.accepted.size())) {
            if (c instanceof Change.Put put) {
                rewritten.add(put.section() + '\u0000' + put.key());
            }
        }
        Set<String> seenStamps = new HashSet<>();
        for (Change c : before) {
            seenStamps.add(c.section() + '\u0000' + ((Change.Put) c).key() + '\u0000' + c.stamp());
        }
        for (Change c : own) {
            seenStamps.add(c.section() + '\u0000' + ((Change.Put) c).key() + '\u0000' + c.stamp());
        }
        JsonNode got = parse(state);
        JsonNode want = parse(expected);
        Set<String> sections = new java.util.TreeSet<>();
        got.fieldNames().forEachRemaining(sections::add);
        want.fieldNames().forEachRemaining(sections::add);
        for (String section : sections) {
            JsonNode g = got.path(section).path("entries");
            JsonNode w = want.path(section).path("entries");
            Set<String> keys = new java.util.TreeSet<>();
            g.fieldNames().forEachRemaining(keys::add);
            w.fieldNames().forEachRemaining(keys::add);
            for (String key : keys) {
                if (g.path(key).equals(w.path(key))) {
                    continue;
                }
                String target = section + '\u0000' + key;
                boolean older = g.path(key).isMissingNode() || seenStamps.contains(target + '\u0000' + g.path(key).path("stamp").asText());
                if (!rewritten.contains(target) || !older) {
                    throw new AssertionError(d.replica + "'s kept copy of space " + space + " is not the fold up to the cut " + at
                            + " plus its own writes at " + section + "/" + key + " (" + g.path(key) + " instead of " + w.path(key)
                            + "):\n device: " + state + "\n expected: " + expected);
                }
                sim.stats().keptEntriesOlderThanCut++;
            }
        }
    }

    private static JsonNode parse(String json) {
        try {
            return MAPPER.readTree(json);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static String fold(List<Change> accepted, Collection<Change> own) {
        ReplicaState state = new ReplicaState(SpaceSim::kind);
        accepted.forEach(state::apply);
        own.forEach(state::apply);
        return CanonicalJson.encode(state);
    }
}
