package dev.cairn.engine;

/**
 * How a {@link PersistentState} stores an object value ({@link StateOptions#merge}); the layout is
 * spec/vectors/values/README.md, shared with the browser client.
 */
public enum Merge {

    /**
     * One map entry per field (nested objects to a depth of four path segments), so concurrent
     * edits of different fields on two devices both survive and each field is decided by its own
     * stamp. Takes effect only for a value whose JSON is a non-empty object; scalars, arrays and
     * empty objects are written whole. Arrays are always one value: two devices that each add to
     * one array concurrently keep one device's array. The default.
     */
    FIELDS,

    /** The value is one map entry: a concurrent edit of another field on another device is lost to the later write. */
    WHOLE
}
