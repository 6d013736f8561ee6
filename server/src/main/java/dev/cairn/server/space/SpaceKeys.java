package dev.cairn.server.space;

import java.util.regex.Pattern;

/**
 * Where a space's data lives in the server's store: under the store key {@code "space:" + id},
 * beside users' data, so a space shards and commits like a user (its own seqs, head, usage).
 * User ids cannot hold {@code ':'} (TokenAuth's alphabet), so the two never collide.
 */
public final class SpaceKeys {

    /** PROTOCOL.md 8: 1-64 characters of A-Z a-z 0-9 - _. */
    public static final Pattern SPACE_ID = Pattern.compile("[A-Za-z0-9_-]{1,64}");

    private static final String PREFIX = "space:";

    private SpaceKeys() {
    }

    /** The store key of a space; IllegalArgumentException for an id that is not valid. */
    public static String storeKey(String spaceId) {
        if (spaceId == null || !SPACE_ID.matcher(spaceId).matches()) {
            throw new IllegalArgumentException("not a valid space id");
        }
        return PREFIX + spaceId;
    }

    /** True for a space's store key, false for a user's. */
    public static boolean isSpaceKey(String storeKey) {
        return storeKey.startsWith(PREFIX);
    }

    /** The space id of a space's store key. */
    public static String spaceId(String storeKey) {
        if (!isSpaceKey(storeKey)) {
            throw new IllegalArgumentException("not a space's store key");
        }
        return storeKey.substring(PREFIX.length());
    }
}
