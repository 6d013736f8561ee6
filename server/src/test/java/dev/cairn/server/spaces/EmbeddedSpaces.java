package dev.cairn.server.spaces;

import dev.cairn.server.TestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The setup the single-server space ITs share (PresenceIT, SpaceSessionsIT): an embedded server
 * on a random port with its real membership service ({@link SpaceFixture}), started before a
 * test class's tests and closed after them.
 */
abstract class EmbeddedSpaces {

    static SpaceFixture members;
    static TestServer server;

    @BeforeAll
    static void startServer() {
        members = SpaceFixture.embedded();
        server = members.server;
    }

    @AfterAll
    static void stopServer() {
        if (members != null) {
            members.close();
        }
    }
}
