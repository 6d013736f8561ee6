package dev.cairn.engine.crash;

import dev.cairn.engine.sync.internal.SyncPorts;
import dev.cairn.engine.Cairn;
import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.LogEntry;
import dev.cairn.engine.crdt.SectionKind;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.NavigableMap;
import java.util.Random;

/**
 * The child process of {@link RemoteApplyCrashIT}: a device that, until it is killed with
 * SIGKILL, interleaves the three things a synced device does to its store:
 * <ul>
 *   <li><b>local writes</b>: write {@code i} appends {@code "m<i>"} to log {@code ops/local} and
 *       sets {@code state/k<i%20>} = i; saved after every write, after a batch, or left to
 *       auto-save;</li>
 *   <li><b>remote pages</b>: {@link Cairn#applyRemote(List, long)} (what SyncClient calls for a
 *       {@code changes} frame) with the next server changes {@link #remote(long) remote(n)} after
 *       the saved cursor, plus, as the protocol allows, echoes of this device's own acknowledged
 *       changes and re-sent older changes; then saved at once or left to auto-save;</li>
 *   <li><b>acknowledgements</b>: {@link Cairn#acknowledge} of every outbox entry, right after a save
 *       (so they cover exactly the writes up to the last one).</li>
 * </ul>
 *
 * <p>Remote change {@code n} (server seq {@code n}) is a pure function of {@code n} and the
 * base time, so the parent knows what every seq up to the saved cursor must have left in the
 * state: stamped by replica {@link #PEER}, every third one sets {@code state/r<n%16>} = n, the
 * others append {@code "r<n>"} to {@code ops/r<n%4>}.
 *
 * <p>Protocol on stdout (each line flushed, ending in {@code OK} so a line cut by the kill counts
 * for nothing): {@code START <firstWrite> <cursor>}; {@code PHASE <name>} when entering a phase
 * ({@code write}, {@code save}, {@code remote}, {@code remote-save}, {@code ack}) and
 * {@code DONE <name>} when it is over; {@code SAVED <n>} when writes up to {@code n} are durable;
 * {@code SENT <c>} before applying a page up to seq {@code c};
 * {@code APPLIED <c>} when remote changes up to seq {@code c} and the cursor {@code c} are durable;
 * {@code ACKING <n>} / {@code ACKED <n>} around the acknowledgement of every outbox entry, which
 * then holds exactly the writes up to {@code n}.
 *
 * <p>Arguments: {@code dataDir seed baseMillis}.
 */
public final class RemoteApplyCrashWriter {

    static final String REPLICA = "device-1";
    static final String PEER = "phone-2";
    static final String LOG = "ops";
    static final String LOCAL_STREAM = "local";
    static final int LOCAL_KEYS = 20;
    static final int REMOTE_KEYS = 16;
    static final int REMOTE_STREAMS = 4;

    private RemoteApplyCrashWriter() {
    }

    /** The engine as both child and parent open it: the standard sections plus log {@code ops}. */
    static Cairn open(Path dir) {
        return Cairn.builder().dataDir(dir).replicaId(REPLICA).section(LOG, SectionKind.LOG).open();
    }

    static String localText(long i) {
        return "m" + i;
    }

    static String localKey(long i) {
        return "k" + (i % LOCAL_KEYS);
    }

    /** The server change with seq {@code n}, as the server sends it every time. */
    static Change remote(long n, long baseMillis) {
        // Four seqs per millisecond: a peer writing fast, stamps strictly increasing with n.
        Stamp stamp = new Stamp(Stamp.pack(baseMillis + n / 4, (int) (n % 4)), PEER);
        if (n % 3 == 0) {
            return new Change.Put("state", remoteKey(n), Long.toString(n), stamp);
        }
        return new Change.Append(LOG, remoteStream(n), "\"r" + n + "\"", stamp);
    }

    static String remoteKey(long n) {
        return "r" + (n % REMOTE_KEYS);
    }

    static String remoteStream(long n) {
        return "r" + (n % REMOTE_STREAMS);
    }

    /** The local write index a stored local value stands for, or -1. */
    static long localIndex(LogEntry e) {
        String v = e.value();
        if (v == null || !v.matches("\"m[0-9]{1,18}\"")) {
            return -1;
        }
        return Long.parseLong(v.substring(2, v.length() - 1));
    }

