/**
 * The Cairn engine, the library a device embeds. Exports its API packages only: the sync plumbing
 * ({@code sync.internal}: outbox, remote pages, cursor) stays inside.
 */
module dev.cairn.engine {
    requires transitive dev.cairn.core; // Stamp, Change, SectionKind, StoragePolicy appear in the API
    requires transitive dev.cairn.store; // LocalStore appears in the API (Persister); its StoreException reaches apps as StorageException
    requires transitive java.net.http; // HttpClient appears in the API (TLS settings)
    requires com.fasterxml.jackson.datatype.jsr310; // the default value mapper's java.time support
    requires com.fasterxml.jackson.datatype.jdk8; // ... and its Optional support

    exports dev.cairn.engine;
    exports dev.cairn.engine.crypto;
    exports dev.cairn.engine.persist;
    exports dev.cairn.engine.sync;

    // typed state handles read and write the engine's own value records through Jackson
    opens dev.cairn.engine to com.fasterxml.jackson.databind;
}
