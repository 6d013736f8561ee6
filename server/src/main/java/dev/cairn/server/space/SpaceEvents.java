package dev.cairn.server.space;

/**
 * What the sync sessions are told when a user's membership of a space ended (PROTOCOL.md 8.4).
 * The membership service calls it on the committer's home context, after the commit that ended
 * the membership completed; the user's sessions then send {@code space-left} with the reason (and
 * stop sending the space at once, if the cut in the space's pages has not stopped it already).
 */
@FunctionalInterface
public interface SpaceEvents {

    /** Nobody listens (tests of the membership service alone). */
    SpaceEvents NONE = (user, spaceId, reason) -> { };

    /**
     * @param user    the user whose membership ended
     * @param spaceId the space's id (not its store key)
     * @param reason  {@code "removed"}, {@code "left"} or {@code "deleted"}
     */
    void ended(String user, String spaceId, String reason);
}
