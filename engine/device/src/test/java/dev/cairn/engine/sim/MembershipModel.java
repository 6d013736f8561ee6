package dev.cairn.engine.sim;

import dev.cairn.engine.clock.HybridClock;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.section.SpaceSections;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * Membership as the server keeps it (PROTOCOL.md 8, server {@code dev.cairn.server.space}): the
 * space's {@code members} entry and the user's {@code spaces} entry, written by the server
 * (replica {@code server}) as one commit of both store keys. Seeded owner steps: add, role change,
 * remove, leave. Also the history the checks need: every cut (a removal's seq in the space).
 */
final class MembershipModel {

    /** A membership that ended: the member's removal entry got {@code seq} in the space. */
    record Cut(String space, String user, long seq, String reason, int acceptedBefore) {
    }

    /** What one membership step committed. */
    record Step(String space, String user, String role, String reason, long spaceSeq, long userSeq) {
    }

    final List<String> users;
    final List<String> spaces;
    /** Space to user to role, now. */
    private final Map<String, Map<String, String>> roles = new TreeMap<>();
    /** (user, space) to the user-store seq of the latest {@code spaces} entry that added the membership. */
    private final Map<String, Long> addedAt = new HashMap<>();
    final List<Cut> cuts = new ArrayList<>();

    MembershipModel(List<String> users, List<String> spaces) {
        this.users = List.copyOf(users);
        this.spaces = List.copyOf(spaces);
        for (String s : spaces) {
            roles.put(s, new TreeMap<>());
        }
    }

    String owner(String space) {
        return users.get(spaces.indexOf(space) % users.size());
    }

    /** The user's role in the space now, or null if not a member. */
    String role(String space, String user) {
        return roles.get(space).get(user);
    }

    Map<String, String> members(String space) {
        return roles.get(space);
    }

    long addedAt(String user, String space) {
        return addedAt.getOrDefault(user + '\u0000' + space, Long.MAX_VALUE);
    }

    /**
     * One owner step on a random space: add a non-member (editor or viewer), change a member's
     * role, remove a member, or a member leaves. The owner is never removed. Null if nothing applies.
     */
    Step randomStep(Random rng, SpaceServer server) {
        String space = spaces.get(rng.nextInt(spaces.size()));
        String user = users.get(rng.nextInt(users.size()));
        if (user.equals(owner(space))) {
            return null;
        }
        String role = role(space, user);
        if (role == null) {
            return apply(server, space, user, rng.nextInt(3) == 0 ? SpaceSections.VIEWER : SpaceSections.EDITOR, null);
        }
        int k = rng.nextInt(3);
        if (k == 0) {
            return apply(server, space, user, role.equals(SpaceSections.EDITOR) ? SpaceSections.VIEWER : SpaceSections.EDITOR, null);
        }
        return apply(server, space, user, null, k == 1 ? "removed" : "left");
    }

    /** Sets (role non-null) or ends (reason non-null) a membership: one commit of both keys. */
    Step apply(SpaceServer server, String space, String user, String role, String reason) {
        HybridClock clock = server.clock;
        String entry = role == null ? null : "{\"role\":\"" + role + "\"}";
        String listed = role == null ? null : "{\"name\":\"" + space + "\",\"role\":\"" + role + "\"}";
        StoreModel spaceStore = server.spaceStore(space);
        int acceptedBefore = spaceStore.accepted.size();
        long spaceSeq = server.commitServer(spaceStore, List.of(new Change.Put(SpaceSections.MEMBERS, user, entry, clock.tick())));
        long userSeq = server.commitServer(server.userStore(user), List.of(new Change.Put(SpaceSections.SPACES, space, listed, clock.tick())));
        if (role == null) {
            roles.get(space).remove(user);
            addedAt.remove(user + '\u0000' + space);
            cuts.add(new Cut(space, user, spaceSeq, reason, acceptedBefore));
            server.cut(space, user, spaceSeq, reason);
        } else {
            if (roles.get(space).put(user, role) == null) {
                addedAt.put(user + '\u0000' + space, userSeq);
            }
        }
        return new Step(space, user, role, reason, spaceSeq, userSeq);
    }

    /** The last cut of the user's membership of the space, or null. */
    Cut lastCut(String space, String user) {
        for (int i = cuts.size() - 1; i >= 0; i--) {
            Cut c = cuts.get(i);
            if (c.space().equals(space) && c.user().equals(user)) {
                return c;
            }
        }
        return null;
    }
}
