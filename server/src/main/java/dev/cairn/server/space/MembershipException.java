package dev.cairn.server.space;

/**
 * A membership call refused (PROTOCOL.md 8.5); nothing was changed. {@link #code} is the API's
 * error code, {@link #status} its HTTP status.
 */
public final class MembershipException extends RuntimeException {

    /** The refusals of 8.5 with their HTTP statuses. */
    public enum Kind {
        /** 400: bad input, or a call the rules forbid whatever the role (the owner leaving). */
        BAD_REQUEST(400, "bad-request"),
        /** 403: the caller's role does not allow the call. */
        FORBIDDEN(403, "forbidden"),
        /** 403: the caller is not a member, or the space does not exist (not told apart). */
        NOT_A_MEMBER(403, "not-a-member"),
        /** 404: an invitation code that is unknown, used or expired (not told apart). */
        INVALID_INVITATION(404, "invalid-invitation"),
        /** 503: the call lost to concurrent membership changes too often (a space's delete); retry. */
        UNAVAILABLE(503, "unavailable");

        public final int status;
        public final String code;

        Kind(int status, String code) {
            this.status = status;
            this.code = code;
        }
    }

    private final Kind kind;

    public MembershipException(Kind kind, String message) {
        super(message, null, false, false);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
