package dev.cairn.engine.crypto;

/**
 * An encrypted value could not be decrypted. {@link #reason()} says why, so an app can tell the
 * user "wrong passphrase" instead of showing garbage: a wrong key never yields a value.
 */
public final class E2eException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** Why decryption failed. */
    public enum Reason {
        /** The value was encrypted under another key: a different passphrase (or user). */
        WRONG_PASSPHRASE,
        /** Key id matches but the ciphertext, its place (section, key, stamp) or its tag was altered. */
        TAMPERED,
        /** Not an envelope this version understands. */
        MALFORMED
    }

    private final Reason reason;

    /**
     * @param reason  why decryption failed
     * @param message which value (section and key) and why, for people; never the key or plaintext
     */
    public E2eException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    /** Why decryption failed; never null when thrown by {@link ValueCipher} or {@link ChangeCipher}. */
    public Reason reason() {
        return reason;
    }
}
