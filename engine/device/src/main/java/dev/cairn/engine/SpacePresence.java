package dev.cairn.engine;

/**
 * Another replica present in a space (PROTOCOL.md 8.6): who, on which device, and what it says
 * it is looking at. Ephemeral: never stored.
 *
 * @param user    the member's user id
 * @param replica the member's replica (device) id
 * @param state   the presence state the member set, as compact JSON text
 */
public record SpacePresence(String user, String replica, String state) {
}
