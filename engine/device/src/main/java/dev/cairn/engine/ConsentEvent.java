package dev.cairn.engine;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.cairn.engine.clock.Stamp;
import java.time.Instant;
import java.util.Map;

/**
 * One entry of a waiver's consent audit trail: a signature or a revocation of one waiver version.
 * Stored as JSON {@code {"type":"signed","version":"v2","at":"...","expiresAt":"...","data":{...}}}.
 */
public record ConsentEvent(String waiverId, Type type, String version, Instant at, Instant expiresAt,
                           Map<String, Object> data, Stamp stamp) {

    /** What the event records. */
    public enum Type {
        /** The user signed this waiver version (valid until {@code expiresAt}, if any). */
        SIGNED,
        /** The user withdrew consent to this waiver version. */
        REVOKED
    }

    /** True if this is a signature that has not expired at {@code now}. */
    public boolean isActiveSignature(Instant now) {
        return type == Type.SIGNED && (expiresAt == null || now.isBefore(expiresAt));
    }

    /** The stored JSON body (stamp and stream are kept by the log). */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Body(String type, String version, String at, String expiresAt, Map<String, Object> data) {
    }
}
