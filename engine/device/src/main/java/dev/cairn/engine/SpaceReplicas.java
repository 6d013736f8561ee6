package dev.cairn.engine;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cairn.engine.codec.Json;
import dev.cairn.engine.crdt.LwwEntry;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.section.SectionSpec;
import dev.cairn.engine.section.SpaceSections;
import dev.cairn.engine.section.StoragePolicy;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The local replicas of one user's spaces (PROTOCOL.md 8): each an engine of its own, in
 * {@code <data dir>/spaces/<id>} (in memory for an in-memory user engine), opened on first use
 * and closed with the user's engine. Also reads the user's {@code spaces} section.
 */
final class SpaceReplicas {

    /** The user's membership section: server-written, read-only here. */
    static final SectionSpec SPACES_SPEC = new SectionSpec(SpaceSections.SPACES, SectionKind.MAP, StoragePolicy.DEFAULT);
    /** A space's member section: server-written, read-only here. */
    static final SectionSpec MEMBERS_SPEC = new SectionSpec(SpaceSections.MEMBERS, SectionKind.MAP, StoragePolicy.DEFAULT);
    /** Metadata of a space replica whose space was left and its copy kept: the reason. */
    static final String LEFT_META = "space-left";
    /** Metadata of a space replica: its refused changes (JSON), kept until the app drops them. */
    static final String REFUSED_META = "space-refused";
    /** The folder of the space replicas in the user's data directory. */
    static final String FOLDER = "spaces";

    private static final Pattern SPACE_ID = Pattern.compile("[A-Za-z0-9_-]{1,64}");

    private final Cairn user;
    private final Map<String, Space> open = new LinkedHashMap<>(); // guarded by this
    private final CopyOnWriteArrayList<Runnable> outboxListeners = new CopyOnWriteArrayList<>();
    private final CopyOnWriteArrayList<Runnable> resyncListeners = new CopyOnWriteArrayList<>();
    private final CopyOnWriteArrayList<Consumer<Space>> openListeners = new CopyOnWriteArrayList<>();
    private final CopyOnWriteArrayList<Consumer<String>> presenceListeners = new CopyOnWriteArrayList<>();
    private boolean closed; // guarded by this

    SpaceReplicas(Cairn user) {
        this.user = user;
    }

    static boolean isValidId(String id) {
        return id != null && SPACE_ID.matcher(id).matches();
    }

    /** The replica of {@code id}, opened if needed; null if it holds no data here and {@code create} is false. */
    Space open(String id, boolean create) {
        if (!isValidId(id)) {
            throw new IllegalArgumentException("invalid space id '" + id + "': use 1-64 characters of A-Z, a-z, 0-9, '-' and '_'");
        }
        Space space;
        synchronized (this) {
            if (closed) {
                throw new IllegalStateException("engine is closed");
            }
            space = open.get(id);
            if (space != null) {
                return space;
            }
            Path dir = dirOf(id);
            if (!create && (dir == null || !Files.isDirectory(dir))) {
                return null;
            }
            space = new Space(id, user, user.openSpaceReplica(id, dir));
            Cairn engine = space.engine();
            engine.persister.onOutboxGrew(() -> outboxListeners.forEach(Runnable::run));
            open.put(id, space);
        }
        for (Consumer<Space> l : openListeners) {
            l.accept(space);
        }
        return space;
    }

    private Path dirOf(String id) {
        Path dir = user.dataDir();
        return dir == null ? null : dir.resolve(FOLDER).resolve(id);
    }

    /** The ids of the spaces with a local replica here, open or on disk, sorted. */
    synchronized List<String> held() {
        TreeSet<String> ids = new TreeSet<>(open.keySet());
        Path dir = user.dataDir();
        if (dir != null && Files.isDirectory(dir.resolve(FOLDER))) {
            try (DirectoryStream<Path> dirs = Files.newDirectoryStream(dir.resolve(FOLDER), Files::isDirectory)) {
                for (Path d : dirs) {
                    String id = d.getFileName().toString();
                    if (isValidId(id)) {
                        ids.add(id);
                    }
                }
            } catch (IOException e) {
                throw new StorageException("cannot list the spaces in " + dir.resolve(FOLDER) + ": " + e.getMessage(), e);
            }
        }
        return new ArrayList<>(ids);
    }

    /** The user's memberships as last synced (the {@code spaces} section). */
    List<SpaceMembership> memberships() {
        List<SpaceMembership> out = new ArrayList<>();
        for (Map.Entry<String, LwwEntry> e : user.state().map(SpaceSections.SPACES).sorted().entrySet()) {
            if (e.getValue().isTombstone()) {
                continue;
            }
            JsonNode value = parse(e.getValue().value());
            out.add(new SpaceMembership(e.getKey(), value.path("name").asText(""), value.path("role").asText("")));
        }
        out.sort(Comparator.comparing(SpaceMembership::id));
        return List.copyOf(out);
    }

    /** Whether the user's {@code spaces} section has an entry for {@code id}. */
    boolean isMember(String id) {
        return user.state().map(SpaceSections.SPACES).value(id) != null;
    }

    static JsonNode parse(String json) {
        try {
            return json == null ? Json.MAPPER.nullNode() : Json.MAPPER.readTree(json);
        } catch (IOException e) {
            return Json.MAPPER.nullNode();
        }
    }

    /** Told (on the persistence thread) when any space replica's outbox grows. */
    Runnable onOutbox(Runnable listener) {
        outboxListeners.add(listener);
        return () -> outboxListeners.remove(listener);
    }

    /** Told when a space's cursor went back to 0 (refused changes rolled back): the space is taken again from the server. */
    Runnable onResync(Runnable listener) {
        resyncListeners.add(listener);
        return () -> resyncListeners.remove(listener);
    }

    void resync() {
        resyncListeners.forEach(Runnable::run);
    }

    /** Told when a space replica is opened (by the app or by sync). */
    Runnable onOpened(Consumer<Space> listener) {
        openListeners.add(listener);
        return () -> openListeners.remove(listener);
    }

    /** Told when the app sets or withdraws its presence in a space. */
    Runnable onOwnPresence(Consumer<String> listener) {
        presenceListeners.add(listener);
        return () -> presenceListeners.remove(listener);
    }

    void ownPresenceChanged(String id) {
        presenceListeners.forEach(l -> l.accept(id));
    }

    /** The open replicas now. */
    synchronized List<Space> openSpaces() {
        return new ArrayList<>(open.values());
    }

    /**
     * The space was left (PROTOCOL.md 8.4): its cursor is dropped; its copy is kept read-only, or
     * closed and deleted.
     */
    void left(String id, String reason, boolean keep) {
        Space space = open(id, false);
        if (space == null) {
            return;
        }
        if (keep) {
            space.markLeft(reason);
            return;
        }
        synchronized (this) {
            open.remove(id);
        }
        space.dropped(reason);
        Path dir = dirOf(id);
        if (dir != null) {
            deleteTree(dir);
        }
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new StorageException("cannot delete the left space's copy in " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Closes every open replica (the user's engine is closing). */
    void closeAll(boolean exiting) {
        List<Space> spaces;
        synchronized (this) {
            closed = true;
            spaces = new ArrayList<>(open.values());
            open.clear();
        }
        RuntimeException first = null;
        for (Space space : spaces) {
            try {
                space.engine().close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
