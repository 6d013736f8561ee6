package dev.cairn.engine;

import dev.cairn.engine.crdt.ReplicaState;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.section.SectionSpec;

/**
 * A cheap estimate of the heap the in-memory state takes (UTF-16 text plus per-entry object
 * overhead), for the dashboard's "memory" tier. Not exact: the JVM does not say.
 */
final class MemoryEstimate {

    /** Entry, stamp, string headers and hash-table slot, on a 64-bit JVM with compressed pointers. */
    static final int ENTRY_OVERHEAD = 120;

    private MemoryEstimate() {
    }

    static long of(ReplicaState state, SectionSpec spec) {
        long[] total = {0};
        if (spec.kind() == SectionKind.MAP) {
            state.map(spec.name()).forEach((key, entry) -> total[0] += ENTRY_OVERHEAD
                    + 2L * (key.length() + (entry.value() == null ? 0 : entry.value().length())));
        } else {
            var log = state.log(spec.name());
            for (String stream : log.streams()) {
                log.entries(stream).forEach(e -> total[0] += ENTRY_OVERHEAD + 2L * e.value().length());
            }
        }
        return total[0];
    }
}
