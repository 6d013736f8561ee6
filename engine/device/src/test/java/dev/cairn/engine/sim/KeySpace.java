package dev.cairn.engine.sim;

import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.section.StandardSections;
import dev.cairn.engine.section.StoragePolicy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The small key space every run writes to, so writes collide: a few keys in several map
 * sections, card fields, and a few log streams. Every key is registered durable and syncing
 * (the tier the "no loss" promise is about) with a save delay no run reaches, so the engine
 * commits only when the simulator says so (deterministic) — except its 1 s cursor save.
 */
final class KeySpace {

    static final List<String> MAP_SECTIONS = List.of(StandardSections.PREFERENCES, StandardSections.UI,
            StandardSections.STATE, StandardSections.MEMORY);
    static final int KEYS_PER_SECTION = 5;
    static final int CARDS = 3;
    static final List<String> CARD_FIELDS = List.of("isExpanded", "isVisible", "lastInteraction");
    static final List<String> CHAT_STREAMS = List.of("conv-1", "conv-2");
    static final List<String> CONSENT_STREAMS = List.of("waiver-1");

    /** The policy of every section: durable, syncing, never saved by a timer within a run. */
    static final StoragePolicy POLICY = StoragePolicy.DEFAULT.withSaveDelay(Duration.ofHours(1));

    record MapKey(String section, String key) {
    }

    record Stream(String section, String stream) {
    }

    final List<MapKey> mapKeys = new ArrayList<>();
    final Map<String, Integer> mapIndex = new HashMap<>();
    final List<Stream> streams = new ArrayList<>();
    final Map<String, Integer> streamIndex = new HashMap<>();

    KeySpace() {
        for (String section : MAP_SECTIONS) {
            for (int k = 0; k < KEYS_PER_SECTION; k++) {
                addKey(section, "k" + k);
            }
        }
        for (int c = 0; c < CARDS; c++) {
            for (String field : CARD_FIELDS) {
                addKey(StandardSections.CARDS, "card-c" + c + "/" + field);
            }
        }
        for (String s : CHAT_STREAMS) {
            addStream(StandardSections.CHAT, s);
        }
        for (String s : CONSENT_STREAMS) {
            addStream(StandardSections.CONSENT, s);
        }
    }

    private void addKey(String section, String key) {
        mapIndex.put(section + '\u0000' + key, mapKeys.size());
        mapKeys.add(new MapKey(section, key));
    }

    private void addStream(String section, String stream) {
        streamIndex.put(section + '\u0000' + stream, streams.size());
        streams.add(new Stream(section, stream));
    }

    int keyIndex(String section, String key) {
        Integer i = mapIndex.get(section + '\u0000' + key);
        if (i == null) {
            throw new AssertionError("a write outside the key space: " + section + "/" + key);
        }
        return i;
    }

    int streamIndex(String section, String stream) {
        Integer i = streamIndex.get(section + '\u0000' + stream);
        if (i == null) {
            throw new AssertionError("a write outside the key space: " + section + "/" + stream);
        }
        return i;
    }

    static SectionKind kind(String section) {
        for (var spec : StandardSections.ALL) {
            if (spec.name().equals(section)) {
                return spec.kind();
            }
        }
        return null;
    }
}
