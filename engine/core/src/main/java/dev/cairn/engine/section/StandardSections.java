package dev.cairn.engine.section;

import dev.cairn.engine.crdt.SectionKind;
import java.util.List;

/** The sections every Cairn replica has, from the original spec's persistence state. */
public final class StandardSections {

    public static final String PREFERENCES = "preferences";
    public static final String UI = "ui";
    public static final String MEMORY = "memory";
    public static final String FEATURES = "features";
    public static final String CARDS = "cards";
    public static final String COMPONENTS = "components";
    public static final String PROGRESS = "progress";
    /** Generic keyed state: where {@code PersistentState} keys live unless told otherwise. */
    public static final String STATE = "state";
    /** Chat history: one log stream per conversation. */
    public static final String CHAT = "chat";
    /** Waiver and consent events: an audit trail, one stream per waiver. */
    public static final String CONSENT = "consent";

    public static final List<SectionSpec> ALL = List.of(
            map(PREFERENCES), map(UI), map(MEMORY), map(FEATURES), map(CARDS),
            map(COMPONENTS), map(PROGRESS), map(STATE),
            new SectionSpec(CHAT, SectionKind.LOG, StoragePolicy.DEFAULT),
            new SectionSpec(CONSENT, SectionKind.LOG, StoragePolicy.DEFAULT));

    private StandardSections() {
    }

    private static SectionSpec map(String name) {
        return new SectionSpec(name, SectionKind.MAP, StoragePolicy.DEFAULT);
    }
}
