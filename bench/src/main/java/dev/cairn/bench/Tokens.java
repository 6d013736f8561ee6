package dev.cairn.bench;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Base64;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/** HS256 bearer tokens for the bench's users, signed with the secret the bench gives its servers. */
final class Tokens {

    /** The server's CAIRN_JWT_SECRET during a bench run (48 characters). */
    static final String SECRET = "cairn-bench-secret-0123456789-abcdefghijklmnopqr";

    private Tokens() {
    }

    /** A token for {@code user}, valid for a day. */
    static String mint(String user) {
        long now = System.currentTimeMillis() / 1000;
        String header = b64("{\"alg\":\"HS256\",\"typ\":\"JWT\"}".getBytes(StandardCharsets.UTF_8));
        String payload = b64(("{\"sub\":\"" + user + "\",\"iat\":" + now + ",\"exp\":" + (now + 86_400) + "}").getBytes(StandardCharsets.UTF_8));
        String input = header + "." + payload;
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(SECRET.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            return input + "." + b64(mac.doFinal(input.getBytes(StandardCharsets.US_ASCII)));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String b64(byte[] bytes) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }
}
