package dev.cairn.engine.sim;

import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.section.SpaceSections;
import dev.cairn.engine.section.StandardSections;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * The spaces simulation (issue 18): several users, each with several {@link SpaceDevice}s (real
 * engines with their space replicas), one {@link SpaceServer} with a store per user and per space,
 * seeded owner steps changing membership ({@link MembershipModel}) while devices write their
 * spaces' sections (as editors, as viewers, after their removal, to spaces they never joined) and
 * their own state, under connection resets. One thread, simulated time, one seeded Random. After a
 * heal (faults and writes stop, everything drains), {@link SpaceChecks} checks every space.
 */
final class SpaceSim {

    /** The app sections of every engine and space (the server's section list). */
    static final List<String> SECTIONS = List.of(StandardSections.PREFERENCES, StandardSections.STATE);
    static final int KEYS = 4;

    record Config(long seed, int users, int devicesPerUser, int spaces, int ops) {
    }

    private final Config cfg;
    private final Path root;
    private final Random rng;
    private final SimStats stats = new SimStats();
    private final Trace trace = new Trace(Integer.getInteger("cairn.spaces.trace", 60));
    final MembershipModel members;
    final SpaceServer server;
    final List<SpaceDevice> devices = new ArrayList<>();
    private final List<SpaceLink> links = new ArrayList<>();
    private int nextLinkId;
    private long now = 1_700_000_000_000L;
    private long step;

    SpaceSim(Config cfg, Path root) {
        this.cfg = cfg;
        this.root = root;
        this.rng = new Random(cfg.seed());
        List<String> users = new ArrayList<>();
        for (int u = 0; u < cfg.users(); u++) {
            users.add("u" + u);
        }
        List<String> spaces = new ArrayList<>();
        for (int s = 0; s < cfg.spaces(); s++) {
            spaces.add("sp-" + s);
        }
        this.members = new MembershipModel(users, spaces);
        this.server = new SpaceServer(50, 20, 60_000, () -> now, SpaceSim::kind, stats, trace, members);
    }

    static SectionKind kind(String section) {
        if (section.equals(SpaceSections.SPACES) || section.equals(SpaceSections.MEMBERS)) {
            return SectionKind.MAP;
        }
        return SECTIONS.contains(section) ? KeySpace.kind(section) : null;
    }

    long now() {
        return now;
    }

    Random rng() {
        return rng;
    }

    SimStats stats() {
        return stats;
    }

    Trace trace() {
        return trace;
    }

    /** The spaces the user is a member of now, with the role. */
    Map<String, String> membersOf(String user) {
        Map<String, String> out = new TreeMap<>();
        for (String s : members.spaces) {
            String role = members.role(s, user);
            if (role != null) {
                out.put(s, role);
            }
        }
        return out;
    }

    SpaceLink openLink(SpaceDevice d) {
        SpaceLink link = new SpaceLink(nextLinkId++, d);
        link.serverSession = server.open(link, d.user);
        links.add(link);
        return link;
    }

    /** Ends a connection (a reset: everything in flight both ways is lost). */
    void cut(SpaceLink link) {
        if (!link.alive) {
            return;
        }
        link.reset();
        server.close(link.serverSession);
        links.remove(link);
        link.device.connectionLost(link);
    }

    /** A page of a space reached a device: nothing at or after its user's cut unless they are a member again. */
    void checkSpacePage(SpaceDevice d, String space, Frame.Changes page) {
        if (members.role(space, d.user) != null) {
            return;
        }
        MembershipModel.Cut cut = members.lastCut(space, d.user);
        if (cut == null) {
            throw new AssertionError(d.replica + " got a page of space " + space + ", which its user never was a member of: " + page);
        }
        for (Frame.SeqChange c : page.changes()) {
            if (c.seq() >= cut.seq()) {
                throw new AssertionError(d.replica + " got seq " + c.seq() + " of space " + space + " at or after its user's cut " + cut);
            }
        }
        if (page.cursor() >= cut.seq()) {
            throw new AssertionError(d.replica + " got a page of space " + space + " with cursor " + page.cursor() + " at or after the cut " + cut);
        }
    }

