package dev.cairn.engine;

/**
 * One member of a space, as the space's read-only {@code members} section says (PROTOCOL.md 8).
 *
 * @param user the member's user id
 * @param role {@code "owner"}, {@code "editor"} or {@code "viewer"}
 */
public record SpaceMember(String user, String role) {
}
