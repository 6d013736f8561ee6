package dev.cairn.server.faults;

import dev.cairn.engine.crdt.Change;

/**
 * A change's identity for fault tests: what it is and its stamp, without its value. Two changes
 * with one identity are the same change (a stamp is unique per replica and write), so the
 * server applying one identity twice is a duplicate.
 */
final class ChangeId {

    private ChangeId() {
    }

    static String of(Change change) {
        if (change instanceof Change.Put p) {
            return "put|" + p.section() + "|" + p.key() + "|" + p.stamp().hlc() + "|" + p.stamp().replica();
        }
        if (change instanceof Change.Append a) {
            return "append|" + a.section() + "|" + a.stream() + "|" + a.stamp().hlc() + "|" + a.stamp().replica();
        }
        Change.Clear c = (Change.Clear) change;
        return "clear|" + c.section() + "|" + c.stream() + "|" + c.stamp().hlc() + "|" + c.stamp().replica();
    }
}
