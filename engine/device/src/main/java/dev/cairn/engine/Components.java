package dev.cairn.engine;

/**
 * Show/hide components, the {@code components} section ({@code useVisibleComponent} in the browser
 * client's React bindings), stored field by field under {@code component-<id>/}: {@code isVisible},
 * {@code isEnabled}, {@code lastState}, {@code customData/<name>}. Thread-safe.
 */
public final class Components {

    private final MapSection map;

    Components(MapSection map) {
        this.map = map;
    }

    /** A handle on component {@code id}, visible until it is first hidden on any device. */
    public Component component(String id) {
        return component(id, true);
    }

    /** A component handle; {@code defaultVisible} applies until it is first shown or hidden. */
    public Component component(String id, boolean defaultVisible) {
        return new Component(map, "component-" + id + "/", defaultVisible);
    }
}
