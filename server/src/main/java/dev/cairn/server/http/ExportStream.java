package dev.cairn.server.http;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.codec.ChangeJson;
import dev.cairn.engine.codec.ExportDocument;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.LwwEntry;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.crdt.TextOrder;
import dev.cairn.server.store.ServerStore;
import dev.cairn.server.store.StoreUnavailableException;
import io.vertx.core.Future;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;
import java.util.SortedSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/**
 * The server's streamed export ({@code GET /api/export}): the export document of one user's
 * chosen sections, read from the store page by page, with memory bounded by a page, not by the
 * user's size. Blocking: run it on a worker thread, never on an event loop.
 *
 * <p><b>Order.</b> The store hands out a user's rows in seq order (the order they last won), but
 * the document is grouped and sorted: sections by name, a map's entries by key, a log's streams
 * by name, each stream's watermark ({@code clearedUpTo}) before its entries and the entries by
 * stamp. So the export is an external merge sort in two phases:
 * <ol>
 *   <li>{@link #spill}: read every page ({@link ServerStore#readSince}), keep the chosen sections'
 *       changes, sort the page by (section, key or stream, watermark before entries, stamp) and
 *       append it to a temp file as one sorted run. Only one page is in memory.</li>
 *   <li>{@link Spill#writeTo}: merge the runs (one small buffer and one change per run in memory)
 *       and write the document with {@link ExportDocument.StreamWriter}, the same section writers
 *       the engine's export uses.</li>
 * </ol>
 *
 * <p><b>Why the result equals the folded state.</b> Folding the same pages into a
 * {@code ReplicaState} keeps per map key the LWW winner, per stream the highest watermark and the
 * entries above it (one per stamp, the greater value if a stamp were reused). The merge sees every
 * change of one key or stream next to each other and keeps exactly that: {@link LwwEntry#merge}
 * for keys, the highest clear, entries above it, the greater value per stamp. A key that another
 * device rewrites during the export may be read twice (at its old and its new seq); the merge
 * keeps the winner, so it is still written once. Sections are written in the same order and with
 * the same bytes as {@code CanonicalJson}, so with no writes during the export the document's
 * {@code "sections"} is byte-identical to the canonical encoding of the folded state
 * ({@code TransferIT} checks it); with writes during it, it is the fold of everything read, which
 * includes everything committed before the export began.
 */
final class ExportStream {

    /** How long one page read may take before the export gives up (the store is then unavailable). */
    private static final long PAGE_TIMEOUT_SECONDS = 60;

    /** Per run while merging: a 4 KiB read buffer and one decoded change. */
    private static final int RUN_BUFFER = 4096;

    private ExportStream() {
    }

    /** The order of the document (see the class comment); watermarks sort before entries of their stream. */
    static final Comparator<Change> ORDER = Comparator.comparing(Change::section)
            .thenComparing(ExportStream::name)
            .thenComparingInt(c -> c instanceof Change.Clear ? 0 : 1)
            .thenComparing(Change::stamp);

    private static String name(Change c) {
        if (c instanceof Change.Put put) {
            return put.key();
        }
        return c instanceof Change.Append append ? append.stream() : ((Change.Clear) c).stream();
    }

