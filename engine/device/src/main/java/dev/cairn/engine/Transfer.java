package dev.cairn.engine;

import dev.cairn.engine.crdt.SectionKind;

import dev.cairn.engine.section.SpaceSections;

import dev.cairn.engine.codec.ExportDocument;
import dev.cairn.engine.codec.MalformedDocumentException;
import dev.cairn.engine.codec.TransferProgress;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.section.SpaceSections;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.function.Supplier;

/**
 * The state as a whole, in and out of one engine: export documents written, imports and backup
 * restores checked in full before anything is applied (all or nothing). The twin of the browser
 * client's transfer.js.
 */
final class Transfer {

    private final Cairn cairn;

    Transfer(Cairn cairn) {
        this.cairn = cairn;
    }

    String exportData() {
        return ExportDocument.write(cairn.replicaId(), Instant.ofEpochMilli(cairn.wall.millis()), cairn.state, cairn.sections().keySet());
    }

    String exportData(Collection<String> chosen) {
        chosen.forEach(s -> cairn.spec(s, null));
        return ExportDocument.write(cairn.replicaId(), Instant.ofEpochMilli(cairn.wall.millis()), cairn.state, chosen);
    }

    void exportData(OutputStream out, Collection<String> chosen, TransferProgress progress) throws IOException {
        cairn.checkOpen();
        chosen.forEach(s -> cairn.spec(s, null));
        Instant at = Instant.ofEpochMilli(cairn.wall.millis());
        cairn.writeLock.lock();
        try {
            ExportDocument.write(out, cairn.replicaId(), at, cairn.state, chosen, progress);
        } finally {
            cairn.writeLock.unlock();
        }
    }

    ImportResult importData(String document) {
        cairn.checkOpen();
        List<Change> changes = checkImport(() -> ExportDocument.read(document, this::importKind));
        return new ImportResult(changes.size(), cairn.writes.merge(changes, ChangeEvent.Origin.IMPORT, false));
    }

    ImportResult importData(InputStream in, long maxBytes, long totalBytes, TransferProgress progress) {
        cairn.checkOpen();
        List<Change> changes = checkImport(() -> ExportDocument.read(in, maxBytes, totalBytes, this::importKind, progress));
        return new ImportResult(changes.size(), cairn.writes.merge(changes, ChangeEvent.Origin.IMPORT, false));
    }

    ImportResult restoreData(String document) {
        cairn.checkOpen();
        return restore(checkImport(() -> ExportDocument.read(document, this::importKind)));
    }

    ImportResult restoreData(InputStream in, long maxBytes, long totalBytes, TransferProgress progress) {
        cairn.checkOpen();
        return restore(checkImport(() -> ExportDocument.read(in, maxBytes, totalBytes, this::importKind, progress)));
    }

    private ImportResult restore(List<Change> changes) {
        // One lock for merge and re-writes, so no write of another thread lands in between.
        return cairn.locked(() -> {
            int applied = cairn.writes.merge(changes, ChangeEvent.Origin.IMPORT, false);
            int restored = 0;
            for (Change change : changes) {
                if (change instanceof Change.Put p && !p.isDelete()) {
                    if (cairn.state.map(p.section()).value(p.key()) == null) {
                        cairn.writes.put(p.section(), p.key(), p.value());
                        restored++;
                    }
                } else if (change instanceof Change.Append append) {
                    // The same text already there is the same entry restored before (entries carry their own time).
                    boolean present = cairn.state.log(append.section()).entries(append.stream()).stream()
                            .anyMatch(e -> e.stamp().equals(append.stamp()) || e.value().equals(append.value()));
                    if (!present) {
                        cairn.writes.append(append.section(), append.stream(), append.value());
                        restored++;
                    }
                }
            }
            return new ImportResult(changes.size(), applied, restored);
        });
    }

    /**
     * A section's kind for reading an import: the server-written sections (PROTOCOL.md 8) are read
     * past even where this replica does not hold them (a server's export lists them all), then dropped.
     */
    private SectionKind importKind(String section) {
        SectionKind kind = cairn.state.kind(section);
        return kind != null || !SpaceSections.RESERVED.contains(section) ? kind : SectionKind.MAP;
    }

    /** Reads an import and checks every stamp against the clock bound, before anything is applied. */
    private List<Change> checkImport(Supplier<List<Change>> read) {
        List<Change> changes;
        try {
            changes = read.get();
        } catch (MalformedDocumentException e) {
            throw new ImportException(e.getMessage(), e);
        }
        // Membership sections are the server's (PROTOCOL.md 8): an import never writes them.
        changes = changes.stream().filter(c -> !SpaceSections.RESERVED.contains(c.section())).toList();
        for (Change change : changes) {
            try {
                cairn.clock.check(change.stamp());
            } catch (RuntimeException e) {
                throw new ImportException("import refused: " + e.getMessage(), e);
            }
            try {
                cairn.writes.checkFits(change);
            } catch (ChangeTooLargeException e) {
                throw new ImportException("import refused: " + e.getMessage(), e);
            }
        }
        return changes;
    }
}
