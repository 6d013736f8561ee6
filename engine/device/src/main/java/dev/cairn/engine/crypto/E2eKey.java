package dev.cairn.engine.crypto;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Base64;
import java.util.Objects;
import javax.crypto.Mac;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * A user's end-to-end encryption key, derived on the device from a passphrase. Never leaves the
 * device and is never stored; the server only ever sees what {@link ValueCipher} makes of values.
 *
 * <p>Derivation (the browser client does the same with WebCrypto, checked by
 * {@code spec/vectors/e2e/}): PBKDF2-HMAC-SHA256 over the UTF-8 passphrase, salt
 * {@code "cairn-e2e-v1:" + userId} (per user, so every device of the user derives the same key
 * with nothing to exchange, and two users with one passphrase get different keys), 512 bits:
 * the first 256 are the AES-GCM key, the last 256 the HMAC-SHA256 key that makes nonces
 * ({@link ValueCipher}) and the key id. The key id (first 8 bytes of HMAC(macKey, "cairn-key-id"),
 * base64url) is written beside every ciphertext so a wrong passphrase is recognised as such
 * before any decryption is tried.
 */
public final class E2eKey {

    /** OWASP's 2023 figure for PBKDF2-HMAC-SHA256; about 0.3 s on one core of this class of machine. */
    public static final int DEFAULT_ITERATIONS = 600_000;
    /** Fewer would make a stolen ciphertext's passphrase cheap to guess. */
    public static final int MIN_ITERATIONS = 1_000;

    private final SecretKeySpec aesKey;
    private final SecretKeySpec macKey;
    private final String id;

    private E2eKey(byte[] derived) {
        this.aesKey = new SecretKeySpec(derived, 0, 32, "AES");
        this.macKey = new SecretKeySpec(derived, 32, 32, "HmacSHA256");
        this.id = Base64.getUrlEncoder().withoutPadding()
                .encodeToString(Arrays.copyOf(hmac("cairn-key-id".getBytes(StandardCharsets.UTF_8)), 8));
        Arrays.fill(derived, (byte) 0);
    }

    /** The key of {@code userId} for {@code passphrase}, with {@link #DEFAULT_ITERATIONS}. */
    public static E2eKey derive(char[] passphrase, String userId) {
        return derive(passphrase, userId, DEFAULT_ITERATIONS);
    }

    /**
     * The key of {@code userId} for {@code passphrase} with {@code iterations} PBKDF2 rounds. Every
     * device of the user must use the same count (the browser client's {@code iterations} option),
     * or it derives another key and reads the others' values as {@link E2eException.Reason#WRONG_PASSPHRASE}.
     * Takes time in proportion to {@code iterations}; call it off the UI thread. The caller's
     * {@code passphrase} array is not cleared. NullPointerException for a null argument,
     * IllegalArgumentException for an empty passphrase or user id or fewer than {@link #MIN_ITERATIONS}.
     */
    public static E2eKey derive(char[] passphrase, String userId, int iterations) {
        Objects.requireNonNull(passphrase, "passphrase");
        Objects.requireNonNull(userId, "userId");
        if (passphrase.length == 0) {
            throw new IllegalArgumentException("the encryption passphrase must not be empty");
        }
        if (userId.isEmpty()) {
            throw new IllegalArgumentException("the user id must not be empty");
        }
        if (iterations < MIN_ITERATIONS) {
            throw new IllegalArgumentException("PBKDF2 iterations must be >= " + MIN_ITERATIONS + ", got " + iterations);
        }
        // SunJCE's PBKDF2 encodes the passphrase's chars as UTF-8, as the browser's TextEncoder does.
        PBEKeySpec spec = new PBEKeySpec(passphrase, salt(userId), iterations, 512);
        try {
            return new E2eKey(SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("this JDK cannot derive PBKDF2-HMAC-SHA256 keys", e);
        } finally {
            spec.clearPassword();
        }
    }

    static byte[] salt(String userId) {
        return ("cairn-e2e-v1:" + userId).getBytes(StandardCharsets.UTF_8);
    }

    /** Short public fingerprint of the key, written beside each ciphertext. */
    public String id() {
        return id;
    }

    SecretKeySpec aesKey() {
        return aesKey;
    }

    byte[] hmac(byte[] data) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(macKey);
            return mac.doFinal(data);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is unavailable", e);
        }
    }

    /** Constant-time comparison of key ids. */
    boolean hasId(String other) {
        return MessageDigest.isEqual(id.getBytes(StandardCharsets.UTF_8), other.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public String toString() {
        return "E2eKey[id=" + id + "]";   // never the key material
    }
}
