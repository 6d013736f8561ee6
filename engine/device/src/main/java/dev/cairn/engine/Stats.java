package dev.cairn.engine;

import dev.cairn.engine.persist.Tier;
import java.util.Map;

/**
 * A snapshot for dashboards: bytes used per tier (memory is an estimate of the live state; the
 * durable figure is the store's files on disk), live entries per section, changes waiting for
 * the server, and records not yet saved locally.
 */
public record Stats(Map<Tier, Long> bytesPerTier, Map<String, Integer> entriesPerSection, int outboxSize, int unsavedRecords) {

    /** Copies both maps (unmodifiable); NullPointerException for a null map, key or value. */
    public Stats {
        bytesPerTier = Map.copyOf(bytesPerTier);
        entriesPerSection = Map.copyOf(entriesPerSection);
    }
}
