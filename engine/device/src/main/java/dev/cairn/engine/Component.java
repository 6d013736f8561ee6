package dev.cairn.engine;

/**
 * One show/hide component's state, read and written field by field ({@link Components} says where
 * it is stored), so hiding a component on one device and disabling it on another both survive.
 *
 * <p>Reads come from memory and see remote changes as soon as they are merged. Every write lands
 * in memory at once, is saved as the {@code components} section's policy says, and reaches the
 * user's other devices through a running {@link dev.cairn.engine.sync.SyncClient}. Unlike a
 * {@link Card}, a component keeps no {@code lastInteraction}. A handle holds no state of its own:
 * it is cheap and thread-safe. Writes throw {@link IllegalStateException} once the engine is closed.
 */
public final class Component {

    /**
     * The component's fields, as {@link Component#state()} reads them.
     *
     * @param isVisible whether the component is shown
     * @param isEnabled whether the component is enabled (true until set otherwise)
     * @param lastState the app's last saved state text for it, or null
     */
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

    /** Whether the component is shown; the handle's {@code defaultVisible} until it was first set on any device. */
    public boolean isVisible() {
        return map.get(prefix + "isVisible", Boolean.class, defaultVisible);
    }

    /** Shows the component: {@code setVisible(true)}. */
    public void show() {
        setVisible(true);
    }

    /** Hides the component: {@code setVisible(false)}. */
    public void hide() {
        setVisible(false);
    }

    /** Shows or hides the component on every device of the user. */
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

    /** Whether the component is enabled; true until it was first disabled on any device. */
    public boolean isEnabled() {
        return map.get(prefix + "isEnabled", Boolean.class, true);
    }

    /** Enables or disables the component; independent of visibility. */
    public void setEnabled(boolean enabled) {
        map.put(prefix + "isEnabled", enabled);
    }

    /** The text the app last stored with {@link #setLastState}, or null if none. */
    public String lastState() {
        return map.get(prefix + "lastState", String.class);
    }

    /** Stores a short app-defined state text (a tab name, a scroll anchor); null makes {@link #lastState()} null again. */
    public void setLastState(String state) {
        map.put(prefix + "lastState", state);
    }

    /**
     * An app-defined field of the component read as {@code type}, or null if it was never set or
     * was set to null. {@link IllegalStateException} if the stored JSON does not read as {@code type}.
     */
    public <T> T customData(String name, Class<T> type) {
        return map.get(prefix + "customData/" + name, type);
    }

    /**
     * Sets an app-defined field of the component to any value Jackson can write (each name merges
     * on its own). {@link ValidationException} for a value JSON cannot carry exactly (NaN, an
     * infinity); {@link IllegalArgumentException} for a name with control characters or too long
     * for a key (512 chars with its prefix).
     */
    public void putCustomData(String name, Object value) {
        map.put(prefix + "customData/" + name, value);
    }

    /** The component's fields, read one after the other without a lock (a concurrent write may land between them). */
    public State state() {
        return new State(isVisible(), isEnabled(), lastState());
    }
}
