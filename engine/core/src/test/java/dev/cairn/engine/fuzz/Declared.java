package dev.cairn.engine.fuzz;

/** Checks on a declared error that escaped: it must say what was wrong. */
final class Declared {

    private Declared() {
    }

    static void message(RuntimeException e) {
        if (e.getMessage() == null || e.getMessage().isBlank()) {
            throw new AssertionError("declared error without a message: " + e);
        }
    }
}
