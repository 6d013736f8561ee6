package dev.cairn.engine.sync;

import java.util.HashSet;
import java.util.Set;

/** What one session knows of the user's spaces (PROTOCOL.md 8): which it may take pages of, which ended. Sync thread only. */
final class SpaceSession {

    /** Spaces said in hello, listed by welcome, or joined while the session is up. */
    final Set<String> known = new HashSet<>();
    /** Spaces whose space-left came: nothing more of them is taken or pushed on this session. */
    final Set<String> left = new HashSet<>();
    /** Spaces whose caught-up came: live. */
    final Set<String> live = new HashSet<>();
    /** Spaces the session knows the user is a member of (welcome, or joined while up): presence is sent. */
    final Set<String> present = new HashSet<>();

    /** When this session last sent each space's presence (System.nanoTime), for the 2 s refresh. */
    final java.util.Map<String, Long> presenceSentAt = new java.util.HashMap<>();
    /** When this session last sent a presence frame of any space (System.nanoTime; the rate is per socket), if it sent one. */
    long presenceFrameAt;
    boolean presenceFrameSent;
    /** Spaces whose presence waits for the socket's rate, in the order asked; true: the app changed it (so a withdrawal goes too). */
    final java.util.Map<String, Boolean> presenceWaiting = new java.util.LinkedHashMap<>();
    /** Sends what waits once the rate allows (null: none set). */
    java.util.concurrent.ScheduledFuture<?> presenceTimer;

    SpaceSession(Set<String> hello) {
        known.addAll(hello);
    }

    /** Whether a space's outbox is pushed on this session. */
    boolean pushes(String space) {
        return !left.contains(space);
    }
}
