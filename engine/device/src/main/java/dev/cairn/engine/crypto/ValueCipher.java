package dev.cairn.engine.crypto;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.codec.Json;
import java.io.ByteArrayOutputStream;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Arrays;
import java.util.Base64;
import java.util.Objects;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;

/**
 * Encrypts one JSON value of a section into an envelope the server can store and merge without
 * reading it, and back. Stamps, section names, keys and stream names stay in clear (the server
 * merges by them); values do not.
 *
 * <p>Envelope (a JSON object, members in sorted order so every codec writes the same bytes):
 * {@code {"$e2e":1,"ct":"<base64url>","iv":"<base64url>","kid":"<key id>"}}, where {@code ct} is
 * AES-256-GCM ciphertext with its 128-bit tag of the value's UTF-8 JSON text.
 *
 * <ul>
 *   <li><b>Bound to its place:</b> the additional data is
 *       {@code "cairn-e2e-v1" NUL section NUL key-or-stream NUL stamp}, so the server cannot move a
 *       ciphertext to another key or re-stamp an old value as newer: it would fail as TAMPERED.</li>
 *   <li><b>Deterministic nonce:</b> {@code iv} is the first 96 bits of HMAC-SHA256(macKey,
 *       additional data || NUL || plaintext). Re-sending a change after a lost ack yields the same
 *       bytes, so the server sees a duplicate (no new seq) rather than a competing value; and a
 *       nonce repeats only for identical place and plaintext, which gives identical ciphertext.</li>
 * </ul>
 * Thread-safe.
 */
public final class ValueCipher {

    static final String MARKER = "$e2e";
    private static final int VERSION = 1;
    private static final int IV_BYTES = 12;
    private static final int TAG_BITS = 128;
    private static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();
    private static final Base64.Decoder B64D = Base64.getUrlDecoder();

    private final E2eKey key;

    /** A cipher under {@code key} (NullPointerException if null). */
    public ValueCipher(E2eKey key) {
        this.key = Objects.requireNonNull(key, "key");
    }

    /** The key values are sealed and opened with; its {@link E2eKey#id()} goes into every envelope. */
    public E2eKey key() {
        return key;
    }

    /** The envelope of {@code valueJson} (compact JSON text) written at {@code section/target} with {@code stamp}. */
    public String encrypt(String section, String target, Stamp stamp, String valueJson) {
        Objects.requireNonNull(valueJson, "valueJson");
        byte[] aad = aad(section, target, stamp);
        byte[] plain = valueJson.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream nonceInput = new ByteArrayOutputStream(aad.length + 1 + plain.length);
        nonceInput.writeBytes(aad);
        nonceInput.write(0);
        nonceInput.writeBytes(plain);
        byte[] iv = Arrays.copyOf(key.hmac(nonceInput.toByteArray()), IV_BYTES);
        byte[] ct;
        try {
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.ENCRYPT_MODE, key.aesKey(), new GCMParameterSpec(TAG_BITS, iv));
            c.updateAAD(aad);
            ct = c.doFinal(plain);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM is unavailable", e);
        }
        return "{\"" + MARKER + "\":" + VERSION + ",\"ct\":\"" + B64.encodeToString(ct) + "\",\"iv\":\""
                + B64.encodeToString(iv) + "\",\"kid\":\"" + key.id() + "\"}";
    }

    /** The value JSON text inside {@code envelopeJson}; throws {@link E2eException} with a reason otherwise. */
    public String decrypt(String section, String target, Stamp stamp, String envelopeJson) {
        JsonNode env = parse(envelopeJson);
        if (env == null) {
            throw new E2eException(E2eException.Reason.MALFORMED,
                    "value of " + section + "/" + target + " is not an encrypted envelope");
        }
        if (!env.get(MARKER).isInt() || env.get(MARKER).intValue() != VERSION) {
            throw new E2eException(E2eException.Reason.MALFORMED, "value of " + section + "/" + target
                    + " is encrypted with envelope version " + env.get(MARKER) + "; this client reads version " + VERSION);
        }
        if (!key.hasId(env.get("kid").asText())) {
            throw new E2eException(E2eException.Reason.WRONG_PASSPHRASE, "value of " + section + "/" + target
                    + " was encrypted with a different passphrase (key " + env.get("kid").asText() + ", this device has "
                    + key.id() + ")");
        }
        byte[] iv;
        byte[] ct;
        try {
            iv = B64D.decode(env.get("iv").asText());
            ct = B64D.decode(env.get("ct").asText());
        } catch (IllegalArgumentException e) {
            throw new E2eException(E2eException.Reason.MALFORMED, "value of " + section + "/" + target + ": bad base64url");
        }
        if (iv.length != IV_BYTES || ct.length < TAG_BITS / 8) {
            throw new E2eException(E2eException.Reason.MALFORMED, "value of " + section + "/" + target + ": bad nonce or ciphertext length");
        }
        byte[] plain;
        try {
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.DECRYPT_MODE, key.aesKey(), new GCMParameterSpec(TAG_BITS, iv));
            c.updateAAD(aad(section, target, stamp));
            plain = c.doFinal(ct);
        } catch (AEADBadTagException e) {
            throw new E2eException(E2eException.Reason.TAMPERED, "value of " + section + "/" + target
                    + " failed its integrity check: altered, or moved from another key or stamp");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM is unavailable", e);
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(plain)).toString();
        } catch (CharacterCodingException e) {
            throw new E2eException(E2eException.Reason.MALFORMED, "value of " + section + "/" + target + " decrypted to invalid UTF-8");
        }
    }

    /** Whether a value's JSON text is an envelope (cheap check before parsing). */
    public static boolean isEnvelope(String valueJson) {
        return valueJson != null && valueJson.startsWith("{\"" + MARKER + "\":") && parse(valueJson) != null;
    }

    /** The envelope object, or null if the text is not one (any shape mismatch). */
    private static JsonNode parse(String text) {
        if (text == null) {
            return null;
        }
        JsonNode n;
        try {
            n = Json.MAPPER.readTree(text);
        } catch (Exception e) {
            return null;
        }
        if (n == null || !n.isObject() || n.size() != 4 || !n.path(MARKER).isNumber()) {
            return null;
        }
        for (String field : new String[] {"ct", "iv", "kid"}) {
            if (!n.path(field).isTextual()) {
                return null;
            }
        }
        return n;
    }

    private static byte[] aad(String section, String target, Stamp stamp) {
        Objects.requireNonNull(section, "section");
        Objects.requireNonNull(target, "target");
        Objects.requireNonNull(stamp, "stamp");
        return ("cairn-e2e-v1\u0000" + section + "\u0000" + target + "\u0000" + stamp).getBytes(StandardCharsets.UTF_8);
    }
}
