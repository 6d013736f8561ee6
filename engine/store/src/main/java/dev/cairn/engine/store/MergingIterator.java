package dev.cairn.engine.store;

import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.PriorityQueue;

/**
 * Merges sorted sources of a {@link TieredLocalStore} into one sorted stream: for a key held by
 * several sources the one listed first (the newest) wins. Deletes ({@link Snapshot#TOMBSTONE})
 * are dropped when {@code dropTombstones} (reads, and merges into the oldest snapshot, below which
 * nothing is left to hide), else kept.
 */
final class MergingIterator implements Iterator<Map.Entry<byte[], byte[]>> {

    private record Head(Map.Entry<byte[], byte[]> entry, int rank, Iterator<Map.Entry<byte[], byte[]>> rest) {
    }

    private final PriorityQueue<Head> heads = new PriorityQueue<>((a, b) -> {
        int c = Arrays.compareUnsigned(a.entry.getKey(), b.entry.getKey());
        return c != 0 ? c : Integer.compare(a.rank, b.rank);
    });
    private final boolean dropTombstones;
    private Map.Entry<byte[], byte[]> next;
    private int nextRank;
    private int rank = -1;

    MergingIterator(List<Iterator<Map.Entry<byte[], byte[]>>> newestFirst, boolean dropTombstones) {
        this.dropTombstones = dropTombstones;
        for (int i = 0; i < newestFirst.size(); i++) {
            advance(newestFirst.get(i), i);
        }
        next = fetch();
    }

    private void advance(Iterator<Map.Entry<byte[], byte[]>> it, int rank) {
        if (it.hasNext()) {
            heads.add(new Head(it.next(), rank, it));
        }
    }

    private Map.Entry<byte[], byte[]> fetch() {
        while (!heads.isEmpty()) {
            Head top = heads.poll();
            byte[] key = top.entry.getKey();
            advance(top.rest, top.rank);
            // older versions of the same key are shadowed
            while (!heads.isEmpty() && Arrays.equals(heads.peek().entry.getKey(), key)) {
                Head older = heads.poll();
                advance(older.rest, older.rank);
            }
            if (!(dropTombstones && top.entry.getValue() == Snapshot.TOMBSTONE)) {
                nextRank = top.rank;
                return top.entry;
            }
        }
        return null;
    }

    @Override
    public boolean hasNext() {
        return next != null;
    }

    @Override
    public Map.Entry<byte[], byte[]> next() {
        if (next == null) {
            throw new NoSuchElementException();
        }
        Map.Entry<byte[], byte[]> e = next;
        rank = nextRank;
        next = fetch();
        return e;
    }

    /** The index (in the newest-first list) of the source the entry last returned by {@link #next} came from. */
    int rank() {
        return rank;
    }
}
