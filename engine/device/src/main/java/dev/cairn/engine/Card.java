package dev.cairn.engine;

import java.time.Instant;

/** One card's state: the original spec's {@code CardState}. Every mutation stamps {@code lastInteraction}. */
public final class Card {

    /** The original spec's CardState, read at one moment. */
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

    public boolean isExpanded() {
        return map.get(prefix + "isExpanded", Boolean.class, defaultExpanded);
    }

    public void expand() {
        setExpanded(true);
    }

    public void collapse() {
        setExpanded(false);
    }

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

    public boolean isVisible() {
        return map.get(prefix + "isVisible", Boolean.class, true);
    }

    public void setVisible(boolean visible) {
        map.atomically(() -> {
            map.put(prefix + "isVisible", visible);
            touch();
            return null;
        });
    }

    /** When the card was last changed on any device (ISO-8601), or null. */
    public String lastInteraction() {
        return map.get(prefix + "lastInteraction", String.class);
    }

    public <T> T customData(String name, Class<T> type) {
        return map.get(prefix + "customData/" + name, type);
    }

    public void putCustomData(String name, Object value) {
        map.atomically(() -> {
            map.put(prefix + "customData/" + name, value);
            touch();
            return null;
        });
    }

    public State state() {
        return new State(isExpanded(), isVisible(), lastInteraction());
    }

    private void touch() {
        map.put(prefix + "lastInteraction", Instant.ofEpochMilli(map.engine().wall().millis()).toString());
    }
}
