/**
 * Cairn's core: what the server and every client share. The hybrid clock, the CRDTs, canonical
 * JSON and the change codec, the wire protocol, and the section specs with their storage policy.
 * No storage and no MapDB.
 */
module dev.cairn.core {
    requires transitive com.fasterxml.jackson.databind; // JsonNode appears in the codec's API

    exports dev.cairn.engine.clock;
    exports dev.cairn.engine.codec;
    exports dev.cairn.engine.crdt;
    exports dev.cairn.engine.protocol; // the device's sync client and the server speak it
    exports dev.cairn.engine.section;
}
