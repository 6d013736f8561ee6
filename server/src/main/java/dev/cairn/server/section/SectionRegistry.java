package dev.cairn.server.section;

import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.crdt.UnknownSectionException;
import dev.cairn.engine.section.SectionSpec;
import dev.cairn.engine.section.SpaceSections;
import dev.cairn.engine.section.StandardSections;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * The sections the server accepts: the standard ones, those configured (CAIRN_SECTIONS), and the
 * map sections of shared spaces that the server writes (PROTOCOL.md 8): {@code spaces} (every
 * user's) and {@code members} (a space's). {@code spaces}, {@code members} and {@code invitations}
 * are reserved: configuring one fails at start; {@code invitations} is no section a client knows.
 */
public final class SectionRegistry implements Function<String, SectionKind> {

    private final Map<String, SectionKind> kinds;

    public SectionRegistry(Map<String, SectionKind> extra) {
        TreeMap<String, SectionKind> all = new TreeMap<>();
        for (SectionSpec spec : StandardSections.ALL) {
            all.put(spec.name(), spec.kind());
        }
        extra.forEach((name, kind) -> {
            if (SpaceSections.RESERVED.contains(name)) {
                throw new IllegalArgumentException("CAIRN_SECTIONS: '" + name + "' is reserved for shared spaces (PROTOCOL.md 8)");
            }
            SectionKind existing = all.get(name);
            if (existing != null && existing != kind) {
                throw new IllegalArgumentException("CAIRN_SECTIONS: '" + name + "' is a standard " + existing.wireName() + " section");
            }
            all.put(name, kind);
        });
        all.put(SpaceSections.SPACES, SectionKind.MAP);
        all.put(SpaceSections.MEMBERS, SectionKind.MAP);
        this.kinds = Map.copyOf(all);
    }

    /**
     * True for the sections only the server writes ({@code spaces}, {@code members}): a client's
     * write of one (a push, an HTTP write, an import) is refused.
     */
    public static boolean serverWritten(String section) {
        return SpaceSections.SPACES.equals(section) || SpaceSections.MEMBERS.equals(section);
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
