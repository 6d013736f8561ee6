package dev.cairn.engine;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.clock.WallClock;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.section.SectionSpec;
import dev.cairn.engine.section.StandardSections;
import dev.cairn.engine.section.StoragePolicy;
import dev.cairn.engine.store.InMemoryLocalStore;
import dev.cairn.engine.store.LocalStore;
import dev.cairn.engine.store.TieredLocalStore;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The settings an engine is opened with, as {@link Cairn.Builder} collects them (each checked and
 * given once), and the opening itself: defaults filled in, the data directory locked, the store
 * opened. A space replica opens with its user engine's settings ({@link #forSpaceReplica}).
 */
final class EngineSettings {

    Path dataDir;
    boolean inMemory;
    String replicaId;
    WallClock wall;
    Duration maxClockAhead;
    long maxFrameBytes;
    ObjectMapper objectMapper;
    boolean saveOnShutdown;
    private boolean saveOnShutdownSet;
    private LocalStore durableStore; // tests only: see durableStore(LocalStore)
    String spaceId; // a space replica's (Cairn#openSpaceReplica)
    Cairn owner;
    final Map<String, SectionSpec> sections = new LinkedHashMap<>();
    private final java.util.Set<String> customized = new java.util.HashSet<>();

    EngineSettings() {
        StandardSections.ALL.forEach(s -> sections.put(s.name(), s));
    }

    void dataDir(Path dir) {
        once(this.dataDir == null && !inMemory, "dataDir (or inMemory)");
        this.dataDir = Objects.requireNonNull(dir, "dataDir");
    }

    void inMemory() {
        once(this.dataDir == null && !inMemory, "dataDir (or inMemory)");
        this.inMemory = true;
    }

    void replicaId(String id) {
        once(this.replicaId == null, "replicaId");
        if (id == null || !Stamp.isValidReplicaId(id)) {
            throw new IllegalArgumentException("replicaId '" + id + "' is invalid: use 1-64 characters of A-Z, a-z, 0-9, '-' and '_'");
        }
        this.replicaId = id;
    }

    void wallClock(WallClock clock) {
        once(this.wall == null, "wallClock");
        this.wall = Objects.requireNonNull(clock, "wallClock");
    }

    void maxClockAhead(Duration bound) {
        once(this.maxClockAhead == null, "maxClockAhead");
        if (bound == null || bound.isNegative()) {
            throw new IllegalArgumentException("maxClockAhead must be zero or positive: " + bound);
        }
        this.maxClockAhead = bound;
    }

    void maxFrameBytes(long bytes) {
        once(this.maxFrameBytes == 0, "maxFrameBytes");
        if (bytes < 256) {
            throw new IllegalArgumentException("maxFrameBytes must be at least 256, was " + bytes);
        }
        this.maxFrameBytes = bytes;
    }

    void objectMapper(ObjectMapper mapper) {
        once(this.objectMapper == null, "objectMapper");
        this.objectMapper = Objects.requireNonNull(mapper, "objectMapper");
    }

    void saveOnShutdown(boolean enabled) {
        once(!saveOnShutdownSet, "saveOnShutdown");
        this.saveOnShutdownSet = true;
        this.saveOnShutdown = enabled;
    }

    void section(String name, SectionKind kind, StoragePolicy policy) {
        SectionSpec spec = new SectionSpec(name, kind, policy);
        if (dev.cairn.engine.section.SpaceSections.RESERVED.contains(name)) {
            throw new IllegalArgumentException("section name '" + name + "' is reserved for shared spaces (PROTOCOL.md 8): "
                    + "the engine holds it itself, read-only; choose another name");
        }
        once(customized.add(name), "section '" + name + "'");
        SectionSpec existing = sections.get(name);
        if (existing != null && existing.kind() != kind) {
            throw new IllegalArgumentException("section '" + name + "' is a standard " + existing.kind().wireName()
                    + " section; it cannot be registered as a " + kind.wireName() + " section");
        }
        sections.put(name, spec);
    }

    /** Opens the engine these settings describe (see {@link Cairn.Builder#open()}). */
    Cairn open() {
        if (dataDir == null && !inMemory) {
            throw new IllegalStateException("set dataDir(path) for a durable engine, or inMemory() for one without files");
        }
        if (wall == null) {
            wall = WallClock.system();
        }
        if (maxClockAhead == null) {
            maxClockAhead = Duration.ofMinutes(1);
        }
        if (maxFrameBytes == 0) {
            maxFrameBytes = Frame.Welcome.DEFAULT_MAX_FRAME_BYTES;
        }
        if (inMemory) {
            try {
                return new Cairn(this, durableStore != null ? durableStore : new InMemoryLocalStore(), null);
            } catch (RuntimeException e) {
                throw StorageException.of(e);
            }
        }
        FileLock lock = DataDir.lockDirectory(dataDir);
        LocalStore store = null;
        try {
            store = TieredLocalStore.open(dataDir);
            return new Cairn(this, store, lock);
        } catch (RuntimeException e) {
            if (store != null) {
                store.close();
            }
            DataDir.releaseLock(lock);
            throw StorageException.of(e);
        }
    }

    /** Tests only: an engine without files whose durable tier is {@code store} (one that fails on purpose). */
    void durableStore(LocalStore store) {
        inMemory();
        this.durableStore = Objects.requireNonNull(store, "store");
    }

    /** The settings of the local replica of space {@code id} at {@code dir} (null: in memory): its user engine's. */
    EngineSettings forSpaceReplica(String id, Cairn owner, Path dir) {
        EngineSettings b = new EngineSettings();
        b.sections.clear();
        b.sections.putAll(sections);
        b.spaceId = id;
        b.owner = owner;
        b.replicaId = owner.replicaId();
        b.wall = owner.wall;
        b.maxClockAhead = maxClockAhead;
        b.maxFrameBytes = owner.writes.maxFrameBytes;
        b.objectMapper = objectMapper;
        if (dir == null) {
            b.inMemory = true;
        } else {
            b.dataDir = dir;
        }
        return b;
    }

    private static void once(boolean firstTime, String setting) {
        if (!firstTime) {
            throw new IllegalStateException(setting + " was already set");
        }
    }
}
