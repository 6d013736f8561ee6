package dev.cairn.server.faults;

import dev.cairn.server.store.ServerStore;
import io.vertx.core.Future;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A test decorator of the server's store (in the {@link ServerChild} JVM): after each commit
 * completes it appends every applied change ({@code A <user> <seq> <identity>}) to a log file,
 * and after the {@code haltAfter}-th commit it halts the JVM ({@code Runtime.halt(137)}) before
 * the result returns, so the commit is durable and its batches are never acknowledged: the kill
 * lands exactly between COMMIT and ack.
 *
 * <p>The log is written with unbuffered appends, which reach the kernel at once and so survive
 * a kill of the process. A SIGKILL between a commit and its log line loses the line (the check
 * then sees fewer applied changes, never a false duplicate).
 */
final class AppliedLogStore implements ServerStore {

    private final ServerStore delegate;
    private final FileOutputStream log;
    private final int haltAfter;
    private int commits;

    AppliedLogStore(ServerStore delegate, Path logFile, int haltAfter) {
        this.delegate = delegate;
        this.haltAfter = haltAfter;
        try {
            // A previous child may have died in the middle of a line: start on a fresh one.
            boolean torn = Files.exists(logFile) && Files.size(logFile) > 0 && !Files.readString(logFile).endsWith("\n");
            log = new FileOutputStream(logFile.toFile(), true);
            if (torn) {
                log.write('\n');
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public Future<Map<String, CommitResult>> commit(List<UserBatch> batches, Limits limits) {
        return delegate.commit(batches, limits).map(results -> {
            StringBuilder lines = new StringBuilder();
            results.values().forEach(r -> r.applied().forEach(s -> lines.append("A\t").append(r.user()).append('\t')
                    .append(s.seq()).append('\t').append(ChangeId.of(s.change())).append('\n')));
            try {
                log.write(lines.toString().getBytes(StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            if (++commits == haltAfter) {
                System.out.println("HALT after commit " + commits);
                System.out.flush();
                Runtime.getRuntime().halt(137);   // committed, never acknowledged
            }
            return results;
        });
    }

    @Override
    public String kind() {
        return delegate.kind();
    }

    @Override
    public Future<Void> start() {
        return delegate.start();
    }

    @Override
    public Future<Page> readSince(String user, long cursor, int limit) {
        return delegate.readSince(user, cursor, limit);
    }

    @Override
    public Future<Long> usage(String user) {
        return delegate.usage(user);
    }

    @Override
    public Future<List<HistoryEntry>> history(String user, String section, String key, long sinceMillis, int limit) {
        return delegate.history(user, section, key, sinceMillis, limit);
    }

    @Override
    public Future<MapPage> readMap(String user, String section, String prefix, String afterKey, int limit) {
        return delegate.readMap(user, section, prefix, afterKey, limit);
    }

    @Override
    public Future<Long> pruneHistory(long beforeMillis) {
        return delegate.pruneHistory(beforeMillis);
    }

    @Override
    public Future<Long> head(String user) {
        return delegate.head(user);
    }

    @Override
    public Future<Void> ping() {
        return delegate.ping();
    }

    @Override
    public Future<Void> close() {
        return delegate.close();
    }
}
