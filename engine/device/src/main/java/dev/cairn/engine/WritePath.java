package dev.cairn.engine;

import dev.cairn.engine.codec.ChangeJson;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.persist.Persister;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.FrameCodec;
import dev.cairn.engine.value.FieldWrite;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.section.SectionSpec;
import dev.cairn.engine.section.StoragePolicy;
import dev.cairn.engine.crdt.Names;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The write path of one engine: a change applied to memory and its record queued on the key's
 * storage policy (a handle's own, the section's, a privacy switch's), local writes checked against
 * the push frame limit first, merged changes from elsewhere likewise. Runs under the engine's
 * write lock ({@link Cairn#locked}).
 */
final class WritePath {

    private final Cairn cairn;
    /** The builder's limit until a server's welcome says otherwise (SyncPort#serverMaxFrameBytes). */
    volatile long maxFrameBytes;
    final ConcurrentHashMap<String, StoragePolicy> keyPolicies = new ConcurrentHashMap<>();
    /** Keys whose app set a saveDelay: pushed when the user pauses, not per write (see Persister#recordHeld). */
    final java.util.Set<String> heldKeys = ConcurrentHashMap.newKeySet();

    WritePath(Cairn cairn, long maxFrameBytes) {
        this.cairn = cairn;
        this.maxFrameBytes = maxFrameBytes;
    }

    /**
     * PROTOCOL.md 1.2 at write time: a value must come back exactly as written, so one holding a
     * number the server would refuse (NaN, an infinity, -0, a long or decimal a double would change)
     * is refused here, before it reaches the outbox. Returns the canonical text.
     */
    static String checkedValue(String json) {
        try {
            return Json.canonicalValue(json);
        } catch (IllegalArgumentException e) {
            throw new ValidationException(e.getMessage());
        }
    }

    Change writeLocal(Supplier<Change> make) {
        return cairn.locked(() -> {
            Change change = make.get();
            if (policyFor(change).sync()) {
                checkFits(change);
            }
            applyLocal(change);
            return change;
        });
    }

    /** Writes (or with {@code json == null} deletes) one map key with a fresh stamp. */
    Change.Put put(String section, String key, String json) {
        cairn.checkWritable(section);
        Names.checkKey(key, "key");
        String value = json == null ? null : WritePath.checkedValue(json);
        return (Change.Put) writeLocal(() -> new Change.Put(section, key, value, cairn.clock.tick()));
    }

    /** Appends one value to a stream of a log section with a fresh stamp. */
    Change.Append append(String section, String stream, String json) {
        cairn.checkWritable(section);
        Names.checkKey(stream, "stream");
        String value = WritePath.checkedValue(json);
        return (Change.Append) writeLocal(() -> new Change.Append(section, stream, value, cairn.clock.tick()));
    }

    /**
     * Writes (null: deletes) several keys of one section as one local write: every change is
     * checked before any applies, each gets its own fresh stamp in the given order, and they are
     * saved and pushed together (a typed value's field entries, spec/vectors/values/README.md).
     */
    void putAll(String section, List<FieldWrite.Op> ops) {
        cairn.checkWritable(section);
        cairn.locked(() -> {
            List<Change> changes = new ArrayList<>(ops.size());
            for (FieldWrite.Op op : ops) {
                Names.checkKey(op.key(), "key");
                Change.Put put = new Change.Put(section, op.key(), op.json() == null ? null : checkedValue(op.json()), cairn.clock.tick());
                if (policyFor(put).sync()) {
                    checkFits(put);
                }
                changes.add(put);
            }
            changes.forEach(this::applyLocal);
            cairn.persister.alignDeadlines(changes);
            return null;
        });
    }

    /** {@link Cairn#clear(String)}: a whole-section clear of a map section, a clear per stream of a log section. */
    int clear(SectionSpec spec) {
        String section = spec.name();
        return cairn.locked(() -> {
            if (spec.kind() == SectionKind.MAP) {
                int live = cairn.state.map(section).liveSize();
                applyLocal(Change.Clear.wholeSection(section, cairn.clock.tick()));
                return live;
            }
            List<Change> changes = new ArrayList<>();
            for (String stream : cairn.state.log(section).streams()) {
                if (cairn.state.log(section).size(stream) > 0) {
                    changes.add(new Change.Clear(section, stream, cairn.clock.tick()));
                }
            }
            changes.forEach(c -> applyLocal(c));
            return changes.size();
        });
    }

    /** The bytes of an empty push frame with the longest batch id. */
    private static final long PUSH_OVERHEAD_BYTES =
            FrameCodec.encode(new Frame.Push(Long.MIN_VALUE, List.of())).getBytes(StandardCharsets.UTF_8).length;

    /** Refuses a change that no push frame of maxFrameBytes could carry: it would block the outbox. */
    void checkFits(Change change) {
        String json = ChangeJson.encode(change);
        if (PUSH_OVERHEAD_BYTES + json.length() * 3L <= maxFrameBytes) {
            return; // 3 bytes per UTF-16 char bound the UTF-8 size: no counting needed
        }
        long bytes = PUSH_OVERHEAD_BYTES + json.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > maxFrameBytes) {
            throw new ChangeTooLargeException("change-too-large: " + change.section() + "/" + change.target() + " needs a push frame of "
                    + bytes + " bytes, more than the " + maxFrameBytes + " bytes a server frame may hold; nothing was written",
                    bytes, maxFrameBytes);
        }
    }

    /** Applies a fresh local change (it always wins: its stamp is newer than anything seen). Lock held. */
    void applyLocal(Change change) {
        if (cairn.state.apply(change)) {
            StoragePolicy policy = policyFor(change);
            if (policy.sync() && change instanceof Change.Put put && heldKeys.contains(Persister.pendingKey(put.section(), handleKey(put.key())))) {
                cairn.persister.recordHeld(change, policy);
            } else {
                cairn.persister.record(change, policy, policy.sync());
            }
            cairn.listeners.queued().add(new ChangeEvent(change, ChangeEvent.Origin.LOCAL));
        }
    }

    int merge(List<Change> changes, ChangeEvent.Origin origin, boolean trustedStamps) {
        return cairn.locked(() -> {
            int applied = 0;
            for (Change change : changes) {
                if (trustedStamps) {
                    cairn.clock.advance(change.stamp());
                } else {
                    cairn.clock.observe(change.stamp());
                }
                if (cairn.state.apply(change)) {
                    applied++;
                    StoragePolicy policy = policyFor(change);
                    if (origin == ChangeEvent.Origin.REMOTE) {
                        cairn.persister.recordRemote(change, policy);
                    } else {
                        // Imports reach the server like local writes.
                        cairn.persister.record(change, policy, policy.sync());
                    }
                    cairn.listeners.queued().add(new ChangeEvent(change, origin));
                } else if (origin == ChangeEvent.Origin.REMOTE) {
                    cairn.persister.coverRemote(change);
                }
            }
            return applied;
        });
    }

    StoragePolicy policyFor(Change change) {
        StoragePolicy policy = null;
        if (change instanceof Change.Put put && !keyPolicies.isEmpty()) {
            policy = keyPolicies.get(Persister.pendingKey(put.section(), put.key()));
            if (policy == null && put.key().indexOf('#') > 0) {
                policy = keyPolicies.get(Persister.pendingKey(put.section(), handleKey(put.key())));
            }
        }
        if (policy == null) {
            policy = cairn.sections.get(change.section()).policy();
        }
        // A privacy switch turned off: the write stays on this device.
        return cairn.privacy.isOff(change.section()) ? policy.withSync(false) : policy;
    }

    /** The handle key a field entry {@code K#a#b} belongs to ({@code K}); any other key itself. */
    private static String handleKey(String key) {
        int hash = key.indexOf('#');
        return hash > 0 ? key.substring(0, hash) : key;
    }
}
