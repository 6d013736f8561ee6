package dev.cairn.engine.sim;

import java.util.ArrayDeque;

/** What a failing seed prints: the last faults injected and the last events of the run. */
final class Trace {

    private final int keep;
    private final ArrayDeque<String> faults = new ArrayDeque<>();
    private final ArrayDeque<String> events = new ArrayDeque<>();
    private long step;
    private long simMillis;

    Trace(int keep) {
        this.keep = keep;
    }

    void at(long step, long simMillis) {
        this.step = step;
        this.simMillis = simMillis;
    }

    /** A fault the simulator injected. */
    void fault(String what) {
        push(faults, what);
        push(events, "FAULT " + what);
    }

    /** Any other event worth seeing before a failure. */
    void add(String event) {
        push(events, event);
    }

    private void push(ArrayDeque<String> lines, String what) {
        if (lines.size() == keep) {
            lines.removeFirst();
        }
        lines.addLast("    step " + step + " t=" + simMillis + "ms: " + what);
    }

    String dump() {
        return "  last faults:\n" + String.join("\n", faults) + "\n  last events:\n" + String.join("\n", events);
    }
}
