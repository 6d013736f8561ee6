package dev.cairn.server.session;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Notices 1009 storms: a client that keeps sending frames over maxFrameBytes (it is stuck re-sending
 * a change that can never fit) has its sockets closed with 1009 again and again, each an INFO line
 * at most. The {@value #THRESHOLD}th close of one user's sockets within {@value #WINDOW_MILLIS} ms
 * logs a WARNING naming the user and the frame size; further ones at most once a minute per user.
 *
 * <p>Thread-safe (synchronized): sockets close on every event loop; a 1009 close is rare.
 */
public final class OversizeWarnings {

    static final Logger LOG = LoggerFactory.getLogger(OversizeWarnings.class);
    static final int THRESHOLD = 3;
    static final long WINDOW_MILLIS = 10 * 60_000;
    static final long REPEAT_MILLIS = 60_000;
    /** Users tracked at most; the oldest entries are dropped beyond it (memory stays bounded). */
    private static final int MAX_USERS = 10_000;

    private final Map<String, ArrayDeque<Long>> closes = new HashMap<>();
    private final Map<String, Long> warnedAt = new HashMap<>();

    /**
     * Records one 1009 close of {@code user}'s socket at {@code nowMillis}; {@code frameBytes} is the
     * size seen (-1 if the transport did not say). Returns true if it logged a warning.
     */
    public synchronized boolean closed(String user, long frameBytes, long maxFrameBytes, long nowMillis) {
        if (closes.size() >= MAX_USERS && !closes.containsKey(user)) {
            prune(nowMillis);
        }
        ArrayDeque<Long> times = closes.computeIfAbsent(user, u -> new ArrayDeque<>());
        times.addLast(nowMillis);
        while (!times.isEmpty() && times.peekFirst() <= nowMillis - WINDOW_MILLIS) {
            times.pollFirst();
        }
        if (times.size() < THRESHOLD) {
            return false;
        }
        Long last = warnedAt.get(user);
        if (last != null && nowMillis - last < REPEAT_MILLIS) {
            return false;
        }
        warnedAt.put(user, nowMillis);
        LOG.warn("user {} had {} sockets closed with 1009 (frame too large) in the last {} minutes; the last frame was {} "
                        + "(the limit is {} bytes): a client is likely re-sending a change that can never fit",
                user, times.size(), WINDOW_MILLIS / 60_000, frameBytes < 0 ? "over the limit" : frameBytes + " bytes", maxFrameBytes);
        return true;
    }

    private void prune(long nowMillis) {
        for (Iterator<Map.Entry<String, ArrayDeque<Long>>> it = closes.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<String, ArrayDeque<Long>> e = it.next();
            Long newest = e.getValue().peekLast();
            if (newest == null || newest <= nowMillis - WINDOW_MILLIS) {
                it.remove();
                warnedAt.remove(e.getKey());
            }
        }
        if (closes.size() >= MAX_USERS) {
            closes.clear();
            warnedAt.clear();
        }
    }
}
