package dev.cairn.server.section;

import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.crdt.UnknownSectionException;
import dev.cairn.engine.section.SectionSpec;
import dev.cairn.engine.section.StandardSections;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;

/** The sections the server accepts: the standard ones plus those configured (CAIRN_SECTIONS). */
public final class SectionRegistry implements Function<String, SectionKind> {

    private final Map<String, SectionKind> kinds;

    public SectionRegistry(Map<String, SectionKind> extra) {
        TreeMap<String, SectionKind> all = new TreeMap<>();
        for (SectionSpec spec : StandardSections.ALL) {
            all.put(spec.name(), spec.kind());
        }
        extra.forEach((name, kind) -> {
            SectionKind existing = all.get(name);
            if (existing != null && existing != kind) {
                throw new IllegalArgumentException("CAIRN_SECTIONS: '" + name + "' is a standard " + existing.wireName() + " section");
            }
            all.put(name, kind);
        });
        this.kinds = Map.copyOf(all);
    }

    @Override
    public SectionKind apply(String section) {
        return kinds.get(section);
    }

    public Map<String, SectionKind> all() {
        return new TreeMap<>(kinds);
    }

    /** Throws {@link UnknownSectionException} unless the change fits a known section of the right kind. */
    public void check(Change change) {
        SectionKind kind = kinds.get(change.section());
        if (kind == null) {
            throw new UnknownSectionException("unknown section '" + change.section() + "'");
        }
        SectionKind needed = change.kind();
        if (kind != needed) {
            throw new UnknownSectionException("section '" + change.section() + "' is a " + kind.wireName() + " section");
        }
    }
}
