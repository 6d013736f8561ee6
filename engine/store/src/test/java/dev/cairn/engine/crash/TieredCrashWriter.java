package dev.cairn.engine.crash;

import dev.cairn.engine.store.TieredLocalStore;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * The child process of {@link TieredCrashIT}: commits {@link JournalCrashWriter#writesOf} to a
 * {@link TieredLocalStore} with segments so small that the background thread is always moving
 * the journal into snapshots and merging them, until it is killed with SIGKILL.
 *
 * <p>When the background thread reaches the step named by the {@code target} argument (for
 * example {@code merge:snapshot-renamed}) it prints {@code PHASE <step>} on stderr and waits
 * there, so the parent's kill lands exactly in that state; {@code commit} waits nowhere (the
 * parent kills at a random moment). Protocol on stdout as {@link JournalCrashWriter}'s.
 * Arguments: {@code dir seed sync target}.
 */
public final class TieredCrashWriter {

    static final long FLUSH_BYTES = 256 << 10;

    private TieredCrashWriter() {
    }

    static TieredLocalStore.Options options(boolean sync) {
        return TieredLocalStore.Options.defaults().withFlushBytes(FLUSH_BYTES).withFanout(2).withSync(sync);
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        boolean sync = Boolean.parseBoolean(args[2]);
        String target = args[3];
        ChildGuard.watchParent();
        PrintStream out = System.out;
        PrintStream err = System.err;
        TieredLocalStore store = TieredLocalStore.open(dir, options(sync).withPhases(phase -> {
            if (phase.equals(target)) {
                err.println("PHASE " + phase);
                err.flush();
                try {
                    Thread.sleep(60_000); // the parent kills us here
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }));
        byte[] last = store.get(JournalCrashWriter.LAST);
        long i = last == null ? 0 : ByteBuffer.wrap(last).getLong() + 1;
        out.println("START " + i + " OK");
        out.flush();
        while (true) {
            store.commit(JournalCrashWriter.writesOf(i));
            out.println("SAVED " + i + " OK");
            out.flush();
            i++;
        }
    }
}
