package dev.cairn.server.space;

import static dev.cairn.engine.section.SpaceSections.EDITOR;
import static dev.cairn.engine.section.SpaceSections.INVITATIONS;
import static dev.cairn.engine.section.SpaceSections.MEMBERS;
import static dev.cairn.engine.section.SpaceSections.OWNER;
import static dev.cairn.engine.section.SpaceSections.SPACES;
import static dev.cairn.engine.section.SpaceSections.VIEWER;
import static dev.cairn.server.space.MembershipChecks.GRANTABLE;
import static dev.cairn.server.space.MembershipChecks.bad;
import static dev.cairn.server.space.MembershipChecks.checkGrantable;
import static dev.cairn.server.space.MembershipChecks.checkName;
import static dev.cairn.server.space.MembershipChecks.checkSpace;
import static dev.cairn.server.space.MembershipChecks.checkUser;
import static dev.cairn.server.space.MembershipChecks.checked;
import static dev.cairn.server.space.MembershipChecks.invalidInvitation;
import static dev.cairn.server.space.MembershipChecks.notAMember;

import dev.cairn.engine.clock.HybridClock;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.SectionKind;
import dev.cairn.server.commit.GroupCommitter;
import dev.cairn.server.section.SectionRegistry;
import dev.cairn.server.space.MembershipException.Kind;
import dev.cairn.server.store.GuardFailedException;
import dev.cairn.server.store.ServerStore;
import dev.cairn.server.store.ServerStore.Guard;
import dev.cairn.server.store.ServerStore.MapEntry;
import dev.cairn.server.store.ServerStore.UserBatch;
import io.vertx.core.CompositeFuture;
import io.vertx.core.Context;
import io.vertx.core.Future;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Membership of shared spaces (PROTOCOL.md 8, 8.5). Each call that changes membership is ONE
 * atomic commit through the group committer ({@link GroupCommitter#submitAll}): the space's
 * {@code members} (and {@code invitations}) and each affected user's {@code spaces} entry, stamped
 * by the server's clock (replica {@code server}), guarded by the caller's role as of that commit
 * (a {@link Guard} on {@code members/<caller>}), so a concurrent removal or transfer is seen.
 * After a commit that ended memberships it tells {@link SpaceEvents} on the committer's home
 * context. Refusals fail the future with {@link MembershipException}; nothing is changed then.
 *
 * <p>An invitation is stored as {@code invitations/<sha-256 of the secret>}; the code handed out
 * is {@code <spaceId>.<secret>} (the secret is 32 random bytes, base64url), so the store never
 * holds a usable code. Joining deletes that entry in the same commit that adds the member,
 * guarded by the entry: a code is used once.
 */
public final class Memberships {

    /** A space as a user sees it. */
    public record SpaceView(String id, String name, String role) {
    }

    /** A member of a space. */
    public record Member(String user, String role) {
    }

    /** A space with its members (sorted by user id). */
    public record SpaceDetails(SpaceView space, List<Member> members) {
    }

    /** An invitation handed out: the code (shown once), its role and when it expires. */
    public record Invitation(String code, String role, long expiresAtMillis) {
    }

    /** PROTOCOL.md 8.5: invitation lifetimes. */
    public static final long MIN_EXPIRY_SECONDS = 60, MAX_EXPIRY_SECONDS = 2_592_000, DEFAULT_EXPIRY_SECONDS = 604_800;
    /** PROTOCOL.md 8.5: a space's name is 1-200 characters. */
    public static final int MAX_NAME = 200;

    private static final Set<String> ANY_ROLE = Set.of(OWNER, EDITOR, VIEWER);
    private final GroupCommitter committer;
    private final HybridClock clock;
    private final SectionRegistry sections;
    private final SpaceEvents events;
    private final Context home;
    private final SpaceReads reads;
    private final SecureRandom random = new SecureRandom();

    /**
     * @param home where {@link SpaceEvents} is told (the committer's home context; null: at once,
     *             on the thread that completes the commit)
     */
    public Memberships(ServerStore store, GroupCommitter committer, HybridClock clock, SectionRegistry sections,
                       SpaceEvents events, Context home) {
        this.committer = committer;
        this.clock = clock;
        this.sections = sections;
        this.events = events;
        this.home = home;
        this.reads = new SpaceReads(store, clock);
    }

    // ---- reads

    /** The caller's role in the space, or null when not a member (or no such space). */
    public Future<String> roleOf(String user, String spaceId) {
        return reads.entry(SpaceKeys.storeKey(spaceId), MEMBERS, user).map(e -> e == null ? null : SpaceValues.text(e.value(), "role"));
    }

    /** Fails with not-a-member unless the user is a member with one of {@code roles} (forbidden: another role). */
    public Future<String> require(String user, String spaceId, Set<String> roles) {
        return checked(() -> checkSpace(spaceId)).compose(v -> roleOf(user, spaceId)).compose(role -> {
            if (role == null) {
                return Future.failedFuture(notAMember());
            }
            if (!roles.contains(role)) {
                return Future.failedFuture(new MembershipException(Kind.FORBIDDEN, "a space's " + role + " may not do this"));
            }
            return Future.succeededFuture(role);
        });
    }

    /** The user's spaces, from their own {@code spaces} section, sorted by id. */
    public Future<List<SpaceView>> list(String user) {
        return reads.liveEntries(user, SPACES).map(entries -> {
            List<SpaceView> out = new ArrayList<>();
            entries.forEach((id, e) -> out.add(new SpaceView(id, SpaceValues.text(e.value(), "name"), SpaceValues.text(e.value(), "role"))));
            return out;
        });
    }

    /** A space the user is a member of, with its members. */
    public Future<SpaceDetails> details(String user, String spaceId) {
        return require(user, spaceId, ANY_ROLE).compose(role -> Future.all(reads.liveEntries(SpaceKeys.storeKey(spaceId), MEMBERS),
                reads.entry(user, SPACES, spaceId)).map(all -> {
                    Map<String, MapEntry> members = all.resultAt(0);
                    MapEntry own = all.resultAt(1);
                    List<Member> list = new ArrayList<>();
                    members.forEach((u, e) -> list.add(new Member(u, SpaceValues.text(e.value(), "role"))));
                    String name = own == null ? null : SpaceValues.text(own.value(), "name");
                    return new SpaceDetails(new SpaceView(spaceId, name, role), list);
                }));
    }

    // ---- changes

    /** Creates a space; the caller is its owner. */
    public Future<SpaceView> create(String user, String name) {
        return checked(() -> checkName(name)).compose(v -> {
            String id = "sp-" + token(12);
            String key = SpaceKeys.storeKey(id);
            return commit(List.of(
                    new UserBatch(key, List.of(put(MEMBERS, user, SpaceValues.member(OWNER)))),
                    new UserBatch(user, List.of(put(SPACES, id, SpaceValues.spaceEntry(name, OWNER))))), null)
                    .map(r -> new SpaceView(id, name, OWNER));
        });
    }

    /** The owner invites: a single-use code for {@code role} (editor or viewer), valid {@code expiresInSeconds}. */
    public Future<Invitation> invite(String actor, String spaceId, String role, long expiresInSeconds) {
        return checked(() -> {
            checkSpace(spaceId);
            checkGrantable(role);
            if (expiresInSeconds < MIN_EXPIRY_SECONDS || expiresInSeconds > MAX_EXPIRY_SECONDS) {
                throw bad("expiresInSeconds must be between " + MIN_EXPIRY_SECONDS + " and " + MAX_EXPIRY_SECONDS);
            }
        }).compose(v -> spaceName(actor, spaceId)).compose(name -> {
            String secret = token(32);
            long expires = System.currentTimeMillis() + expiresInSeconds * 1000;
            String key = SpaceKeys.storeKey(spaceId);
            return commit(List.of(new UserBatch(key, List.of(put(INVITATIONS, hash(secret), SpaceValues.invitation(expires, name, role))),
                    actorGuard(spaceId, actor, Set.of(OWNER)))), null)
                    .map(r -> new Invitation(spaceId + "." + secret, role, expires));
        });
    }

    /** Joins with an invitation code; a member keeps their role and the code is not used up. */
    public Future<SpaceView> join(String user, String code) {
        int dot = code == null ? -1 : code.indexOf('.');
        if (dot <= 0 || !SpaceKeys.SPACE_ID.matcher(code.substring(0, dot)).matches() || dot == code.length() - 1) {
            return Future.failedFuture(invalidInvitation());
        }
        String spaceId = code.substring(0, dot);
        String key = SpaceKeys.storeKey(spaceId);
        String hash = hash(code.substring(dot + 1));
        return Future.all(reads.entry(key, INVITATIONS, hash), reads.entry(key, MEMBERS, user), reads.entry(user, SPACES, spaceId)).compose(all -> {
            MapEntry invitation = all.resultAt(0);
            MapEntry member = all.resultAt(1);
            MapEntry own = all.resultAt(2);
            String role = invitation == null ? null : SpaceValues.text(invitation.value(), "role");
            if (role == null || !GRANTABLE.contains(role)
                    || SpaceValues.number(invitation.value(), "expiresAtMillis", 0) <= System.currentTimeMillis()) {
                return Future.failedFuture(invalidInvitation());
            }
            String name = SpaceValues.text(invitation.value(), "name");
            String current = member == null ? null : SpaceValues.text(member.value(), "role");
            if (current != null) {
                return Future.succeededFuture(new SpaceView(spaceId, own == null ? name : SpaceValues.text(own.value(), "name"), current));
            }
            advance(invitation, member, own);
            return commit(List.of(
                    new UserBatch(key, List.of(tombstone(INVITATIONS, hash), put(MEMBERS, user, SpaceValues.member(role))),
                            new Guard(key, INVITATIONS, hash, Set.of(role))),
                    new UserBatch(user, List.of(put(SPACES, spaceId, SpaceValues.spaceEntry(name, role))))), Kind.INVALID_INVITATION)
                    .map(r -> new SpaceView(spaceId, name, role));
        });
    }

    /** The owner adds a user (any valid user id) or changes a member's role (editor or viewer). */
    public Future<Member> setRole(String actor, String spaceId, String target, String role) {
        return checked(() -> {
            checkSpace(spaceId);
            checkUser(target);
            checkGrantable(role);
            if (target.equals(actor)) {
                throw bad("the owner's own role changes only by transferring ownership");
            }
        }).compose(v -> Future.all(spaceName(actor, spaceId), reads.entry(SpaceKeys.storeKey(spaceId), MEMBERS, target),
                reads.entry(target, SPACES, spaceId), reads.entry(SpaceKeys.storeKey(spaceId), INVITATIONS, REVISION))).compose(all -> {
                    String name = all.resultAt(0);
                    advance(all.resultAt(1), all.resultAt(2), all.resultAt(3));
                    String key = SpaceKeys.storeKey(spaceId);
                    return commit(List.of(
                            new UserBatch(key, List.of(put(MEMBERS, target, SpaceValues.member(role)), revision()), actorGuard(spaceId, actor, Set.of(OWNER))),
                            new UserBatch(target, List.of(put(SPACES, spaceId, SpaceValues.spaceEntry(name, role))))), null)
                            .map(r -> new Member(target, role));
                });
    }

    /**
     * The owner removes a member, or a member (not the owner) leaves ({@code target} the caller).
     * Completes with false, changing nothing, when the target is not a member.
     */
    public Future<Boolean> remove(String actor, String spaceId, String target) {
        boolean leaving = target != null && target.equals(actor);
        return checked(() -> {
            checkSpace(spaceId);
            checkUser(target);
        }).compose(v -> Future.all(reads.entry(SpaceKeys.storeKey(spaceId), MEMBERS, target), reads.entry(target, SPACES, spaceId))).compose(all -> {
            MapEntry member = all.resultAt(0);
            String role = member == null ? null : SpaceValues.text(member.value(), "role");
            if (leaving && OWNER.equals(role)) {
                return Future.failedFuture(bad("the owner cannot leave the space: transfer ownership first"));
            }
            if (leaving && role == null) {
                return Future.failedFuture(notAMember());
            }
            if (!leaving && role == null) {
                // Nothing to remove; the caller must still be the owner to learn that.
                return require(actor, spaceId, Set.of(OWNER)).map(r -> false);
            }
            advance(member, all.resultAt(1));
            String key = SpaceKeys.storeKey(spaceId);
            Guard guard = leaving ? actorGuard(spaceId, actor, Set.of(EDITOR, VIEWER)) : actorGuard(spaceId, actor, Set.of(OWNER));
            return commit(List.of(new UserBatch(key, List.of(tombstone(MEMBERS, target)), guard),
                    new UserBatch(target, List.of(tombstone(SPACES, spaceId)))), null).map(r -> {
                        ended(List.of(target), spaceId, leaving ? "left" : "removed");
                        return true;
                    });
        }).recover(e -> leaving && e instanceof MembershipException m && m.kind() == Kind.FORBIDDEN
                ? Future.failedFuture(bad("the owner cannot leave the space: transfer ownership first")) : Future.failedFuture(e));
    }

    /** The owner hands ownership to a member, and becomes an editor. */
    public Future<String> transfer(String actor, String spaceId, String newOwner) {
        return checked(() -> {
            checkSpace(spaceId);
            checkUser(newOwner);
        }).compose(v -> {
            String key = SpaceKeys.storeKey(spaceId);
            return Future.all(List.of(spaceName(actor, spaceId), reads.entry(key, MEMBERS, newOwner), reads.entry(key, MEMBERS, actor),
                    reads.entry(actor, SPACES, spaceId), reads.entry(newOwner, SPACES, spaceId), reads.entry(key, INVITATIONS, REVISION)))
                    .compose(all -> {
                        String name = all.resultAt(0);
                        if (newOwner.equals(actor)) {
                            return require(actor, spaceId, Set.of(OWNER)).map(r -> actor);   // nothing to hand over
                        }
                        MapEntry target = all.resultAt(1);
                        if (target == null || SpaceValues.text(target.value(), "role") == null) {
                            return Future.failedFuture(bad("'" + newOwner + "' is not a member of the space"));
                        }
                        advance(target, all.resultAt(2), all.resultAt(3), all.resultAt(4), all.resultAt(5));
                        return commit(List.of(
                                new UserBatch(key, List.of(put(MEMBERS, actor, SpaceValues.member(EDITOR)), put(MEMBERS, newOwner,
                                        SpaceValues.member(OWNER)), revision()), actorGuard(spaceId, actor, Set.of(OWNER))),
                                // the new owner must still be a member at the commit (a removal may have come between)
                                new UserBatch(key, List.of(), new Guard(key, MEMBERS, newOwner, Set.of(EDITOR, VIEWER))),
                                new UserBatch(actor, List.of(put(SPACES, spaceId, SpaceValues.spaceEntry(name, EDITOR)))),
                                new UserBatch(newOwner, List.of(put(SPACES, spaceId, SpaceValues.spaceEntry(name, OWNER))))), null,
                                newOwner, "'" + newOwner + "' is not a member of the space")
                                .map(r -> newOwner);
                    });
        });
    }

    /**
     * The key of the space's membership revision in {@code invitations} (server-only, never a
     * code's hash: those are hex): a random token as its {@code role}, new with every owner's
     * add, role change and transfer. A delete guards on the token it read, as on each invitation,
     * so an added member (whose entries it could not read, so not guard) makes it read again.
     */
    static final String REVISION = "~rev";

    /** Delete attempts when joins or role changes keep committing between the delete's reads and its commit. */
    private static final int DELETE_ATTEMPTS = 5;

    /**
     * The owner deletes the space: one commit clears every section of the space (a whole-section
     * clear per map section, {@code members} and {@code invitations} included; a clear per stream of
     * each log section) and deletes every member's {@code spaces} entry. A join commits its member
     * and uses up its invitation together, so the commit is guarded by every invitation read: a join
     * that committed after the reads fails it, and the delete reads the members again (else the
     * joiner would keep a stale {@code spaces} entry). It is guarded by every other member's role as
     * read too, and by the membership revision ({@link #REVISION}), so an add, role change, transfer
     * or removal from another of the owner's devices in between (a {@code spaces} entry written
     * after the reads) also makes it read again; after five such attempts it answers unavailable
     * (retry). A join after the delete finds its code cleared.
     */
    public Future<Void> delete(String actor, String spaceId) {
        String key;
        try {
            key = SpaceKeys.storeKey(spaceId);
        } catch (IllegalArgumentException e) {
            return Future.failedFuture(notAMember());
        }
        return delete(actor, spaceId, key, DELETE_ATTEMPTS);
    }

    private Future<Void> delete(String actor, String spaceId, String key, int attempts) {
        return require(actor, spaceId, Set.of(OWNER))
                .compose(r -> deleteReads(actor, spaceId, key, false))
                .compose(all -> {
                    Map<String, MapEntry> invitations = all.resultAt(0);
                    Map<String, MapEntry> members = all.resultAt(1);
                    Map<String, List<String>> streams = all.resultAt(2);
                    List<Future<MapEntry>> own = new ArrayList<>();
                    members.keySet().forEach(u -> own.add(reads.entry(u, SPACES, spaceId)));
                    return Future.all(own).compose(ownAll -> {
                        members.values().forEach(e -> clock.advance(e.stamp()));
                        invitations.values().forEach(e -> clock.advance(e.stamp()));
                        own.forEach(f -> advance(f.result()));
                        List<Change> clears = new ArrayList<>();
                        for (String section : spaceMapSections()) {
                            clears.add(Change.Clear.wholeSection(section, clock.tick()));
                        }
                        streams.forEach((section, names) -> names.forEach(s -> clears.add(new Change.Clear(section, s, clock.tick()))));
                        List<UserBatch> batches = new ArrayList<>();
                        batches.add(new UserBatch(key, clears, actorGuard(spaceId, actor, Set.of(OWNER))));
                        members.forEach((u, e) -> {
                            String role = SpaceValues.text(e.value(), "role");
                            if (role != null && !u.equals(actor)) { // the actor's own entry: actorGuard
                                batches.add(new UserBatch(key, List.of(), new Guard(key, MEMBERS, u, Set.of(role))));
                            }
                        });
                        invitations.forEach((hash, e) -> {
                            String role = SpaceValues.text(e.value(), "role");
                            if (role != null) {
                                batches.add(new UserBatch(key, List.of(), new Guard(key, INVITATIONS, hash, Set.of(role))));
                            }
                        });
                        members.keySet().forEach(u -> batches.add(new UserBatch(u, List.of(tombstone(SPACES, spaceId)))));
                        return committer.submitAll(batches).map(done -> {
                            ended(new ArrayList<>(members.keySet()), spaceId, "deleted");
                            return (Void) null;
                        }).recover(e -> {
                            if (!(e instanceof GuardFailedException g) || !lostRace(g, actor)) {
                                return refusal(e, null, null, null);
                            }
                            return attempts > 1 ? delete(actor, spaceId, key, attempts - 1)
                                    : Future.failedFuture(new MembershipException(Kind.UNAVAILABLE,
                                            "the space's members kept changing while it was deleted; try again"));
                        });
                    });
                });
    }

    /**
     * The delete's reads: invitations (with the revision) before members and log streams, so a join
     * or add committed after the first read fails the guards on what it read, and one committed
     * before it is in the members read.
     */
    private Future<CompositeFuture> deleteReads(String actor, String spaceId, String key, boolean revised) {
        return reads.liveEntries(key, INVITATIONS).compose(read -> {
            if (!revised && !read.containsKey(REVISION)) {
                // a space never added to: a revision first, so an add from now on changes what the delete guards on
                return commit(List.of(new UserBatch(key, List.of(revision()), actorGuard(spaceId, actor, Set.of(OWNER)))), null)
                        .compose(done -> deleteReads(actor, spaceId, key, true));
            }
            return Future.all(Future.succeededFuture(read), reads.liveEntries(key, MEMBERS), reads.logStreams(key));
        });
    }

    // ---- helpers

    /** A delete's guard that failed because a join, role change or removal committed after its reads (not the caller's own role). */
    private static boolean lostRace(GuardFailedException g, String actor) {
        String section = g.guard().section();
        return section.equals(INVITATIONS) || section.equals(MEMBERS) && !g.guard().key().equals(actor);
    }

    /** Every map section a space may hold: the registry's, without {@code spaces}, plus {@code invitations}. */
    private List<String> spaceMapSections() {
        List<String> out = new ArrayList<>();
        sections.all().forEach((name, kind) -> {
            if (kind == SectionKind.MAP && !name.equals(SPACES)) {
                out.add(name);
            }
        });
        out.add(INVITATIONS);
        return out;
    }

    /** The name of a space from the caller's own {@code spaces} entry; not-a-member without one. */
    private Future<String> spaceName(String user, String spaceId) {
        return reads.entry(user, SPACES, spaceId).compose(e -> {
            String name = e == null ? null : SpaceValues.text(e.value(), "name");
            return name == null ? Future.failedFuture(notAMember()) : Future.succeededFuture(name);
        });
    }

    private static Guard actorGuard(String spaceId, String actor, Set<String> roles) {
        return new Guard(SpaceKeys.storeKey(spaceId), MEMBERS, actor, roles);
    }

    /**
     * One atomic commit; a failed guard becomes {@code guardKind}, or (null) not-a-member when the
     * guarded entry has no role and forbidden when it has another.
     */
    private Future<Map<String, ServerStore.CommitResult>> commit(List<UserBatch> batches, Kind guardKind) {
        return commit(batches, guardKind, null, null);
    }

    /** As above; a failed guard on {@code members/<badKey>} becomes bad-request {@code badMessage}. */
    private Future<Map<String, ServerStore.CommitResult>> commit(List<UserBatch> batches, Kind guardKind, String badKey, String badMessage) {
        return committer.submitAll(batches).recover(e -> refusal(e, guardKind, badKey, badMessage));
    }

    /** A failed commit as the caller's refusal (see {@link #commit(List, Kind, String, String)}). */
    private static <T> Future<T> refusal(Throwable e, Kind guardKind, String badKey, String badMessage) {
        if (e instanceof GuardFailedException g && badKey != null && g.guard().key().equals(badKey)) {
            return Future.failedFuture(bad(badMessage));
        }
        if (e instanceof GuardFailedException g) {
            if (guardKind != null) {
                return Future.failedFuture(guardKind == Kind.INVALID_INVITATION ? invalidInvitation()
                        : new MembershipException(guardKind, "refused"));
            }
            return Future.failedFuture(g.foundRole() == null ? notAMember()
                    : new MembershipException(Kind.FORBIDDEN, "a space's " + g.foundRole() + " may not do this"));
        }
        return Future.failedFuture(e);
    }

    private void ended(List<String> users, String spaceId, String reason) {
        Runnable tell = () -> users.forEach(u -> events.ended(u, spaceId, reason));
        if (home == null) {
            tell.run();
        } else {
            home.runOnContext(v -> tell.run());
        }
    }

    /** Moves the clock past entries about to be replaced, so the server's new writes win over them. */
    private void advance(MapEntry... entries) {
        for (MapEntry e : entries) {
            if (e != null) {
                clock.advance(e.stamp());
            }
        }
    }

    /**
     * A new membership revision (see {@link #REVISION}), written by the calls that give a user a
     * {@code spaces} entry without an invitation (adding, changing a role, transferring).
     */
    private Change revision() {
        return put(INVITATIONS, REVISION, SpaceValues.member(token(6)));
    }

    private Change put(String section, String key, String value) {
        return new Change.Put(section, key, value, clock.tick());
    }

    private Change tombstone(String section, String key) {
        return new Change.Put(section, key, null, clock.tick());
    }

    private String token(int bytes) {
        byte[] b = new byte[bytes];
        random.nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    static String hash(String secret) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
