package dev.cairn.engine;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Turns a value stored by an older version of the app into this version's value
 * ({@link StateOptions#version}, {@link StateOptions#migrate}). Called when a handle reads a value
 * stored with a version lower than its own; the result is written back once, so every later read
 * (on any device) sees the new version. If it throws, the handle returns its default value and
 * reports an {@link UnreadableValueException}; the stored value stays untouched.
 *
 * @param <T> the handle's value type
 */
@FunctionalInterface
public interface Migration<T> {

    /**
     * The value of this version for an older stored value.
     *
     * @param oldValue    the stored value as a JSON tree, exactly as stored (the object assembled
     *                    from its fields, or the whole value), before the handle's default value
     *                    fills in missing fields; the method may change or keep it
     * @param fromVersion the version it was stored with, lower than the handle's
     * @return the value to use and write back; not null
     */
    T migrate(JsonNode oldValue, int fromVersion);
}
