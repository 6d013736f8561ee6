package dev.cairn.server.session;

import java.util.HashMap;
import java.util.Map;

/**
 * Counts the open sockets of this node, per user and in all, so one user (or a flood) cannot
 * exhaust the server's memory and file descriptors. A slot is taken before the upgrade and given
 * back when the socket closes or the upgrade fails. Thread-safe (synchronized): sockets open and
 * close on every event loop, and each call is a few map operations.
 */
public final class SocketSlots {

    /** What {@link #acquire} decided. */
    public enum Result { OK, USER_FULL, SERVER_FULL }

    private final int perUser;
    private final int total;
    private final Map<String, Integer> byUser = new HashMap<>();
    private int open;

    public SocketSlots(int perUser, int total) {
        this.perUser = perUser;
        this.total = total;
    }

    public synchronized Result acquire(String user) {
        if (open >= total) {
            return Result.SERVER_FULL;
        }
        int mine = byUser.getOrDefault(user, 0);
        if (mine >= perUser) {
            return Result.USER_FULL;
        }
        byUser.put(user, mine + 1);
        open++;
        return Result.OK;
    }

    public synchronized void release(String user) {
        Integer mine = byUser.get(user);
        if (mine == null) {
            return;
        }
        if (mine <= 1) {
            byUser.remove(user);
        } else {
            byUser.put(user, mine - 1);
        }
        open--;
    }

    public synchronized int open() {
        return open;
    }

    public int perUser() {
        return perUser;
    }

    public int total() {
        return total;
    }
}
