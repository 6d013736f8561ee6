package dev.cairn.engine.store;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeMap;

/**
 * The files of a {@link TieredLocalStore} in its directory: what an open finds (and refuses), and
 * how a live store is copied for a backup.
 *
 * <p>Layout: {@code cairn.manifest} (the live snapshots and the first journal segment they do not
 * cover), {@code cairn-<id>.snap} (immutable MapDB snapshots), {@code cairn-<gen>.journal} (journal
 * segments, the newest one being appended to). Anything else named {@code cairn-*} or
 * {@code *.tmp} is a leftover of a kill and is deleted by the next open.
 */
final class StoreDirectory {

    /** What an open found: the manifest, the journal segments to replay (by generation), the leftovers to delete. */
    record Recovered(Manifest manifest, TreeMap<Long, Path> segments, List<Path> leftovers) {
    }

    private StoreDirectory() {
    }

    /** Reads the directory and checks it, changing nothing but the adoption of an old journal. */
    static Recovered recover(Path dir) throws IOException {
        Files.createDirectories(dir);
        Manifest read = Manifest.read(dir);
        if (read == null) {
            adoptLegacyJournal(dir);
        }
        Manifest m = read != null ? read : new Manifest(1, 1, List.of());
        // Refuse before touching anything: every named snapshot is there, whole.
        for (Manifest.Entry e : m.snapshots()) {
            Path f = dir.resolve(e.fileName());
            if (!Files.isRegularFile(f) || Files.size(f) != e.bytes()) {
                throw new StoreException("local store " + dir + " is damaged: snapshot " + f.getFileName() + " named by "
                        + Manifest.FILE + (Files.exists(f) ? " has " + Files.size(f) + " bytes, not " + e.bytes() : " is missing")
                        + ". A crash cannot cause this. Refusing to open it; nothing was changed: restore it from a backup");
            }
        }
        TreeMap<Long, Path> segments = new TreeMap<>();
        List<Path> leftovers = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "cairn*")) {
            for (Path f : files) {
                String name = f.getFileName().toString();
                if (name.matches("cairn-\\d{10}\\.journal")) {
                    long gen = Long.parseLong(name.substring(6, 16));
                    if (gen >= m.journalFrom()) {
                        segments.put(gen, f);
                    } else {
                        leftovers.add(f); // covered by a snapshot: the deletion after the manifest switch did not happen
                    }
                } else if (name.endsWith(".tmp") || (name.matches("cairn-\\d{10}\\.snap") && m.snapshots().stream()
                        .noneMatch(e -> e.fileName().equals(name)))) {
                    leftovers.add(f); // a snapshot or manifest a kill cut short, or one the manifest never named
                }
            }
        }
        long expect = m.journalFrom();
        for (long gen : segments.keySet()) {
            if (gen != expect++) {
                throw new StoreException("local store " + dir + " is damaged: journal segment " + Manifest.segmentName(expect - 1)
                        + " is missing (found " + segments.keySet() + ", the manifest starts at " + m.journalFrom() + ")."
                        + " Refusing to open it; nothing was changed: restore it from a backup");
            }
        }
        return new Recovered(m, segments, leftovers);
    }

    /** A store written by {@link JournalLocalStore} becomes segment 1 of this one (a rename: atomic). */
    private static void adoptLegacyJournal(Path dir) throws IOException {
        Path legacy = dir.resolve(TieredLocalStore.LEGACY_JOURNAL);
        Path first = dir.resolve(Manifest.segmentName(1));
        if (!Files.exists(legacy)) {
            return;
        }
        if (Files.exists(first)) {
            throw new StoreException("local store " + dir + " holds both " + TieredLocalStore.LEGACY_JOURNAL + " and " + first.getFileName()
                    + "; refusing to guess which is current. Nothing was changed");
        }
        byte[] head = new byte[JournalFile.MAGIC.length];
        int n;
        try (var in = Files.newInputStream(legacy)) {
            n = in.readNBytes(head, 0, head.length);
        }
        if (!Arrays.equals(Arrays.copyOf(head, n), Arrays.copyOf(JournalFile.MAGIC, n))) {
            throw new StoreException("local store " + legacy + " is not a Cairn journal (wrong header); refusing to touch it");
        }
        Files.deleteIfExists(dir.resolve(TieredLocalStore.LEGACY_JOURNAL + ".compact")); // an unfinished compaction of the old store
        Files.move(legacy, first, StandardCopyOption.ATOMIC_MOVE);
        Manifest.forceDirectory(dir);
    }

    /**
     * Copies a live store's files to {@code target} (which must not hold a store) so that the copy
     * opens with every commit made before the copy started: the manifest first, then the files it
     * names and the journal segments; repeated if the manifest changed meanwhile. This is how to
     * back the store up while an engine uses it (stopped, copying the directory is enough).
     */
    static void copy(Path dir, Path target) throws IOException {
        Files.createDirectories(target);
        Path manifestFile = dir.resolve(Manifest.FILE);
        for (int attempt = 0; attempt < 100; attempt++) {
            byte[] before = Files.exists(manifestFile) ? Files.readAllBytes(manifestFile) : null;
            List<String> names = storeFiles(dir);
            List<Path> copied = new ArrayList<>();
            boolean vanished = false;
            // snapshots (immutable) first, then the segments oldest first: the image is the store as at some moment
            for (String name : names) {
                try {
                    Files.copy(dir.resolve(name), target.resolve(name), StandardCopyOption.REPLACE_EXISTING);
                    copied.add(target.resolve(name));
                } catch (java.nio.file.NoSuchFileException gone) {
                    vanished = true;
                }
            }
            byte[] after = Files.exists(manifestFile) ? Files.readAllBytes(manifestFile) : null;
            if (!vanished && Arrays.equals(before, after) && storeFiles(dir).equals(names)) {
                if (before != null) {
                    Files.write(target.resolve(Manifest.FILE), before);
                }
                return;
            }
            for (Path c : copied) {
                Files.deleteIfExists(c);
            }
        }
        throw new IOException("the store in " + dir + " kept changing while it was copied");
    }

    private static List<String> storeFiles(Path dir) throws IOException {
        List<String> snaps = new ArrayList<>();
        List<String> segments = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "cairn-*")) {
            for (Path f : files) {
                String name = f.getFileName().toString();
                (name.endsWith(".snap") ? snaps : name.endsWith(".journal") ? segments : new ArrayList<String>()).add(name);
            }
        }
        snaps.sort(null);
        segments.sort(null);
        snaps.addAll(segments);
        return snaps;
    }
}
