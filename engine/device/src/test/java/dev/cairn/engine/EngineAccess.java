package dev.cairn.engine;

import dev.cairn.engine.crdt.ReplicaState;

/** Test-only window into an engine's merged state (stamps and watermarks), for oracles outside this package. */
public final class EngineAccess {

    private EngineAccess() {
    }

    /** The engine's live state; read only. */
    public static ReplicaState state(Cairn cairn) {
        return cairn.state();
    }
}
