package dev.cairn.engine.section;

import java.util.Set;

/**
 * The reserved sections of shared spaces (PROTOCOL.md 8). The server writes them; no client may
 * push them, and no app may register a section of these names.
 */
public final class SpaceSections {

    /** In a user's own state: one entry per space the user belongs to, {@code {"name":...,"role":...}}. */
    public static final String SPACES = "spaces";
    /** In a space: one entry per member, key the user id, {@code {"role":"owner"|"editor"|"viewer"}}. */
    public static final String MEMBERS = "members";
    /** In a space, kept by the server only: pending invitations, never sent to a client. */
    public static final String INVITATIONS = "invitations";

    /** Every reserved name. */
    public static final Set<String> RESERVED = Set.of(SPACES, MEMBERS, INVITATIONS);

    /** The roles a member may have. */
    public static final String OWNER = "owner";
    /** Reads and writes the space's sections. */
    public static final String EDITOR = "editor";
    /** Reads the space's sections. */
    public static final String VIEWER = "viewer";

    private SpaceSections() {
    }

    /**
     * Whether a client may see this section's changes: every section but {@link #INVITATIONS}
     * (secrets of pending invitations, and the revision entry a delete is guarded on), which no
     * page, view or export carries; a page's cursor still covers them.
     */
    public static boolean clientVisible(String section) {
        return !INVITATIONS.equals(section);
    }
}
