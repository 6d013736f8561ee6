package dev.cairn.engine.store;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.zip.CRC32C;

/**
 * The one file that says what a {@link TieredLocalStore} consists of: the live snapshots (newest
 * first, with length and CRC32C) and the first journal segment they do not cover. It is replaced
 * only whole (written to a temporary file, forced, renamed over the old one, directory forced), so
 * after a crash it is either the old or the new one; files it does not name are leftovers.
 *
 * <p>Text, so an operator can read it: {@code cairn-store 1}, {@code journal-from G},
 * {@code next-id N}, one {@code snapshot id level bytes crc32c records payload} line per snapshot, and a
 * last {@code crc} line over everything before it.
 */
record Manifest(long journalFrom, long nextId, List<Entry> snapshots) {

    static final String FILE = "cairn.manifest";
    private static final String HEADER = "cairn-store 1";

    /** A snapshot as the manifest records it. */
    record Entry(long id, int level, long bytes, int crc, long records, long payload) {
        String fileName() {
            return snapshotName(id);
        }

        Entry withLevel(int newLevel) {
            return new Entry(id, newLevel, bytes, crc, records, payload);
        }
    }

    Manifest {
        snapshots = List.copyOf(snapshots);
    }

    static String snapshotName(long id) {
        return String.format("cairn-%010d.snap", id);
    }

    static String segmentName(long gen) {
        return String.format("cairn-%010d.journal", gen);
    }

    /** The manifest in {@code dir}, or null if there is none (a new store). */
    static Manifest read(Path dir) throws IOException {
        Path file = dir.resolve(FILE);
        if (!Files.exists(file)) {
            return null;
        }
        String text = Files.readString(file, StandardCharsets.UTF_8);
        int crcLine = text.lastIndexOf("crc ");
        try {
            if (crcLine < 0 || !text.endsWith("\n")) {
                throw new IllegalArgumentException("no crc line");
            }
            String body = text.substring(0, crcLine);
            int want = Integer.parseUnsignedInt(text.substring(crcLine + 4, text.length() - 1), 16);
            if (crc(body) != want) {
                throw new IllegalArgumentException("checksum mismatch");
            }
            String[] lines = body.split("\n");
            if (!lines[0].equals(HEADER)) {
                throw new IllegalArgumentException("unknown header '" + lines[0] + "'");
            }
            long journalFrom = Long.parseLong(field(lines[1], "journal-from"));
            long nextId = Long.parseLong(field(lines[2], "next-id"));
            List<Entry> snaps = new ArrayList<>();
            for (int i = 3; i < lines.length; i++) {
                String[] f = field(lines[i], "snapshot").split(" ");
                snaps.add(new Entry(Long.parseLong(f[0]), Integer.parseInt(f[1]), Long.parseLong(f[2]),
                        Integer.parseUnsignedInt(f[3], 16), Long.parseLong(f[4]), Long.parseLong(f[5])));
            }
            return new Manifest(journalFrom, nextId, snaps);
        } catch (RuntimeException e) {
            throw new StoreException("store manifest " + file + " is damaged (" + e.getMessage() + "). A crash cannot cause"
                    + " this (it is replaced only by an atomic rename). Refusing to open the store; nothing was changed:"
                    + " restore the data directory from a backup", e);
        }
    }

    private static String field(String line, String name) {
        if (!line.startsWith(name + " ")) {
            throw new IllegalArgumentException("expected '" + name + "', found '" + line + "'");
        }
        return line.substring(name.length() + 1);
    }

    /** Replaces the manifest in {@code dir} atomically and durably. */
    void write(Path dir, boolean sync, Consumer<String> phases) throws IOException {
        StringBuilder b = new StringBuilder(HEADER).append('\n')
                .append("journal-from ").append(journalFrom).append('\n')
                .append("next-id ").append(nextId).append('\n');
        for (Entry e : snapshots) {
            b.append("snapshot ").append(e.id()).append(' ').append(e.level()).append(' ').append(e.bytes()).append(' ')
                    .append(String.format("%08x", e.crc())).append(' ').append(e.records()).append(' ').append(e.payload()).append('\n');
        }
        String body = b.toString();
        String text = body + "crc " + String.format("%08x", crc(body)) + "\n";
        Path tmp = dir.resolve(FILE + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
            if (sync) {
                ch.force(true);
            }
        }
        phases.accept("manifest-written");
        Files.move(tmp, dir.resolve(FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        if (sync) {
            forceDirectory(dir);
        }
        phases.accept("manifest-switched");
    }

    private static int crc(String s) {
        CRC32C c = new CRC32C();
        c.update(s.getBytes(StandardCharsets.UTF_8));
        return (int) c.getValue();
    }

    /** fsync the directory so a rename or a new file survives a power cut; not every platform allows it. */
    static void forceDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // best effort
        }
    }
}
