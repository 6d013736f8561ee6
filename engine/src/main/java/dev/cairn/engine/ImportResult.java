package dev.cairn.engine;

/** What an import did: changes read from the file, and how many of them altered the state. */
public record ImportResult(int changesRead, int changesApplied) {
}
