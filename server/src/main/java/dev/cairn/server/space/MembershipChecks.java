package dev.cairn.server.space;

import static dev.cairn.engine.section.SpaceSections.EDITOR;
import static dev.cairn.engine.section.SpaceSections.VIEWER;

import dev.cairn.server.auth.TokenAuth;
import dev.cairn.server.space.MembershipException.Kind;
import io.vertx.core.Future;
import java.util.Set;

/** The input checks of the membership calls and their refusals (PROTOCOL.md 8.5); nothing is read or written. */
final class MembershipChecks {

    /** The roles an owner may grant (owner only through a transfer). */
    static final Set<String> GRANTABLE = Set.of(EDITOR, VIEWER);

    private MembershipChecks() {
    }

    interface Check {
        void run();
    }

    static Future<Void> checked(Check check) {
        try {
            check.run();
            return Future.succeededFuture();
        } catch (MembershipException e) {
            return Future.failedFuture(e);
        }
    }

    /** A space id that is not valid names no space: not-a-member, as for an unknown one. */
    static void checkSpace(String spaceId) {
        if (spaceId == null || !SpaceKeys.SPACE_ID.matcher(spaceId).matches()) {
            throw notAMember();
        }
    }

    static void checkUser(String user) {
        if (user == null || !TokenAuth.USER_ID.matcher(user).matches()) {
            throw bad("'user' must be a user id (1-128 characters of A-Z a-z 0-9 . _ @ -)");
        }
    }

    static void checkGrantable(String role) {
        if (role == null || !GRANTABLE.contains(role)) {
            throw bad("'role' must be \"editor\" or \"viewer\"");
        }
    }

    static void checkName(String name) {
        if (name == null || name.isEmpty() || name.codePointCount(0, name.length()) > Memberships.MAX_NAME) {
            throw bad("'name' must be 1-" + Memberships.MAX_NAME + " characters");
        }
    }

    static MembershipException bad(String message) {
        return new MembershipException(Kind.BAD_REQUEST, message);
    }

    static MembershipException notAMember() {
        return new MembershipException(Kind.NOT_A_MEMBER, "not a member of this space (or no such space)");
    }

    static MembershipException invalidInvitation() {
        return new MembershipException(Kind.INVALID_INVITATION, "unknown, used or expired invitation");
    }
}
