package dev.cairn.server.auth;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.auth.JWTOptions;
import io.vertx.ext.auth.PubSecKeyOptions;
import io.vertx.ext.auth.authentication.TokenCredentials;
import io.vertx.ext.auth.jwt.JWTAuth;
import io.vertx.ext.auth.jwt.JWTAuthOptions;
import java.util.regex.Pattern;

/**
 * Verifies HS256 bearer tokens and, in dev mode, mints them. The token's {@code sub} claim is the
 * user id; {@code exp} is required and, like {@code nbf}, enforced; any other algorithm (including {@code none})
 * is refused because only the HS256 key is configured.
 */
public final class TokenAuth {

    /** User ids: what may follow "sub" — kept to a safe alphabet since they key every table. */
    public static final Pattern USER_ID = Pattern.compile("[A-Za-z0-9._@-]{1,128}");

    /** Seconds a token is still accepted after its {@code exp} (or before its {@code nbf}): clocks differ. */
    public static final int LEEWAY_SECONDS = 5;

    private final JWTAuth jwt;

    /** A valid token: its user and when it stops being valid (its {@code exp}, in epoch milliseconds). */
    public record Verified(String user, long expiresAtMillis) {
    }

    public TokenAuth(Vertx vertx, String secret) {
        this.jwt = JWTAuth.create(vertx, new JWTAuthOptions()
                .addPubSecKey(new PubSecKeyOptions().setAlgorithm("HS256").setBuffer(secret))
                .setJWTOptions(new JWTOptions().setAlgorithm("HS256").setLeeway(LEEWAY_SECONDS)));
    }

    /** The user id of a valid token; fails with {@link AuthException} otherwise. */
    public Future<String> authenticate(String token) {
        return verify(token).map(Verified::user);
    }

    /**
     * The user and expiry of a valid token; fails with {@link AuthException} otherwise. The
     * failure's message is safe to show and to log: it never contains the token or its parts.
     */
    public Future<Verified> verify(String token) {
        if (token == null || token.isBlank()) {
            return Future.failedFuture(new AuthException("missing bearer token"));
        }
        String claimProblem = claimTypes(token);
        if (claimProblem != null) {
            return Future.failedFuture(new AuthException("invalid token: " + claimProblem));
        }
        Future<io.vertx.ext.auth.User> checked;
        try {
            checked = jwt.authenticate(new TokenCredentials(token));
        } catch (RuntimeException e) {
            // The library throws (not fails) on some malformed tokens: still a 401, never a 500.
            checked = Future.failedFuture(e);
        }
        return checked
                .recover(e -> Future.failedFuture(new AuthException("invalid token: " + reason(describe(e, token), token))))
                .compose(user -> {
                    // getValue, not getString: getString turns a number into text, and a non-string sub is malformed (RFC 7519 4.1.2)
                    Object claim = user.principal().getValue("sub");
                    String sub = claim instanceof String s ? s : null;
                    if (sub == null || !USER_ID.matcher(sub).matches()) {
                        return Future.failedFuture(new AuthException("token has no valid 'sub' (user id)"));
                    }
                    // A token without an expiry would be valid forever once leaked.
                    // Vert.x 5 moves the registered claims (exp, iat, nbf) from the principal to the attributes.
                    Object exp = user.attributes().getValue("exp") instanceof Number n ? n : user.principal().getValue("exp");
                    if (!(exp instanceof Number seconds)) {
                        return Future.failedFuture(new AuthException("token has no 'exp' (expiry)"));
                    }
                    long s = seconds.longValue();
                    return Future.succeededFuture(new Verified(sub, s >= Long.MAX_VALUE / 1000 ? Long.MAX_VALUE : s * 1000));
                });
    }

    private static final com.fasterxml.jackson.databind.ObjectMapper CLAIMS = new com.fasterxml.jackson.databind.ObjectMapper();

