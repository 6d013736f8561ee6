package dev.cairn.engine.crdt;

import dev.cairn.engine.clock.Stamp;
import java.util.Objects;

/**
 * One register of an {@link LwwMap}: a JSON value (compact JSON text) or a tombstone
 * ({@code value == null}), with the stamp of the write that produced it.
 *
 * <p>Merge rule: the entry with the greater stamp wins. Two entries with equal stamps can only
 * differ if a replica reused a stamp (a bug or a forged change); to stay deterministic the
 * greater value text wins and a tombstone loses to any value.
 */
public record LwwEntry(String value, Stamp stamp) {

    /** NullPointerException if {@code stamp} is null; a null {@code value} is a tombstone. */
    public LwwEntry {
        Objects.requireNonNull(stamp, "stamp");
    }

    /** A tombstone: the register of a delete stamped {@code stamp}. */
    public static LwwEntry tombstone(Stamp stamp) {
        return new LwwEntry(null, stamp);
    }

    /** Whether this register records a delete (it has no value). */
    public boolean isTombstone() {
        return value == null;
    }

    /** True if this entry wins over {@code other} (false when they are equal). */
    public boolean beats(LwwEntry other) {
        int byStamp = stamp.compareTo(other.stamp);
        if (byStamp != 0) {
            return byStamp > 0;
        }
        if (Objects.equals(value, other.value)) {
            return false;
        }
        if (other.value == null) {
            return true;
        }
        return value != null && TextOrder.compare(value, other.value) > 0;
    }

    /** The merge of two registers: commutative, associative, idempotent. */
    public static LwwEntry merge(LwwEntry a, LwwEntry b) {
        if (a == null) {
            return b;
        }
        if (b == null) {
            return a;
        }
        return b.beats(a) ? b : a;
    }
}
