package dev.cairn.engine;

import java.util.List;

/**
 * Told to {@link Cairn#onError} listeners when the server refused a batch of a space's changes
 * for good ({@code forbidden} or {@code not-a-member}, PROTOCOL.md 8.2): the changes are not sent
 * again and stay visible as refused ({@link Space#refusedChanges()}).
 */
public final class SpaceRefusedException extends RuntimeException {

    private final String space;
    private final String code;
    private final transient List<RefusedChange> changes;

    /**
     * @param space   the space id
     * @param code    {@code forbidden} or {@code not-a-member}
     * @param changes the refused changes
     * @param message the server's message, for people
     */
    public SpaceRefusedException(String space, String code, List<RefusedChange> changes, String message) {
        super("the server refused " + changes.size() + " change(s) of space '" + space + "' (" + code + "): " + message);
        this.space = space;
        this.code = code;
        this.changes = List.copyOf(changes);
    }

    /** The space whose changes were refused. */
    public String space() {
        return space;
    }

    /** The server's error code: {@code forbidden} or {@code not-a-member}. */
    public String code() {
        return code;
    }

    /** The refused changes. */
    public List<RefusedChange> changes() {
        return changes;
    }
}
