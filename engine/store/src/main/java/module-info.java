/**
 * Cairn's local store: the {@code LocalStore} port and its adapters (the CRC-checked journal,
 * journal segments + immutable MapDB snapshots, in memory). Byte keys and values only: the record
 * layout belongs to whoever stores records (the device's {@code persist.Records}, the server's
 * {@code ServerRecords}). The only module that depends on MapDB.
 */
module dev.cairn.store {
    requires mapdb; // automatic module (mapdb-3.1.0.jar)

    exports dev.cairn.engine.store;
}
