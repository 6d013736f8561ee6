package dev.cairn.engine;

/**
 * User preferences (theme, accessibility, privacy) in the {@code preferences} section: name to any
 * JSON value, each preference merged on its own (last writer wins). Writes throw
 * {@link IllegalStateException} once the engine is closed. Thread-safe.
 */
public final class Preferences {

    private final MapSection map;

    Preferences(MapSection map) {
        this.map = map;
    }

    /** A preference read as {@code type}, or {@code fallback} if unset; {@link IllegalStateException} if it does not read as {@code type}. */
    public <T> T get(String name, Class<T> type, T fallback) {
        return map.get(name, type, fallback);
    }

    /** Sets a preference (any value Jackson can write; {@link ValidationException} for one JSON cannot carry exactly). */
    public void set(String name, Object value) {
        map.put(name, value);
    }

    /** The {@code theme} preference; {@code "system"} until one is set. */
    public String theme() {
        return map.get("theme", String.class, "system");
    }

    /** Sets the {@code theme} preference (the app chooses the names, e.g. {@code "dark"}). */
    public void setTheme(String theme) {
        map.put("theme", theme);
    }

    /** The {@code preferences} section itself, for listing, deleting or clearing preferences. */
    public MapSection asMap() {
        return map;
    }
}
