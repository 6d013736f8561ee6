package dev.cairn.engine.sync;

/**
 * One space's sync on a {@link SyncClient}, from {@link SyncClient#spaceStatus(String)}.
 *
 * @param space      the space id
 * @param state      where its sync stands
 * @param cursor     the highest seq of the space this replica has applied
 * @param refused    changes of the space the server refused for good ({@code forbidden},
 *                   {@code not-a-member}) that the space still lists ({@code Space.refusedChanges()})
 * @param leftReason why the membership ended ({@code removed}, {@code left}, {@code deleted},
 *                   {@code not-a-member}) when {@code state} is {@link SpaceSyncState#LEFT}, else null
 * @param role       the user's role in it as the server's welcome said ({@code owner}, {@code editor},
 *                   {@code viewer}), or null if it did not
 */
public record SpaceStatus(String space, SpaceSyncState state, long cursor, int refused, String leftReason, String role) {
}