    /**
     * Phase 1: reads all of {@code user}'s changes in {@code sections} from the store into sorted
     * runs on disk. The caller closes the result (which deletes the file).
     */
    static Spill spill(ServerStore store, String user, SortedSet<String> sections, int pageSize) throws IOException {
        Path file = Files.createTempFile("cairn-export-", ".runs");
        Spill spill = new Spill(file);
        try (DataOutputStream out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(file), 1 << 16))) {
            long cursor = 0;
            long offset = 0;
            while (true) {
                ServerStore.Page page = await(store.readSince(user, cursor, pageSize));
                List<Change> run = new ArrayList<>(page.changes().size());
                for (ServerStore.Sequenced s : page.changes()) {
                    if (sections.contains(s.change().section())) {
                        run.add(s.change());
                    }
                }
                if (!run.isEmpty()) {
                    run.sort(ORDER);
                    long start = offset;
                    for (Change c : run) {
                        byte[] bytes = ChangeJson.encode(c).getBytes(StandardCharsets.UTF_8);
                        out.writeInt(bytes.length);
                        out.write(bytes);
                        offset += 4 + bytes.length;
                    }
                    spill.runs.add(new long[] {start, offset, run.size()});
                    spill.changes += run.size();
                }
                if (!page.more()) {
                    break;
                }
                cursor = page.cursor();
            }
        } catch (IOException | RuntimeException e) {
            spill.close();
            throw e;
        }
        return spill;
    }

    private static <T> T await(Future<T> future) {
        try {
            return future.toCompletionStage().toCompletableFuture().get(PAGE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException r) {
                throw r;
            }
            throw new StoreUnavailableException("reading the export failed: " + cause, cause);
        } catch (TimeoutException e) {
            throw new StoreUnavailableException("the store did not answer a page of the export within " + PAGE_TIMEOUT_SECONDS + " s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreUnavailableException("interrupted while reading the export", e);
        }
    }

    /** A space of a user's export: its id, name, the user's role, its chosen sections and its runs. */
    record SpaceSpill(String id, String name, String role, SortedSet<String> sections, Spill spill) implements Closeable {
        @Override
        public void close() throws IOException {
            spill.close();
        }
    }

    /** The sorted runs of one export, in a temp file deleted by {@link #close}. */
    static final class Spill implements Closeable {
        private final Path file;
        /** Per run: start offset, end offset, number of changes. */
        final List<long[]> runs = new ArrayList<>();
        /** Changes read (an upper bound of the entries the document will hold). */
        long changes;

        private Spill(Path file) {
            this.file = file;
        }

        /**
         * Phase 2: writes the document of {@code sections} (all of them, empty ones too, as the
         * engine's export does) to {@code out}; returns the entries written.
         */
        long writeTo(OutputStream out, SortedSet<String> sections, Function<String, SectionKind> kinds, Instant exportedAt) throws IOException {
            return writeTo(out, sections, kinds, exportedAt, List.of());
        }

        /**
         * As above, then the document's {@code "spaces"} (PROTOCOL.md 8.5): each space's own spill,
         * written the same way into its {@code "sections"}.
         */
        long writeTo(OutputStream out, SortedSet<String> sections, Function<String, SectionKind> kinds, Instant exportedAt,
                     List<SpaceSpill> spaces) throws IOException {
            try (ExportDocument.StreamWriter w = new ExportDocument.StreamWriter(out, "server", exportedAt)) {
                long entries = writeSections(w, sections, kinds);
                if (!spaces.isEmpty()) {
                    w.spaces();
                    for (SpaceSpill space : spaces) {
                        w.space(space.id(), space.name(), space.role());
                        entries += space.spill().writeSections(w, space.sections(), kinds);
                    }
                }
                w.finish();
                return entries;
            }
        }

        private long writeSections(ExportDocument.StreamWriter w, SortedSet<String> sections, Function<String, SectionKind> kinds)
                throws IOException {
            long entries = 0;
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
                Merge merge = new Merge(channel, runs);
                for (String section : sections) {
                    SectionKind kind = kinds.apply(section);
                    while (merge.peek() != null && merge.peek().section().compareTo(section) < 0) {
                        merge.next();     // cannot happen (spill keeps only these sections); never loop on it
                    }
                    // A map section's clear watermark has the empty name and is a clear, so it sorts first.
                    Stamp mapMark = null;
                    while (kind == SectionKind.MAP && in(merge.peek(), section) && merge.peek() instanceof Change.Clear clear) {
                        mapMark = mapMark == null || clear.stamp().compareTo(mapMark) > 0 ? clear.stamp() : mapMark;
                        merge.next();
                    }
                    w.section(section, kind, mapMark);
                    entries += kind == SectionKind.MAP ? writeMap(w, merge, section, mapMark) : writeLog(w, merge, section);
                }
            }
            return entries;
        }

        private static boolean in(Change c, String section) {
            return c != null && c.section().equals(section);
        }

        private static long writeMap(ExportDocument.StreamWriter w, Merge merge, String section, Stamp mark) throws IOException {
            long n = 0;
            while (in(merge.peek(), section)) {
                Change.Put first = put(merge.next());
                LwwEntry winner = first.entry();
                while (in(merge.peek(), section) && name(merge.peek()).equals(first.key())) {
                    winner = LwwEntry.merge(winner, put(merge.next()).entry());
                }
                if (mark != null && winner.stamp().compareTo(mark) <= 0) {
                    continue;   // hidden by the section's clear, as LwwMap purges it
                }
                w.mapEntry(first.key(), winner);
                n++;
            }
            return n;
        }

        private static long writeLog(ExportDocument.StreamWriter w, Merge merge, String section) throws IOException {
            long n = 0;
            while (in(merge.peek(), section)) {
                String stream = name(merge.peek());
                Stamp mark = null;
                while (in(merge.peek(), section) && merge.peek() instanceof Change.Clear clear && clear.stream().equals(stream)) {
                    mark = mark == null || clear.stamp().compareTo(mark) > 0 ? clear.stamp() : mark;
                    merge.next();
                }
                // Clears sort first, so from here on the stream's changes are appends, by stamp.
                w.stream(stream, mark);
                Change.Append held = null;
                while (in(merge.peek(), section) && name(merge.peek()).equals(stream)) {
                    Change.Append a = append(merge.next());
                    if (mark != null && a.stamp().compareTo(mark) <= 0) {
                        continue;   // hidden by the watermark, as GrowOnlyLog purges it
                    }
                    if (held != null && held.stamp().equals(a.stamp())) {
                        held = TextOrder.compare(a.value(), held.value()) > 0 ? a : held;
                        continue;
                    }
                    if (held != null) {
                        w.logEntry(held.stamp(), held.value());
                        n++;
                    }
                    held = a;
                }
                if (held != null) {
                    w.logEntry(held.stamp(), held.value());
                    n++;
                }
            }
            return n;
        }

        private static Change.Put put(Change c) {
            if (c instanceof Change.Put put) {
                return put;
            }
            throw new IllegalStateException("the store holds a " + c.getClass().getSimpleName() + " in map section '" + c.section() + "'");
        }

        private static Change.Append append(Change c) {
            if (c instanceof Change.Append a) {
                return a;
            }
            throw new IllegalStateException("the store holds a " + c.getClass().getSimpleName() + " among the entries of '" + c.section() + "'");
        }

        @Override
        public void close() throws IOException {
            Files.deleteIfExists(file);
        }
    }

    /** K-way merge of the sorted runs: the smallest head next. */
    private static final class Merge {
        private final PriorityQueue<Run> heads = new PriorityQueue<>((a, b) -> ORDER.compare(a.head, b.head));

        Merge(FileChannel channel, List<long[]> runs) throws IOException {
            for (long[] r : runs) {
                Run run = new Run(channel, r[0], r[1], r[2]);
                if (run.advance()) {
                    heads.add(run);
                }
            }
        }

        Change peek() {
            Run top = heads.peek();
            return top == null ? null : top.head;
        }

        Change next() throws IOException {
            Run top = heads.poll();
            Change out = top.head;
            if (top.advance()) {
                heads.add(top);
            }
            return out;
        }
    }

    /** One sorted run: length-prefixed change JSON, read with positional reads of the shared channel. */
    private static final class Run {
        private final DataInputStream in;
        private long left;
        Change head;

        Run(FileChannel channel, long start, long end, long count) {
            this.in = new DataInputStream(new BufferedInputStream(new Range(channel, start, end), RUN_BUFFER));
            this.left = count;
        }

        boolean advance() throws IOException {
            if (left == 0) {
                head = null;
                return false;
            }
            int length = in.readInt();
            byte[] bytes = new byte[length];
            in.readFully(bytes);
            head = ChangeJson.decode(new String(bytes, StandardCharsets.UTF_8));
            left--;
            return true;
        }
    }

    /** A byte range of a file, read without moving a shared position (one open file for all runs). */
    private static final class Range extends InputStream {
        private final FileChannel channel;
        private long position;
        private final long end;

        Range(FileChannel channel, long start, long end) {
            this.channel = channel;
            this.position = start;
            this.end = end;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (position >= end) {
                return -1;
            }
            int n = channel.read(ByteBuffer.wrap(b, off, (int) Math.min(len, end - position)), position);
            if (n < 0) {
                throw new EOFException("the export's temp file ended early");
            }
            position += n;
            return n;
        }
    }
}
