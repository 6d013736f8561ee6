package dev.cairn.server.store;

/**
 * A batch's {@link ServerStore.Guard} did not hold at commit; nothing of that batch was kept.
 * {@code foundRole} is the role the guarded entry had (null: no live entry, e.g. not a member),
 * so a caller can tell {@code forbidden} from {@code not-a-member} (PROTOCOL.md 8.2).
 */
public final class GuardFailedException extends RuntimeException {

    private final ServerStore.Guard guard;
    private final String foundRole;
    private final int batchIndex;

    /** A guard that failed, found role unknown to the batch index (-1). */
    public GuardFailedException(ServerStore.Guard guard, String foundRole) {
        this(guard, foundRole, -1);
    }

    /**
     * @param batchIndex the index of the refused batch in the list given to {@code ServerStore.commit}
     *                   (-1: not known), so the committer fails only that batch
     */
    public GuardFailedException(ServerStore.Guard guard, String foundRole, int batchIndex) {
        super("guard failed: " + guard.owner() + " " + guard.section() + "/" + guard.key() + " has role " + foundRole
                + ", needed one of " + guard.roles());
        this.guard = guard;
        this.foundRole = foundRole;
        this.batchIndex = batchIndex;
    }

    /** The index of the refused batch in the commit's list of batches (-1: not known). */
    public int batchIndex() {
        return batchIndex;
    }

    /** The guard that failed. */
    public ServerStore.Guard guard() {
        return guard;
    }

    /** The role the guarded entry had at commit, or null when it had no live entry with a role. */
    public String foundRole() {
        return foundRole;
    }
}
