package dev.cairn.server;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Base64;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * JWTs built by hand (header.payload.signature, HMAC with {@link javax.crypto.Mac}), so tests can
 * make tokens no well-behaved library would: expired, not yet valid, unsigned, wrongly signed,
 * tampered. Claims are given as raw JSON so any shape can be tried.
 */
public final class TestTokens {

    private TestTokens() {
    }

    /** Seconds since the epoch, as JWT claims use. */
    public static long now() {
        return System.currentTimeMillis() / 1000;
    }

    /** A token for {@code sub} valid for an hour, HS256-signed with {@code secret}. */
    public static String valid(String sub, String secret) {
        return hs256("{\"sub\":\"" + sub + "\",\"iat\":" + now() + ",\"exp\":" + (now() + 3600) + "}", secret);
    }

    public static String hs256(String payloadJson, String secret) {
        return signed("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payloadJson, "HmacSHA256", secret);
    }

    /** {@code header.payload.signature} where the signature is {@code macAlgorithm} over the first two parts. */
    public static String signed(String headerJson, String payloadJson, String macAlgorithm, String secret) {
        String signingInput = b64(headerJson) + "." + b64(payloadJson);
        return signingInput + "." + b64(mac(macAlgorithm, secret, signingInput));
    }

    /** {@code header.payload.} with an empty signature (as {@code alg: none} tokens are). */
    public static String unsigned(String headerJson, String payloadJson) {
        return b64(headerJson) + "." + b64(payloadJson) + ".";
    }

    /** The token with its payload replaced and the original signature kept. */
    public static String withPayload(String token, String payloadJson) {
        String[] parts = token.split("\\.", -1);
        return parts[0] + "." + b64(payloadJson) + "." + parts[2];
    }

    public static String b64(String text) {
        return b64(text.getBytes(StandardCharsets.UTF_8));
    }

    public static String b64(byte[] bytes) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    private static byte[] mac(String algorithm, String secret, String input) {
        try {
            Mac mac = Mac.getInstance(algorithm);
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), algorithm));
            return mac.doFinal(input.getBytes(StandardCharsets.US_ASCII));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
