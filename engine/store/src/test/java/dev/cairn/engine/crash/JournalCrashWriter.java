package dev.cairn.engine.crash;

import dev.cairn.engine.store.JournalLocalStore;
import dev.cairn.engine.store.StoreWrite;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;

/**
 * The child process of {@link JournalCrashIT}: commits to a {@link JournalLocalStore} directly,
 * as fast as it can, compacting now and then, until it is killed with SIGKILL.
 *
 * <p>Commit {@code i} (see {@link #writesOf}) puts {@code last} = i, puts {@code k<i % 16>} =
 * {@link #value value(i)} (mostly small, every 8th up to 256 KB, so appends span many pages and a
 * kill can tear one), puts {@code x<i>} for every 3rd i and deletes {@code x<i-30>}. So the exact
 * contents after commits {@code 0..n} are known ({@link #expected}), deletes included.
 *
 * <p>Protocol on stdout: {@code START <s> OK} once open (s = first commit index of this run),
 * {@code SAVED <n> OK} after commit n returned. Arguments: {@code journalFile seed sync}.
 */
public final class JournalCrashWriter {

    static final int KEYS = 16;
    static final int X_WINDOW = 30;
    static final byte[] LAST = "last".getBytes(StandardCharsets.UTF_8);

    private JournalCrashWriter() {
    }

    static byte[] key(String name) {
        return name.getBytes(StandardCharsets.UTF_8);
    }

    static byte[] value(long i) {
        Random r = new Random(i * 31 + 7);
        int length = i % 8 == 5 ? r.nextInt(256 << 10) : r.nextInt(4096);
        byte[] v = new byte[8 + length];
        r.nextBytes(v);
        ByteBuffer.wrap(v).putLong(i);
        return v;
    }

    static byte[] index(long i) {
        return ByteBuffer.allocate(8).putLong(i).array();
    }

    static List<StoreWrite> writesOf(long i) {
        List<StoreWrite> w = new ArrayList<>(4);
        w.add(StoreWrite.put(LAST, index(i)));
        w.add(StoreWrite.put(key("k" + (i % KEYS)), value(i)));
        if (i % 3 == 0) {
            w.add(StoreWrite.put(key("x" + i), index(i)));
        }
        if (i >= X_WINDOW && (i - X_WINDOW) % 3 == 0) {
            w.add(StoreWrite.delete(key("x" + (i - X_WINDOW))));
        }
        return w;
    }

    /** The exact store contents after commits 0..n (empty for n < 0). */
    static TreeMap<byte[], byte[]> expected(long n) {
        TreeMap<byte[], byte[]> m = new TreeMap<>(Arrays::compareUnsigned);
        if (n < 0) {
            return m;
        }
        m.put(LAST, index(n));
        for (long i = Math.max(0, n - KEYS + 1); i <= n; i++) {
            m.put(key("k" + (i % KEYS)), value(i));
        }
        for (long i = Math.max(0, n - X_WINDOW + 1); i <= n; i++) {
            if (i % 3 == 0) {
                m.put(key("x" + i), index(i));
            }
        }
        return m;
    }

    public static void main(String[] args) {
        Path file = Path.of(args[0]);
        Random random = new Random(Long.parseLong(args[1]));
        boolean sync = Boolean.parseBoolean(args[2]);
        ChildGuard.watchParent();
        PrintStream out = System.out;
        JournalLocalStore store = JournalLocalStore.open(file, sync);
        byte[] last = store.get(LAST);
        long i = last == null ? 0 : ByteBuffer.wrap(last).getLong() + 1;
        out.println("START " + i + " OK");
        out.flush();
        while (true) {
            store.commit(writesOf(i));
            out.println("SAVED " + i + " OK");
            out.flush();
            i++;
            if (random.nextInt(40) == 0) {
                store.compact();
            }
        }
    }
}
