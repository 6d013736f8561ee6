package dev.cairn.engine.sim;

import java.util.ArrayDeque;

/** The last events of a run (faults always, other events while verbose), printed when a seed fails. */
final class Trace {

    private final int keep;
    private final ArrayDeque<String> lines = new ArrayDeque<>();
    private long step;
    private long simMillis;

    Trace(int keep) {
        this.keep = keep;
    }

    void at(long step, long simMillis) {
        this.step = step;
        this.simMillis = simMillis;
    }

    void add(String event) {
        if (lines.size() == keep) {
            lines.removeFirst();
        }
        lines.addLast("  step " + step + " t=" + simMillis + "ms: " + event);
    }

    String dump() {
        return String.join("\n", lines);
    }
}
