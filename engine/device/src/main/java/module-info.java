/**
 * The Cairn engine. Exports its API packages only: the wire codec ({@code protocol}, shared with
 * the server, which uses the engine from the class path) and the sync plumbing
 * ({@code sync.internal}: outbox, remote pages, cursor) stay inside.
 */
module dev.cairn.engine {
    requires transitive com.fasterxml.jackson.databind; // JsonNode and TypeReference appear in the API
    requires transitive java.net.http; // HttpClient appears in the API (TLS settings)
    requires mapdb; // automatic module (mapdb-3.1.0.jar)

    exports dev.cairn.engine;
    exports dev.cairn.engine.clock;
    exports dev.cairn.engine.codec;
    exports dev.cairn.engine.crdt;
    exports dev.cairn.engine.crypto;
    exports dev.cairn.engine.persist;
    exports dev.cairn.engine.section;
    exports dev.cairn.engine.store;
    exports dev.cairn.engine.sync;

    // typed state handles read and write the engine's own value records through Jackson
    opens dev.cairn.engine to com.fasterxml.jackson.databind;
}
