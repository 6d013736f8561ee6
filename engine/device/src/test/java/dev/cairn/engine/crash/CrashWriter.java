package dev.cairn.engine.crash;

import dev.cairn.engine.Cairn;
import dev.cairn.engine.ChatMessage;
import dev.cairn.engine.PersistentState;
import dev.cairn.engine.StateOptions;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The child process of {@link CrashIT}: writes through the public API forever, until it is
 * killed with SIGKILL.
 *
 * <p>Writes are numbered. Write {@code i} does (see {@link #intKeysWrittenBy}):
 * <ul>
 *   <li>{@code state/k<i%50>} = i through a {@link PersistentState} (k0-k24 with the section's
 *       default policy, k25-k49 with a 2 ms non-debounced auto-save);</li>
 *   <li>appends chat message {@code "m<i>"} to conversation {@code c1};</li>
 *   <li>every 3rd: {@code state/p<i%20>} = i through {@code cairn.map("state")};</li>
 *   <li>every 5th: toggles card {@code x<i%4>} and sets its custom data {@code at} = i;</li>
 *   <li>every 7th: {@code ui/u<i%6>} = i.</li>
 * </ul>
 * Numbering continues after the highest write index found in the store, so every write index is
 * unique in a data directory that is reused across crashes.
 *
 * <p>Protocol on stdout (each line flushed): {@code START <s> OK} once the engine is open and
 * {@code s} is the first write index of this run; then {@code SAVED <n> OK} each time a
 * {@code save()} that covers every write up to {@code n} has returned. The trailing {@code OK}
 * lets the parent ignore a line cut short by the kill.
 *
 * <p>Modes, chosen per round from the seed: save after every write (through the key's
 * {@link PersistentState#save()}), batches of 1-200 writes then {@link Cairn#save()}, and bursts
 * left to auto-save (no explicit save, short pauses) which a later round's save covers.
 *
 * <p>Arguments: {@code dataDir seed}.
 */
public final class CrashWriter {

    static final String REPLICA = "crash";
    static final String CONVERSATION = "c1";
    static final int STATE_KEYS = 50;

    /** A map key whose value is always the index of the write that last set it. */
    record IntKey(String section, String key) {
        @Override
        public String toString() {
            return section + "/" + key;
        }
    }

    private CrashWriter() {
    }

    /** The integer-valued map keys write {@code i} sets to {@code i}, in the order it sets them. */
    static List<IntKey> intKeysWrittenBy(long i) {
        List<IntKey> keys = new ArrayList<>(4);
        keys.add(new IntKey("state", "k" + (i % STATE_KEYS)));
        if (i % 3 == 0) {
            keys.add(new IntKey("state", "p" + (i % 20)));
        }
        if (i % 5 == 0) {
            keys.add(new IntKey("cards", "card-" + cardId(i) + "/customData/at"));
        }
        if (i % 7 == 0) {
            keys.add(new IntKey("ui", "u" + (i % 6)));
        }
        return keys;
    }

    /** Every integer-valued key any write may set. */
    static List<IntKey> allIntKeys() {
        List<IntKey> keys = new ArrayList<>();
        for (int k = 0; k < STATE_KEYS; k++) {
            keys.add(new IntKey("state", "k" + k));
        }
        for (int k = 0; k < 20; k++) {
            keys.add(new IntKey("state", "p" + k));
        }
        for (int k = 0; k < 4; k++) {
            keys.add(new IntKey("cards", "card-x" + k + "/customData/at"));
        }
        for (int k = 0; k < 6; k++) {
            keys.add(new IntKey("ui", "u" + k));
        }
        return keys;
    }

    static String chatText(long i) {
        return "m" + i;
    }

    /** The write index of a chat text written by {@link #chatText}, or -1. */
    static long chatIndex(String text) {
        if (text == null || !text.matches("m[0-9]{1,18}")) {
            return -1;
        }
        return Long.parseLong(text.substring(1));
    }

    private static String cardId(long i) {
        return "x" + (i % 4);
    }

    /** The first write index of a run on this engine: one past the highest index found in it. */
    static long nextIndex(Cairn cairn) {
        long max = -1;
        for (IntKey k : allIntKeys()) {
            Integer v = cairn.map(k.section()).get(k.key(), Integer.class);
            if (v != null) {
                max = Math.max(max, v);
            }
        }
        for (ChatMessage m : cairn.chat().history(CONVERSATION)) {
            max = Math.max(max, chatIndex(m.text()));
        }
        return max + 1;
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        long seed = Long.parseLong(args[1]);
        ChildGuard.watchParent();
        PrintStream out = System.out;
        Random random = new Random(seed);
        Cairn cairn = Cairn.builder().dataDir(dir).replicaId(REPLICA).open();
        cairn.onError(e -> {
            // A failed background save breaks the protocol's promise: die loudly, the parent sees it.
            System.err.println("CrashWriter: background error: " + e);
            e.printStackTrace();
            Runtime.getRuntime().halt(3);
        });
        List<PersistentState<Integer>> states = new ArrayList<>(STATE_KEYS);
        for (int k = 0; k < STATE_KEYS; k++) {
            StateOptions<Integer> options = k < STATE_KEYS / 2
                    ? StateOptions.defaults()
                    : StateOptions.<Integer>defaults().saveDelay(Duration.ofMillis(2)).debounce(false);
            states.add(cairn.state("k" + k, Integer.class, -1, options));
        }
        long i = nextIndex(cairn);
        if (i > Integer.MAX_VALUE / 2) {
            throw new IllegalStateException("write index overflow: " + i);
        }
        line(out, "START " + i);
        while (true) {
            int mode = random.nextInt(3);
            if (mode == 0) {
                // Save after every write, through the key's own handle.
                int count = 1 + random.nextInt(30);
                for (int c = 0; c < count; c++, i++) {
                    write(cairn, states, i);
                    states.get((int) (i % STATE_KEYS)).save().join();
                    line(out, "SAVED " + i);
                }
            } else if (mode == 1) {
                // A batch, then one save of everything.
                int count = 1 + random.nextInt(200);
                for (int c = 0; c < count; c++, i++) {
                    write(cairn, states, i);
                }
                cairn.save().join();
                line(out, "SAVED " + (i - 1));
            } else {
                // Left to auto-save: no explicit save; short pauses let the 2 ms keys' timers fire.
                int count = 10 + random.nextInt(200);
                for (int c = 0; c < count; c++, i++) {
                    write(cairn, states, i);
                    if (random.nextInt(8) == 0) {
                        Thread.sleep(random.nextInt(3));
                    }
                }
            }
        }
    }

    private static void write(Cairn cairn, List<PersistentState<Integer>> states, long i) {
        int v = (int) i;
        states.get((int) (i % STATE_KEYS)).set(v);
        cairn.chat().append(CONVERSATION, "user", chatText(i));
        if (i % 3 == 0) {
            cairn.map("state").put("p" + (i % 20), v);
        }
        if (i % 5 == 0) {
            var card = cairn.cards().card(cardId(i));
            card.toggle();
            card.putCustomData("at", v);
        }
        if (i % 7 == 0) {
            cairn.ui().put("u" + (i % 6), v);
        }
    }

    private static void line(PrintStream out, String text) {
        out.println(text + " OK");
        out.flush();
    }
}
