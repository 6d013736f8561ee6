package dev.cairn.engine;

import java.util.SortedSet;
import java.util.TreeSet;

/**
 * Expandable cards (the original {@code useExpandableCard}). A card's state is stored field by
 * field under {@code card-<id>/}: {@code isExpanded}, {@code isVisible}, {@code lastInteraction},
 * {@code customData/<name>}, so expanding a card on one device and hiding it on another both survive.
 */
public final class Cards {

    private final MapSection map;

    Cards(MapSection map) {
        this.map = map;
    }

    public Card card(String id) {
        return card(id, false);
    }

    /** A card handle; {@code defaultExpanded} applies until the card is first toggled. */
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
