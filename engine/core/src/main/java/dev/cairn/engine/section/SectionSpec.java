package dev.cairn.engine.section;

import dev.cairn.engine.crdt.Names;
import dev.cairn.engine.crdt.SectionKind;
import java.util.Objects;

/** A section's name, CRDT kind and default storage policy (keys may override the policy). */
public record SectionSpec(String name, SectionKind kind, StoragePolicy policy) {

    /** IllegalArgumentException for a name that is not 1-64 characters of a-z, 0-9, '-' and '_' starting with a letter; NullPointerException for a null kind or policy. */
    public SectionSpec {
        Names.checkSection(name);
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(policy, "policy");
    }
}