    /**
     * Checks the types of the registered claims before the library reads them: a correctly signed
     * token with {@code "exp":"1796512971"} made Vert.x throw a ClassCastException (HTTP 500, and an
     * upgrade that was never answered). NumericDate claims (exp, nbf, iat) must be JSON numbers and
     * {@code sub} a string (RFC 7519 4.1). Returns the problem, or null; a payload that does not
     * decode is left to the library, which refuses it.
     */
    static String claimTypes(String token) {
        String[] parts = token.split("\\.", -1);
        if (parts.length != 3) {
            return null;
        }
        com.fasterxml.jackson.databind.JsonNode payload;
        try {
            payload = CLAIMS.readTree(java.util.Base64.getUrlDecoder().decode(parts[1]));
        } catch (IllegalArgumentException | java.io.IOException e) {
            return "the payload is not base64url JSON";
        }
        if (payload == null || !payload.isObject()) {
            return "the payload is not a JSON object";
        }
        for (String claim : new String[] {"exp", "nbf", "iat"}) {
            com.fasterxml.jackson.databind.JsonNode v = payload.get(claim);
            if (v != null && !v.isNumber()) {
                return "claim '" + claim + "' is not a number";
            }
        }
        com.fasterxml.jackson.databind.JsonNode sub = payload.get("sub");
        if (sub != null && !sub.isTextual()) {
            return "claim 'sub' is not a string";
        }
        return null;
    }

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(TokenAuth.class);

    /**
     * What the answer says about a token the library refused: a fixed phrase, never the library's
     * own text (which goes to the debug log).
     */
    private static String reason(String library, String token) {
        LOG.debug("token refused: {}", library);
        String l = library.toLowerCase(java.util.Locale.ROOT);
        if (l.contains("expired")) {
            return timeReason(token); // the library says "expired" of nbf and iat too
        }
        if (l.contains("nbf") || l.contains("not before") || l.contains("not yet")) {
            return "not yet valid";
        }
        if (l.contains("signature")) {
            return "bad signature";
        }
        if (l.contains("algorithm") || l.contains("alg")) {
            return "algorithm not accepted";
        }
        return "malformed or not signed with this server's key";
    }

    /** Which time claim a token the library called expired fails: exp passed, nbf or iat still ahead (each with the leeway). */
    private static String timeReason(String token) {
        com.fasterxml.jackson.databind.JsonNode payload;
        try {
            payload = CLAIMS.readTree(java.util.Base64.getUrlDecoder().decode(token.split("\\.", -1)[1]));
        } catch (IllegalArgumentException | java.io.IOException | ArrayIndexOutOfBoundsException e) {
            return "expired";
        }
        long now = System.currentTimeMillis() / 1000;
        if (payload.path("exp").isNumber() && payload.path("exp").asLong() + LEEWAY_SECONDS < now) {
            return "expired";
        }
        if (payload.path("nbf").isNumber() && payload.path("nbf").asLong() > now + LEEWAY_SECONDS) {
            return "not yet valid";
        }
        if (payload.path("iat").isNumber() && payload.path("iat").asLong() > now + LEEWAY_SECONDS) {
            return "issued in the future";
        }
        return "expired";
    }

    /** The library's reason, without any part of the token (some messages quote what they could not parse). */
    private static String describe(Throwable e, String token) {
        String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        for (String part : token.split("\\.")) {
            if (part.length() >= 4) {
                message = message.replace(part, "<token>");
            }
        }
        return message.length() > 200 ? message.substring(0, 200) + "..." : message;
    }

    /** A token for {@code user} valid for {@code seconds}. */
    public String mint(String user, int seconds) {
        if (user == null || !USER_ID.matcher(user).matches()) {
            throw new IllegalArgumentException("user id must be 1-128 characters of A-Z a-z 0-9 . _ @ -");
        }
        return jwt.generateToken(new JsonObject(), new JWTOptions().setAlgorithm("HS256").setSubject(user).setExpiresInSeconds(seconds));
    }

    /** Extracts the token from "Authorization: Bearer ..." (or null). */
    public static String bearer(String header) {
        if (header == null) {
            return null;
        }
        String h = header.trim();
        return h.regionMatches(true, 0, "Bearer ", 0, 7) ? h.substring(7).trim() : null;
    }

    /** A token was missing or not valid. */
    public static final class AuthException extends RuntimeException {
        public AuthException(String message) {
            super(message);
        }
    }
}
