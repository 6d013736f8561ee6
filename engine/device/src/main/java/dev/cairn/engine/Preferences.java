package dev.cairn.engine;

/** User preferences (theme, accessibility, privacy) in the {@code preferences} section. */
public final class Preferences {

    private final MapSection map;

    Preferences(MapSection map) {
        this.map = map;
    }

    public <T> T get(String name, Class<T> type, T fallback) {
        return map.get(name, type, fallback);
    }

    public void set(String name, Object value) {
        map.put(name, value);
    }

    public String theme() {
        return map.get("theme", String.class, "system");
    }

    public void setTheme(String theme) {
        map.put("theme", theme);
    }

    public MapSection asMap() {
        return map;
    }
}
