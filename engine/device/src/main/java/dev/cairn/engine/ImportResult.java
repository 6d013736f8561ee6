package dev.cairn.engine;

/**
 * What an import did: changes read from the file, how many of them altered the state, and (for
 * {@link Cairn#restoreData}) how many entries a later delete or clear had hidden and were written
 * again.
 */
public record ImportResult(int changesRead, int changesApplied, int restored) {

    /** The result of a plain import, which restores nothing ({@code restored} is 0). */
    public ImportResult(int changesRead, int changesApplied) {
        this(changesRead, changesApplied, 0);
    }
}
