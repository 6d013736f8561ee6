package dev.cairn.engine.sim;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The spaces simulation (issue 18): seeds x 3 users x 2 devices x 2 spaces, membership changing
 * under the writes, connections reset; then heal and check every space ({@link SpaceChecks}).
 * CI: 32 seeds x 600 ops (about 20 s); {@code CAIRN_LONG=1}: 500 seeds x 3,000 ops. {@code CAIRN_SEED=n}
 * replays one seed. Sizes: {@code -Dcairn.spaces.seeds}, {@code .ops}, {@code .users},
 * {@code .devices}, {@code .spaces}.
 */
class SpacesSimTest {

    @Test
    void spacesConverge() throws Exception {
        boolean longRun = SimulatorTest.longMode();
        int seeds = Integer.getInteger("cairn.spaces.seeds", longRun ? 500 : 32);
        int ops = Integer.getInteger("cairn.spaces.ops", longRun ? 3_000 : 600);
        int users = Integer.getInteger("cairn.spaces.users", 3);
        int devices = Integer.getInteger("cairn.spaces.devices", 2);
        int spaces = Integer.getInteger("cairn.spaces.spaces", 2);
        long first = Long.getLong("cairn.spaces.firstSeed", 1);
        Long replay = SimulatorTest.replaySeed();
        List<Long> run = new ArrayList<>();
        if (replay != null) {
            run.add(replay);
        } else {
            for (long s = first; s < first + seeds; s++) {
                run.add(s);
            }
        }
        System.out.println("SpacesSimTest seeds " + (replay != null ? String.valueOf(replay) : first + ".." + (first + seeds - 1))
                + " (replay: CAIRN_SEED=<n>) x " + users + " users x " + devices + " devices x " + spaces + " spaces x " + ops + " ops");
        Path dir = SimulatorTest.scratch();
        SimStats total = new SimStats();
        List<String> failures = new ArrayList<>();
        long started = System.nanoTime();
        for (long seed : run) {
            try {
                total.add(new SpaceSim(new SpaceSim.Config(seed, users, devices, spaces, ops), dir.resolve("s" + seed)).run());
            } catch (AssertionError e) {
                failures.add(e.getMessage());
                System.out.println(e.getMessage());
                if (failures.size() >= 3) {
                    break;
                }
            }
        }
        long millis = (System.nanoTime() - started) / 1_000_000;
        Files.deleteIfExists(dir);
        System.out.println("SpacesSimTest: " + total.spaces() + (failures.isEmpty() ? "" : " | FAILED: " + failures.size()) + " in " + millis + " ms");
        if (!failures.isEmpty()) {
            fail(failures.size() + " seed(s) failed; the first:\n" + failures.get(0));
        }
    }
}
