package dev.cairn.engine;

/**
 * Show/hide components (the original {@code useVisibleComponent}), stored field by field under
 * {@code component-<id>/}: {@code isVisible}, {@code isEnabled}, {@code lastState}, {@code customData/<name>}.
 */
public final class Components {

    private final MapSection map;

    Components(MapSection map) {
        this.map = map;
    }

    public Component component(String id) {
        return component(id, true);
    }

    /** A component handle; {@code defaultVisible} applies until it is first shown or hidden. */
    public Component component(String id, boolean defaultVisible) {
        return new Component(map, "component-" + id + "/", defaultVisible);
    }
}
