package dev.cairn.engine.persist;

import dev.cairn.engine.crdt.Change;
import dev.cairn.engine.section.PersistTo;
import dev.cairn.engine.section.StoragePolicy;
import dev.cairn.engine.store.StoreWrite;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Pages of server changes waiting for their durable commit (issue 13, step 5): each page's
 * winners, their policies and the cursor that covers them, written by {@link Commits} in one
 * store commit instead of one queued record per change. Thread-safe: pages are added by the
 * thread that merged them and drained by the persistence thread.
 */
final class RemotePages {

    /** A page: changes that won in memory, their policies in the same order, its cursor (or -1) and that cursor's order. */
    record Page(List<Change> changes, List<StoragePolicy> policies, long cursor, long cursorVersion) {
    }

    /** Drained pages as store writes: records per tier, the highest cursor (or -1) and its order. */
    record Drained(List<Page> pages, List<StoreWrite> durable, List<StoreWrite> session, long cursor, long cursorVersion) {

        /** The cursor's record, or null if no page had one. */
        StoreWrite cursorWrite() {
            return cursor < 0 ? null : Persister.cursorRecord(cursor);
        }
    }

    private final ConcurrentLinkedQueue<Page> queue = new ConcurrentLinkedQueue<>();
    private final AtomicInteger records = new AtomicInteger();

    void add(Page page) {
        queue.add(page);
        records.addAndGet(page.changes.size());
    }

    boolean isEmpty() {
        return queue.isEmpty();
    }

    /** Records of queued and draining pages (for the count of unsaved records). */
    int records() {
        return records.get();
    }

    /** Takes every queued page; call {@link #done} once they are written (or queued again otherwise). */
    Drained drain() {
        List<Page> pages = new ArrayList<>();
        List<StoreWrite> durable = new ArrayList<>();
        List<StoreWrite> session = new ArrayList<>();
        long cursor = -1;
        long version = 0;
        for (Page page; (page = queue.poll()) != null; ) {
            pages.add(page);
            for (int i = 0; i < page.changes.size(); i++) {
                PersistTo to = page.policies.get(i).persistTo();
                if (to.durable() || to.session()) {
                    StoreWrite record = Records.write(page.changes.get(i));
                    if (to.durable()) {
                        durable.add(record);
                    }
                    if (to.session()) {
                        session.add(record);
                    }
                }
            }
            if (page.cursor >= 0) {
                cursor = Math.max(cursor, page.cursor);
                version = Math.max(version, page.cursorVersion);
            }
        }
        return new Drained(pages, durable, session, cursor, version);
    }

    void done(Drained drained) {
        drained.pages.forEach(page -> records.addAndGet(-page.changes.size()));
    }
}
