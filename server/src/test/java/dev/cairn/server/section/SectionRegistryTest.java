package dev.cairn.server.section;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.server.ServerConfig;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The reserved sections of shared spaces (PROTOCOL.md 8) in the server's registry. */
class SectionRegistryTest {

    @Test
    void spacesAndMembersAreMapSectionsOfEveryUserAndInvitationsIsNoSection() {
        SectionRegistry r = new SectionRegistry(Map.of("notes", SectionKind.MAP));
        assertEquals(SectionKind.MAP, r.apply("spaces"));
        assertEquals(SectionKind.MAP, r.apply("members"));
        assertNull(r.apply("invitations"), "never a section a client knows");
        assertTrue(SectionRegistry.serverWritten("spaces") && SectionRegistry.serverWritten("members"));
        assertFalse(SectionRegistry.serverWritten("notes"));
    }

    @Test
    void configuringAReservedNameFailsAtStart() {
        for (String name : new String[] {"spaces", "members", "invitations"}) {
            for (SectionKind kind : SectionKind.values()) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new SectionRegistry(Map.of(name, kind)));
                assertTrue(e.getMessage().contains("'" + name + "' is reserved"), e.getMessage());
            }
            // as the server reads it from CAIRN_SECTIONS
            assertThrows(IllegalArgumentException.class,
                    () -> new SectionRegistry(ServerConfig.fromEnv(Map.of("CAIRN_SECTIONS", name + ":map")).extraSections()));
        }
    }
}
