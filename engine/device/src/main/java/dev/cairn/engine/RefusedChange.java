package dev.cairn.engine;

import dev.cairn.engine.crdt.Change;

/**
 * A local change of a space that the server refused for good (PROTOCOL.md 8.2): the user is not
 * allowed to write it ({@code forbidden}, e.g. a viewer) or is not a member ({@code not-a-member}).
 * It is not sent again; it stays in this device's copy, listed by {@link Space#refusedChanges()},
 * until the app drops it ({@link Space#dropRefused()}) or newer data of the space overwrites it.
 *
 * @param code   the server's error code, {@code forbidden} or {@code not-a-member}
 * @param change the refused change
 */
public record RefusedChange(String code, Change change) {
}
