package dev.cairn.server.store;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.crdt.LwwEntry;
import dev.cairn.engine.crdt.TextOrder;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * The part of a commit both adapters share: checking user ids, grouping batches by user, and
 * merging one user's changes in memory before they touch storage.
 *
 * <p>{@link #merge} keeps one change per target, the one the CRDT rules make win: per map key the
 * {@link LwwEntry#merge} winner, per log stream (or whole map section) the highest clear, per log
 * entry (stream and stamp) the greater value; appends at or below the batch's own clear of their
 * stream, and map writes at or below the batch's own clear of their section, are dropped.
 * Merging first is what lets the Postgres adapter write each row with one multi-row upsert (which
 * may not touch a row twice), and it gives both adapters the same seq numbering: the i-th merged
 * change gets {@code previousHead + 1 + i}, and the head moves by the merged count even when some
 * of them turn out to alter nothing (gaps are allowed).
 */
final class UserChanges {

    private UserChanges() {
    }

    /** User ids are non-empty and free of NUL (Postgres text cannot hold it; the embedded store's keys use it as separator). */
    static String checkUser(String user) {
        if (user == null || user.isEmpty() || user.indexOf('\u0000') >= 0) {
            throw new IllegalArgumentException("invalid user id " + (user == null ? "null" : "'" + user.replace('\u0000', '?') + "'")
                    + ": must be non-empty and contain no NUL character");
        }
        return user;
    }

    static void checkRead(String user, long cursor, int limit) {
        checkUser(user);
        if (cursor < 0) {
            throw new IllegalArgumentException("cursor must be >= 0: " + cursor);
        }
        if (limit < 1 || limit == Integer.MAX_VALUE) {
            throw new IllegalArgumentException("limit must be between 1 and " + (Integer.MAX_VALUE - 1) + ": " + limit);
        }
    }

    static void checkHistory(String user, String section, String key, int limit) {
        checkUser(user);
        if (section == null || section.isEmpty() || key == null || key.isEmpty()) {
            throw new IllegalArgumentException("section and key must be non-empty");
        }
        if (limit < 1) {
            throw new IllegalArgumentException("limit must be >= 1: " + limit);
        }
    }

    static void checkMapRead(String user, String section, String prefix, int limit) {
        checkUser(user);
        if (section == null || section.isEmpty() || prefix == null) {
            throw new IllegalArgumentException("section must be non-empty and prefix non-null");
        }
        if (limit < 1 || limit == Integer.MAX_VALUE) {
            throw new IllegalArgumentException("limit must be between 1 and " + (Integer.MAX_VALUE - 1) + ": " + limit);
        }
    }

    /** Bytes a live map entry or a visible log entry counts toward its user's usage ({@link ServerStore#usage}). */
    static long bytes(String keyOrStream, String value) {
        return value == null ? 0 : utf8Length(keyOrStream) + utf8Length(value);
    }

    /** UTF-8 length without encoding (a lone surrogate counts 3, as PostgreSQL never sees one: values are valid JSON text). */
    static long utf8Length(String s) {
        long n = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                n += 1;
            } else if (c < 0x800) {
                n += 2;
            } else if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                n += 4;
                i++;
            } else {
                n += 3;
            }
        }
        return n;
    }

    /** The batches' changes per user, users in sorted order (the lock order that keeps group commits deadlock-free). */
    static TreeMap<String, List<Change>> byUser(List<ServerStore.UserBatch> batches) {
        Objects.requireNonNull(batches, "batches");
        TreeMap<String, List<Change>> out = new TreeMap<>();
        for (ServerStore.UserBatch batch : batches) {
            checkUser(batch.user());
            List<Change> changes = out.computeIfAbsent(batch.user(), u -> new ArrayList<>());
            for (Change change : batch.changes()) {
                changes.add(Objects.requireNonNull(change, "change"));
            }
        }
        return out;
    }

    /**
     * Every guard's owner must be a valid store key, and a guard of writes only the batch's own
     * store key (the stores check it where they write that key): IllegalArgumentException otherwise.
     */
    static void checkGuards(List<ServerStore.UserBatch> batches) {
        for (ServerStore.UserBatch batch : batches) {
            if (batch.guard() != null) {
                checkUser(batch.guard().owner());
                if (batch.guard().writesOnly() && !batch.guard().owner().equals(batch.user())) {
                    throw new IllegalArgumentException("a guard of writes only must be on its batch's store key: guard on '"
                            + batch.guard().owner() + "', batch of '" + batch.user() + "'");
                }
            }
        }
    }

    private record MapTarget(String section, String key) {
    }

    private record StreamTarget(String section, String stream) {
    }

    private record EntryTarget(String section, String stream, Stamp stamp) {
    }

    /** One change per target, in order of first appearance (see the class comment). */
    static List<Change> merge(Collection<Change> changes) {
        LinkedHashMap<Object, Change> winners = new LinkedHashMap<>();
        Map<StreamTarget, Stamp> clears = new java.util.HashMap<>();
        for (Change change : changes) {
            if (change instanceof Change.Put put) {
                winners.merge(new MapTarget(put.section(), put.key()), put,
                        (a, b) -> ((Change.Put) b).entry().beats(((Change.Put) a).entry()) ? b : a);
            } else if (change instanceof Change.Append append) {
                winners.merge(new EntryTarget(append.section(), append.stream(), append.stamp()), append,
                        (a, b) -> TextOrder.compare(((Change.Append) b).value(), ((Change.Append) a).value()) > 0 ? b : a);
            } else {
                Change.Clear clear = (Change.Clear) change;
                StreamTarget target = new StreamTarget(clear.section(), clear.stream());
                winners.merge(target, clear, (a, b) -> b.stamp().compareTo(a.stamp()) > 0 ? b : a);
                clears.merge(target, clear.stamp(), (a, b) -> b.compareTo(a) > 0 ? b : a);
            }
        }
        List<Change> out = new ArrayList<>(winners.size());
        for (Change change : winners.values()) {
            if (change instanceof Change.Append append) {
                Stamp mark = clears.get(new StreamTarget(append.section(), append.stream()));
                if (mark != null && append.stamp().compareTo(mark) <= 0) {
                    continue;
                }
            } else if (change instanceof Change.Put put) {
                Stamp mark = clears.get(new StreamTarget(put.section(), Change.Clear.WHOLE_SECTION));
                if (mark != null && put.stamp().compareTo(mark) <= 0) {
                    continue;
                }
            }
            out.add(change);
        }
        return out;
    }
}
