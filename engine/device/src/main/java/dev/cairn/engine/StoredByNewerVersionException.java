package dev.cairn.engine;

/**
 * Reported to {@link Cairn#onError} (once per handle) when a {@link PersistentState} reads a value
 * stored by a newer version of the app ({@link StateOptions#version} lower than the stored one).
 * The value is still read, fields this version does not know are ignored, and this app's writes
 * never delete anything or lower the stored version: the newer app's data stays intact. The app
 * may tell its user to update.
 */
public final class StoredByNewerVersionException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final String key;
    private final int storedVersion;
    private final int appVersion;

    /**
     * @param key           the handle's section and key, {@code section/key}
     * @param storedVersion the version the value was stored with
     * @param appVersion    the handle's version, lower than {@code storedVersion}
     */
    public StoredByNewerVersionException(String key, int storedVersion, int appVersion) {
        super("'" + key + "' was stored by a newer app (version " + storedVersion + ", this app has version " + appVersion
                + "): it is read, unknown fields are kept, and this app's writes delete nothing");
        this.key = key;
        this.storedVersion = storedVersion;
        this.appVersion = appVersion;
    }

    /** The handle's section and key, {@code section/key}. */
    public String key() {
        return key;
    }

    /** The version the value was stored with. */
    public int storedVersion() {
        return storedVersion;
    }

    /** The handle's version. */
    public int appVersion() {
        return appVersion;
    }
}
