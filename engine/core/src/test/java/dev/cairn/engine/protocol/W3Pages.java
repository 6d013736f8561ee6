package dev.cairn.engine.protocol;

import dev.cairn.engine.clock.Stamp;
import dev.cairn.engine.crdt.Change;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The changes of W3 (bench/.../W3.java) as the server pages them in a catch-up: 100,000 map sets
 * {@code state["k" + i] = "value-i"}, then 20,000 chat appends to {@code conv-1} (role
 * user/assistant alternating, 80 characters of text, the ISO time), written by one seed device
 * at about 10 writes per millisecond, sequenced 1, 2, 3, ... and cut into pages of 1,000 (the
 * server's default page size).
 */
final class W3Pages {

    static final String TEXT80 = "The quick brown fox jumps over the lazy dog while the cat sleeps in the warm sun.";

    private W3Pages() {
    }

    static List<Frame.Changes> pages(int entries, int messages, int pageSize) {
        List<Frame.SeqChange> all = new ArrayList<>(entries + messages);
        long millis = 1_767_225_600_000L;
        int counter = 0;
        for (int n = 0; n < entries + messages; n++) {
            if (n % 10 == 0) {
                millis++;
                counter = 0;
            } else {
                counter++;
            }
            Stamp stamp = new Stamp(Stamp.pack(millis, counter), "w3-seed");
            Change change;
            if (n < entries) {
                change = new Change.Put("state", "k" + n, "\"value-" + n + "\"", stamp);
            } else {
                int j = n - entries;
                String id = "msg-" + j + " ";
                String text = id + TEXT80.substring(0, 80 - id.length());
                String role = j % 2 == 0 ? "user" : "assistant";
                change = new Change.Append("chat", "conv-1", "{\"role\":\"" + role + "\",\"text\":\"" + text + "\",\"at\":\""
                        + Instant.ofEpochMilli(millis) + "\",\"metadata\":{}}", stamp);
            }
            all.add(new Frame.SeqChange(n + 1, change));
        }
        List<Frame.Changes> pages = new ArrayList<>();
        for (int i = 0; i < all.size(); i += pageSize) {
            List<Frame.SeqChange> page = all.subList(i, Math.min(all.size(), i + pageSize));
            pages.add(new Frame.Changes(page, page.get(page.size() - 1).seq()));
        }
        return pages;
    }
}
