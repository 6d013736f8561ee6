package dev.cairn.engine.sync.internal;

import dev.cairn.engine.Cairn;
import java.util.Objects;
import java.util.function.Function;

/**
 * The non-exported accessor of an engine's {@link SyncPort}. {@link Cairn} installs it when its
 * class is initialized, so it is in place before any engine exists.
 */
public final class SyncPorts {

    private static volatile Function<Cairn, SyncPort> access;

    private SyncPorts() {
    }

    /** Called once, by {@link Cairn}'s class initializer. */
    public static void install(Function<Cairn, SyncPort> ports) {
        if (access != null) {
            throw new IllegalStateException("the sync port accessor is installed already");
        }
        access = Objects.requireNonNull(ports, "ports");
    }

    /** The sync plumbing of {@code cairn}. */
    public static SyncPort of(Cairn cairn) {
        Objects.requireNonNull(cairn, "cairn");
        return access.apply(cairn);
    }
}