    /** One past the highest local write index in the store, so indexes stay unique across crashes. */
    static long nextIndex(Cairn cairn) {
        long max = -1;
        for (LogEntry e : cairn.log(LOG).entries(LOCAL_STREAM)) {
            max = Math.max(max, localIndex(e));
        }
        for (int k = 0; k < LOCAL_KEYS; k++) {
            Integer v = cairn.map("state").get("k" + k, Integer.class);
            if (v != null) {
                max = Math.max(max, v);
            }
        }
        return max + 1;
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        long seed = Long.parseLong(args[1]);
        long base = Long.parseLong(args[2]);
        ChildGuard.watchParent();
        PrintStream out = System.out;
        Random random = new Random(seed);
        Cairn cairn = open(dir);
        cairn.onError(e -> {
            System.err.println("RemoteApplyCrashWriter: background error: " + e);
            e.printStackTrace();
            Runtime.getRuntime().halt(3);
        });
        long i = nextIndex(cairn);
        long next = cairn.cursor() + 1; // the server resumes after the saved cursor
        List<Change> echoes = new ArrayList<>();
        line(out, "START " + i + " " + cairn.cursor());
        while (true) {
            int action = random.nextInt(10);
            if (action < 4) {
                // Local writes: save each, save the batch, or leave them to auto-save.
                int mode = random.nextInt(3);
                int count = 1 + random.nextInt(mode == 0 ? 10 : 80);
                line(out, "PHASE write");
                for (int c = 0; c < count; c++, i++) {
                    cairn.log(LOG).append(LOCAL_STREAM, localText(i));
                    cairn.map("state").put(localKey(i), (int) i);
                    if (mode == 0) {
                        line(out, "PHASE save");
                        cairn.save().join();
                        line(out, "SAVED " + i);
                    }
                }
                line(out, "DONE write");
                if (mode == 1) {
                    line(out, "PHASE save");
                    cairn.save().join();
                    line(out, "SAVED " + (i - 1));
                    line(out, "DONE save");
                }
            } else if (action < 8) {
                // A remote page: the next seqs, with echoes of own changes and a re-sent older seq mixed in.
                int count = 1 + random.nextInt(random.nextBoolean() ? 20 : 400);
                List<Change> page = new ArrayList<>(count + echoes.size() + 1);
                for (int c = 0; c < count; c++) {
                    page.add(remote(next + c, base));
                }
                if (!echoes.isEmpty() && random.nextBoolean()) {
                    for (Change echo : echoes) {
                        page.add(random.nextInt(page.size() + 1), echo);
                    }
                    echoes.clear();
                }
                if (next > 1 && random.nextInt(4) == 0) {
                    page.add(0, remote(1 + (long) random.nextInt((int) Math.min(next - 1, Integer.MAX_VALUE)), base));
                }
                long cursor = next + count - 1;
                line(out, "SENT " + cursor);
                line(out, "PHASE remote");
                SyncPorts.of(cairn).applyRemote(page, cursor);
                next = cursor + 1;
                line(out, "DONE remote");
                if (random.nextInt(3) != 0) {
                    line(out, "PHASE remote-save");
                    cairn.save().join();
                    line(out, "APPLIED " + cursor);
                    line(out, "DONE remote-save");
                }
            } else {
                // Acknowledge the whole outbox, right after a save: it then holds exactly writes < i.
                line(out, "PHASE save");
                cairn.save().join();
                line(out, "SAVED " + (i - 1));
                line(out, "DONE save");
                NavigableMap<Long, Change> outbox = SyncPorts.of(cairn).outbox(Integer.MAX_VALUE);
                if (!outbox.isEmpty()) {
                    line(out, "ACKING " + (i - 1));
                    line(out, "PHASE ack");
                    SyncPorts.of(cairn).acknowledge(outbox.keySet()).join();
                    line(out, "ACKED " + (i - 1));
                    line(out, "DONE ack");
                    echoes.addAll(outbox.values()); // the server will send them back one day
                    if (echoes.size() > 2_000) {
                        echoes.subList(0, echoes.size() - 2_000).clear();
                    }
                }
            }
        }
    }

    private static void line(PrintStream out, String text) {
        out.println(text + " OK");
        out.flush();
    }
}
