package dev.cairn.engine;

/**
 * One space the user belongs to, as the user's read-only {@code spaces} section says
 * (PROTOCOL.md 8): its id, its name and the user's role in it.
 *
 * @param id   the space id
 * @param name the space's name
 * @param role {@code "owner"}, {@code "editor"} or {@code "viewer"}
 */
public record SpaceMembership(String id, String name, String role) {
}
