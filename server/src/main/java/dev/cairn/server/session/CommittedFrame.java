package dev.cairn.server.session;

import dev.cairn.engine.protocol.Frame;
import dev.cairn.engine.protocol.FrameCodec;
import dev.cairn.engine.protocol.PageCodec;
import dev.cairn.engine.section.SpaceSections;
import dev.cairn.server.space.SpaceKeys;
import dev.cairn.server.store.ServerStore.CommitResult;
import dev.cairn.server.store.ServerStore.Sequenced;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * One commit of a user or a space as its {@code changes} frame (a space's as page kind 4, without
 * the server-only {@code invitations} section),  encoded at most once per protocol version however many sessions send it:
 * the first session on the fast path encodes it, the others (on any event loop) write the same
 * bytes. The bytes are an unreleasable heap buffer, so each socket writes its own
 * {@link ByteBuf#duplicate() duplicate} of them and Netty never frees or copies the shared array.
 */
public final class CommittedFrame {

    private final CommitResult result;
    /** The space's id when the commit is a space's, else null. */
    private final String space;
    /** What sessions may see of it: a space's changes without its invitations. */
    private final List<Sequenced> visible;
    private volatile Encoded encoded;
    private volatile Encoded page;

    /** The frame's text (for the session's accounting) and its UTF-8 bytes (what the sockets write). */
    record Encoded(int chars, ByteBuf bytes) {
        /** A view of the bytes of its own for one socket's write. */
        ByteBuf forOneWrite() {
            return bytes.duplicate();
        }
    }

    CommittedFrame(CommitResult result) {
        this.result = result;
        this.space = SpaceKeys.isSpaceKey(result.user()) ? SpaceKeys.spaceId(result.user()) : null;
        this.visible = space == null ? result.applied() : visible(result.applied());
    }

    /** The commit's changes a session may see (a space's without the server-only invitations), in seq order. */
    List<Sequenced> visible() {
        return visible;
    }

    /**
     * A space's changes without those of {@code invitations}, which the server keeps and never
     * sends (PROTOCOL.md 8); the page's cursor still covers them.
     */
    static List<Sequenced> visible(List<Sequenced> changes) {
        for (int i = 0; i < changes.size(); i++) {
            if (!SpaceSections.clientVisible(changes.get(i).change().section())) {
                List<Sequenced> out = new ArrayList<>(changes.size());
                for (Sequenced s : changes) {
                    if (SpaceSections.clientVisible(s.change().section())) {
                        out.add(s);
                    }
                }
                return out;
            }
        }
        return changes;
    }

    CommitResult result() {
        return result;
    }

    /** The frame, encoded on the first call (racing callers may both encode; one result wins, both are equal). */
    Encoded encoded() {
        Encoded e = encoded;
        if (e == null) {
            String text = FrameCodec.encode(frame(visible, result.head(), space));
            e = new Encoded(text.length(), Unpooled.unreleasableBuffer(Unpooled.wrappedBuffer(text.getBytes(StandardCharsets.UTF_8))));
            encoded = e;
        }
        return e;
    }

    /** The frame as a protocol 2 page (PROTOCOL.md 7), encoded on the first call; its "chars" are its bytes. */
    Encoded page() {
        Encoded e = page;
        if (e == null) {
            byte[] bytes = PageCodec.encode(frame(visible, result.head(), space));
            e = new Encoded(bytes.length, Unpooled.unreleasableBuffer(Unpooled.wrappedBuffer(bytes)));
            page = e;
        }
        return e;
    }

    /** The {@code changes} frame of these sequenced changes, with this cursor, of a space (null: the user's own). */
    static Frame.Changes frame(List<Sequenced> changes, long cursor, String space) {
        List<Frame.SeqChange> out = new ArrayList<>(changes.size());
        for (Sequenced s : changes) {
            out.add(new Frame.SeqChange(s.seq(), s.change()));
        }
        return new Frame.Changes(out, cursor, space);
    }
}