    SimStats run() throws IOException {
        try {
            Files.createDirectories(root);
            for (String s : members.spaces) {
                members.apply(server, s, members.owner(s), SpaceSections.OWNER, null);
            }
            for (int u = 0; u < cfg.users(); u++) {
                for (int i = 0; i < cfg.devicesPerUser(); i++) {
                    devices.add(new SpaceDevice("u" + u, i, this, root.resolve("u" + u + "-d" + i)));
                }
            }
            int ops = 0;
            while (ops < cfg.ops()) {
                trace.at(step, now);
                int k = rng.nextInt(100);
                if (k < 30) {
                    write();
                    ops++;
                } else if (k < 32) {
                    MembershipModel.Step st = members.randomStep(rng, server);
                    if (st != null) {
                        stats.membershipSteps++;
                        trace.add("membership " + st);
                    }
                } else if (k < 33 && !links.isEmpty()) {
                    SpaceLink l = links.get(rng.nextInt(links.size()));
                    trace.fault("reset link " + l.id + " of " + l.device.replica);
                    stats.resets++;
                    cut(l);
                } else {
                    network();
                }
                advance();
            }
            heal();
            new SpaceChecks(this).check();
            stats.seeds = 1;
            stats.ops = ops;
            return stats;
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError("seed " + cfg.seed() + ": " + e + "\n" + trace.dump(), e);
        } finally {
            for (SpaceDevice d : devices) {
                d.cairn.close();
            }
            deleteTree(root);
        }
    }

    private void write() {
        SpaceDevice d = devices.get(rng.nextInt(devices.size()));
        String section = SECTIONS.get(rng.nextInt(SECTIONS.size()));
        String key = "k" + rng.nextInt(KEYS);
        String value = "\"" + d.replica + "-" + step + "\"";
        if (rng.nextInt(5) == 0) {
            d.writeUser(section, key, value);
        } else {
            String space = members.spaces.get(rng.nextInt(members.spaces.size()));
            d.writeSpace(space, section, key, value);
        }
        if (rng.nextInt(3) == 0) {
            d.save();
        }
        d.pump();
    }

    /** One network or server step: connect, deliver a frame either way, or pump a server session. */
    private void network() {
        for (SpaceDevice d : devices) {
            if (d.canConnect()) {
                d.connect();
            }
        }
        if (links.isEmpty()) {
            return;
        }
        SpaceLink l = links.get(rng.nextInt(links.size()));
        int k = rng.nextInt(3);
        if (k == 0 && !l.toServer.isEmpty()) {
            server.receive(l.serverSession, l.toServer.pollFirst());
        } else if (k == 1 && !l.toClient.isEmpty()) {
            l.device.onFrame(l, l.toClient.pollFirst());
        } else if (l.alive) {
            server.pump(l.serverSession);
        }
    }

    private void advance() {
        step++;
        now += 1 + rng.nextInt(20);
    }

    /** Faults and writes stop; everything drains until every device is settled. */
    private void heal() {
        for (SpaceDevice d : devices) {
            d.save();
            d.pump();
        }
        for (int i = 0; i < 200_000; i++) {
            trace.at(step, now);
            for (SpaceDevice d : devices) {
                if (d.canConnect()) {
                    d.connect();
                }
                d.pump();
            }
            boolean busy = false;
            for (SpaceLink l : new ArrayList<>(links)) {
                while (l.alive && !l.toServer.isEmpty()) {
                    server.receive(l.serverSession, l.toServer.pollFirst());
                    busy = true;
                }
                if (l.alive && l.serverSession.hasWork()) {
                    server.pump(l.serverSession);
                    busy = true;
                }
                while (l.alive && !l.toClient.isEmpty()) {
                    l.device.onFrame(l, l.toClient.pollFirst());
                    busy = true;
                }
            }
            advance();
            if (!busy) {
                boolean settled = true;
                for (SpaceDevice d : devices) {
                    settled &= d.settled(server);
                }
                if (settled) {
                    return;
                }
            }
        }
        StringBuilder why = new StringBuilder("did not settle after the heal:");
        for (SpaceDevice d : devices) {
            why.append("\n    ").append(d.replica).append(" settled=").append(d.settled(server)).append(" session=")
                    .append(d.session != null).append(" members=").append(membersOf(d.user));
        }
        throw new AssertionError(why.toString());
    }

    private static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
