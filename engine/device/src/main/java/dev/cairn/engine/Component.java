package dev.cairn.engine;

/** One component's state: the original spec's {@code ComponentState}. */
public final class Component {

    /** The original spec's ComponentState, read at one moment. */
    public record State(boolean isVisible, boolean isEnabled, String lastState) {
    }

    private final MapSection map;
    private final String prefix;
    private final boolean defaultVisible;

    Component(MapSection map, String prefix, boolean defaultVisible) {
        this.map = map;
        this.prefix = prefix;
        this.defaultVisible = defaultVisible;
    }

    public boolean isVisible() {
        return map.get(prefix + "isVisible", Boolean.class, defaultVisible);
    }

    public void show() {
        setVisible(true);
    }

    public void hide() {
        setVisible(false);
    }

    public void setVisible(boolean visible) {
        map.put(prefix + "isVisible", visible);
    }

    /** Flips visibility atomically; returns the new value. */
    public boolean toggle() {
        return map.atomically(() -> {
            boolean next = !isVisible();
            setVisible(next);
            return next;
        });
    }

    public boolean isEnabled() {
        return map.get(prefix + "isEnabled", Boolean.class, true);
    }

    public void setEnabled(boolean enabled) {
        map.put(prefix + "isEnabled", enabled);
    }

    public String lastState() {
        return map.get(prefix + "lastState", String.class);
    }

    public void setLastState(String state) {
        map.put(prefix + "lastState", state);
    }

    public <T> T customData(String name, Class<T> type) {
        return map.get(prefix + "customData/" + name, type);
    }

    public void putCustomData(String name, Object value) {
        map.put(prefix + "customData/" + name, value);
    }

    public State state() {
        return new State(isVisible(), isEnabled(), lastState());
    }
}
