package dev.cairn.engine;

import java.time.Instant;

/**
 * One expandable card's state, read and written field by field ({@link Cards} says where it is
 * stored), so expanding a card on one device and hiding it on another both survive the merge.
 *
 * <p>Reads come from memory and see remote changes as soon as they are merged. Every write lands
 * in memory at once (stamping {@code lastInteraction}, with no other write in between), is saved
 * as the {@code cards} section's policy says, and reaches the user's other devices through a
 * running {@link dev.cairn.engine.sync.SyncClient}. A handle holds no state of its own: it is
 * cheap and thread-safe. Writes throw {@link IllegalStateException} once the engine is closed.
 */
public final class Card {

    /**
     * The card's fields, as {@link Card#state()} reads them.
     *
     * @param isExpanded      whether the card is open
     * @param isVisible       whether the card is shown (true until set otherwise)
     * @param lastInteraction when the card was last changed on any device (ISO-8601 UTC), or null if never
     */
    public record State(boolean isExpanded, boolean isVisible, String lastInteraction) {
    }

    private final MapSection map;
    private final String prefix;
    private final boolean defaultExpanded;

    Card(MapSection map, String prefix, boolean defaultExpanded) {
        this.map = map;
        this.prefix = prefix;
        this.defaultExpanded = defaultExpanded;
    }

    /** Whether the card is open; the handle's {@code defaultExpanded} until it was first set on any device. */
    public boolean isExpanded() {
        return map.get(prefix + "isExpanded", Boolean.class, defaultExpanded);
    }

    /** Opens the card: {@code setExpanded(true)}. */
    public void expand() {
        setExpanded(true);
    }

    /** Closes the card: {@code setExpanded(false)}. */
    public void collapse() {
        setExpanded(false);
    }

    /** Opens or closes the card and stamps {@code lastInteraction}; no other write lands in between. */
    public void setExpanded(boolean expanded) {
        map.atomically(() -> {
            map.put(prefix + "isExpanded", expanded);
            touch();
            return null;
        });
    }

    /** Flips {@code isExpanded} atomically; returns the new value. */
    public boolean toggle() {
        return map.atomically(() -> {
            boolean next = !isExpanded();
            setExpanded(next);
            return next;
        });
    }

    /** Whether the card is shown; true until it was first hidden on any device. */
    public boolean isVisible() {
        return map.get(prefix + "isVisible", Boolean.class, true);
    }

    /** Shows or hides the card and stamps {@code lastInteraction}; no other write lands in between. */
    public void setVisible(boolean visible) {
        map.atomically(() -> {
            map.put(prefix + "isVisible", visible);
            touch();
            return null;
        });
    }

    /** When the card was last changed on any device (ISO-8601 UTC, this engine's wall clock at the write), or null if never. */
    public String lastInteraction() {
        return map.get(prefix + "lastInteraction", String.class);
    }

    /**
     * An app-defined field of the card read as {@code type}, or null if it was never set or was
     * set to null. {@link IllegalStateException} if the stored JSON does not read as {@code type}.
     */
    public <T> T customData(String name, Class<T> type) {
        return map.get(prefix + "customData/" + name, type);
    }

    /**
     * Sets an app-defined field of the card to any value Jackson can write (each name merges on
     * its own) and stamps {@code lastInteraction}. {@link ValidationException} for a value JSON
     * cannot carry exactly (NaN, an infinity); {@link IllegalArgumentException} for a name with
     * control characters or too long for a key (512 chars with its prefix).
     */
    public void putCustomData(String name, Object value) {
        map.atomically(() -> {
            map.put(prefix + "customData/" + name, value);
            touch();
            return null;
        });
    }

    /** The card's fields, read one after the other without a lock (a concurrent write may land between them). */
    public State state() {
        return new State(isExpanded(), isVisible(), lastInteraction());
    }

    private void touch() {
        map.put(prefix + "lastInteraction", Instant.ofEpochMilli(map.engine().wall().millis()).toString());
    }
}
