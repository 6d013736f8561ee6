package dev.cairn.engine.crypto;

import dev.cairn.engine.crdt.Change;
import java.util.Objects;
import java.util.Set;

/**
 * Applies a {@link ValueCipher} to whole changes of the chosen sections, at the sync boundary:
 * what leaves the device (push) is sealed, what arrives (pages, live changes) is opened. Local
 * state and the local store keep plain values (the device is trusted; the server is not).
 * Tombstones and log clears carry no value and pass unchanged, so the server still merges by
 * stamp and purges cleared entries.
 */
public final class ChangeCipher {

    private final ValueCipher cipher;
    private final Set<String> sections;

    /**
     * Seals and opens the changes of {@code sections} (copied) with {@code cipher}; other sections
     * pass in clear. NullPointerException for a null cipher, set or section name.
     */
    public ChangeCipher(ValueCipher cipher, Set<String> sections) {
        this.cipher = Objects.requireNonNull(cipher, "cipher");
        this.sections = Set.copyOf(sections);
    }

    /** The end-to-end encrypted sections (unmodifiable). */
    public Set<String> sections() {
        return sections;
    }

    /** Whether the values of {@code section} are encrypted on the wire. */
    public boolean covers(String section) {
        return sections.contains(section);
    }

    /** The change as it goes on the wire. */
    public Change seal(Change change) {
        if (!covers(change.section())) {
            return change;
        }
        if (change instanceof Change.Put put && !put.isDelete()) {
            return new Change.Put(put.section(), put.key(), cipher.encrypt(put.section(), put.key(), put.stamp(), put.value()), put.stamp());
        }
        if (change instanceof Change.Append append) {
            return new Change.Append(append.section(), append.stream(),
                    cipher.encrypt(append.section(), append.stream(), append.stamp(), append.value()), append.stamp());
        }
        return change;
    }

    /**
     * The change as the device applies it. A plain value in an encrypted section (written before
     * encryption was turned on, or by the server's HTTP API) is refused: the server must not be
     * able to plant values the user's key did not seal.
     */
    public Change open(Change change) {
        if (!covers(change.section())) {
            return change;
        }
        if (change instanceof Change.Put put && !put.isDelete()) {
            return new Change.Put(put.section(), put.key(), openValue(put.section(), put.key(), put.stamp(), put.value()), put.stamp());
        }
        if (change instanceof Change.Append append) {
            return new Change.Append(append.section(), append.stream(),
                    openValue(append.section(), append.stream(), append.stamp(), append.value()), append.stamp());
        }
        return change;
    }

    private String openValue(String section, String target, dev.cairn.engine.clock.Stamp stamp, String value) {
        if (!ValueCipher.isEnvelope(value)) {
            throw new E2eException(E2eException.Reason.MALFORMED, "section '" + section + "' is end-to-end encrypted but "
                    + section + "/" + target + " arrived as a plain value");
        }
        return cipher.decrypt(section, target, stamp, value);
    }
}
