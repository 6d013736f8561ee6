package dev.cairn.engine;

import dev.cairn.engine.clock.WallClock;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.crdt.LogEntry;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Waivers and legal consent ({@code useWaiverPersistence} in the browser client's React
 * bindings): an append-only audit trail per waiver in the {@code consent} log section, kept from
 * every device. Nothing is overwritten; whether a waiver is valid is derived: the latest event for
 * the waiver version is a signature that has not expired ({@link #hasValidWaiver}). Writes throw
 * {@link IllegalStateException} once the engine is closed. Thread-safe.
 */
public final class Consent {

    private final LogSection log;
    private final WallClock wall;

    Consent(LogSection log, WallClock wall) {
        this.log = log;
        this.wall = wall;
    }

    /** Records a signature of one waiver version, valid for {@code validFor} (null: no expiry). */
    public ConsentEvent sign(String waiverId, String version, Duration validFor, Map<String, Object> data) {
        Objects.requireNonNull(version, "version");
        Instant now = Instant.ofEpochMilli(wall.millis());
        Instant expires = validFor == null ? null : now.plus(validFor);
        return record(waiverId, ConsentEvent.Type.SIGNED, version, now, expires, data);
    }

    /** Records a signature of one waiver version that never expires, without data. */
    public ConsentEvent sign(String waiverId, String version) {
        return sign(waiverId, version, null, null);
    }

    /** Records a revocation of one waiver version. */
    public ConsentEvent revoke(String waiverId, String version) {
        Objects.requireNonNull(version, "version");
        return record(waiverId, ConsentEvent.Type.REVOKED, version, Instant.ofEpochMilli(wall.millis()), null, null);
    }

    /** Every event of a waiver, oldest first. */
    public List<ConsentEvent> history(String waiverId) {
        List<ConsentEvent> out = new ArrayList<>();
        for (LogEntry entry : log.entries(waiverId)) {
            out.add(decode(waiverId, entry));
        }
        return out;
    }

    /** The latest event for this waiver version, if any. */
    public Optional<ConsentEvent> latest(String waiverId, String version) {
        List<ConsentEvent> events = history(waiverId);
        for (int i = events.size() - 1; i >= 0; i--) {
            if (events.get(i).version().equals(version)) {
                return Optional.of(events.get(i));
            }
        }
        return Optional.empty();
    }

    /** True if the latest event for this version is a signature, not revoked, not expired now. */
    public boolean hasValidWaiver(String waiverId, String version) {
        Instant now = Instant.ofEpochMilli(wall.millis());
        return latest(waiverId, version).map(e -> e.isActiveSignature(now)).orElse(false);
    }

    private ConsentEvent record(String waiverId, ConsentEvent.Type type, String version, Instant at, Instant expires,
                                Map<String, Object> data) {
        ConsentEvent.Body body = new ConsentEvent.Body(type.name().toLowerCase(Locale.ROOT), version, at.toString(),
                expires == null ? null : expires.toString(), data);
        LogEntry entry = log.appendRecord(waiverId, body);
        return decode(waiverId, entry);
    }

    private static ConsentEvent decode(String waiverId, LogEntry entry) {
        try {
            ConsentEvent.Body body = Json.MAPPER.readValue(entry.value(), ConsentEvent.Body.class);
            return new ConsentEvent(waiverId, ConsentEvent.Type.valueOf(body.type().toUpperCase(Locale.ROOT)), body.version(),
                    Instant.parse(body.at()), body.expiresAt() == null ? null : Instant.parse(body.expiresAt()),
                    body.data() == null ? Map.of() : body.data(), entry.stamp());
        } catch (IOException | RuntimeException e) {
            throw new IllegalStateException("consent entry " + entry.stamp() + " of '" + waiverId + "' is not a consent event: " + e.getMessage(), e);
        }
    }
}
