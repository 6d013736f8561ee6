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

    private final JWTAuth jwt;

    public TokenAuth(Vertx vertx, String secret) {
        this.jwt = JWTAuth.create(vertx, new JWTAuthOptions()
                .addPubSecKey(new PubSecKeyOptions().setAlgorithm("HS256").setBuffer(secret))
                .setJWTOptions(new JWTOptions().setAlgorithm("HS256").setLeeway(5)));
    }

    /** The user id of a valid token; fails with {@link AuthException} otherwise. */
    public Future<String> authenticate(String token) {
        if (token == null || token.isBlank()) {
            return Future.failedFuture(new AuthException("missing bearer token"));
        }
        return jwt.authenticate(new TokenCredentials(token))
                .recover(e -> Future.failedFuture(new AuthException("invalid token: " + e.getMessage())))
                .compose(user -> {
                    // getValue, not getString: getString turns a number into text, and a non-string sub is malformed (RFC 7519 4.1.2)
                    Object claim = user.principal().getValue("sub");
                    String sub = claim instanceof String s ? s : null;
                    if (sub == null || !USER_ID.matcher(sub).matches()) {
                        return Future.failedFuture(new AuthException("token has no valid 'sub' (user id)"));
                    }
                    // A token without an expiry would be valid forever once leaked.
                    // Vert.x 5 moves the registered claims (exp, iat, nbf) from the principal to the attributes.
                    if (!(user.attributes().getValue("exp") instanceof Number) && !(user.principal().getValue("exp") instanceof Number)) {
                        return Future.failedFuture(new AuthException("token has no 'exp' (expiry)"));
                    }
                    return Future.succeededFuture(sub);
                });
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
