package dev.cairn.engine.section;

import dev.cairn.engine.crdt.SectionKind;
import java.util.List;

/**
 * The sections every Cairn replica has (README, "Using the engine"); an app registers more of its own.
 * Each holds one part of an app's state, and the device API has a handle for each.
 */
public final class StandardSections {

    /** User preferences (theme, accessibility, privacy): a map. */
    public static final String PREFERENCES = "preferences";
    /** UI state: layout preferences, navigation state: a map. */
    public static final String UI = "ui";
    /** AI memory facts, key to any JSON value: a map. */
    public static final String MEMORY = "memory";
    /** Which features the user has access to: a map. */
    public static final String FEATURES = "features";
    /** Expandable cards, stored field by field ({@code card-<id>/isExpanded} ...): a map. */
    public static final String CARDS = "cards";
    /** Show/hide components, stored field by field ({@code component-<id>/isVisible} ...): a map. */
    public static final String COMPONENTS = "components";
    /** Onboarding and assessment progress, stored per step and answer: a map. */
    public static final String PROGRESS = "progress";
    /** Generic keyed state: where {@code PersistentState} keys live unless told otherwise. */
    public static final String STATE = "state";
    /** Chat history: one log stream per conversation. */
    public static final String CHAT = "chat";
    /** Waiver and consent events: an audit trail, one stream per waiver. */
    public static final String CONSENT = "consent";

    /** Every standard section with its kind and the default policy ({@link StoragePolicy#DEFAULT}). */
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
