package dev.cairn.engine;

import java.util.SortedSet;
import java.util.TreeSet;

/**
 * Expandable cards, the {@code cards} section ({@code useExpandableCard} in the browser client's
 * React bindings). A card's state is stored field by field under {@code card-<id>/}:
 * {@code isExpanded}, {@code isVisible}, {@code lastInteraction}, {@code customData/<name>}, so
 * expanding a card on one device and hiding it on another both survive. Use ids without {@code '/'}
 * ({@link #ids()} ends an id at the first one). Thread-safe.
 */
public final class Cards {

    private final MapSection map;

    Cards(MapSection map) {
        this.map = map;
    }

    /** A handle on card {@code id}, collapsed until it is first expanded on any device. */
    public Card card(String id) {
        return card(id, false);
    }

    /** A handle on card {@code id}; {@code defaultExpanded} applies until the card is first expanded or collapsed on any device. */
    public Card card(String id, boolean defaultExpanded) {
        return new Card(map, "card-" + id + "/", defaultExpanded);
    }

    /** Ids of cards that have any stored state. */
    public SortedSet<String> ids() {
        TreeSet<String> ids = new TreeSet<>();
        for (String key : map.keys("card-")) {
            int slash = key.indexOf('/');
            if (slash > 5) {
                ids.add(key.substring(5, slash));
            }
        }
        return ids;
    }
}
