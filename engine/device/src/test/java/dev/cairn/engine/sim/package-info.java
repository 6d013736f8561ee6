/**
 * The deterministic simulator of issue 5: devices are real {@code Cairn} engines (each on its own
 * journal, in /dev/shm when available), the server is an in-memory model of one user's sync server
 * ({@link dev.cairn.engine.sim.ServerModel}, following PROTOCOL.md and the server store's merge and
 * seq rules), and every frame between them is encoded and decoded by the real {@code FrameCodec}.
 * One thread, simulated time, one seeded {@link java.util.Random}: a seed replays its schedule.
 *
 * <p><b>Network model.</b> A {@link dev.cairn.engine.sim.Connection} is TCP-like: on a live
 * connection frames are never lost, duplicated or reordered. So a dropped frame always kills its
 * connection, and duplicates and reorders happen across connections, as they do in real life: an
 * ack lost after the commit (the batch is re-sent and merged again), a half-open connection whose
 * last pushes reach the server after the client's next connection (pushes of two connections
 * interleave; their acks go nowhere), and a dead connection whose last server frames (pages, acks)
 * reach the client after it reconnected (it must ignore them, as SyncClient does). The server may
 * also re-send pages it already sent (at-least-once delivery). Partitions keep a device offline
 * for hundreds of steps while it writes; restarts close and reopen an engine; crashes reopen it on
 * a copy of its journal taken at the crash (everything not yet saved is gone); a server restart
 * resets every connection and the server's clock; device wall clocks are off by up to +-24 h and
 * jump (back) mid-run.
 *
 * <p><b>Client.</b> {@link dev.cairn.engine.sim.SimDevice} drives the engine the way
 * {@code SyncClient} does (same batching, in-flight window, ack handling, clock-skew parking and
 * retry, stale-session filtering), but on simulated time; SyncClient itself needs threads and
 * wall-clock timers, so it is not run here. Saves happen when the simulation says (every key has a
 * save delay no run reaches), which keeps runs deterministic; the engine's own 1 s cursor save can
 * still fire on a slow machine, which can shift outbox numbering but not any check.
 *
 * <p><b>Checks, every seed.</b> After a final heal (partitions end, time jumps 25 h so every stamp
 * is within the server's bound, everything drains): every device's canonical state equals the
 * server store's, which equals the fold of every change the server ever accepted (converged); every
 * acknowledged change and every saved write is present or superseded (0 lost); no change identity
 * gets two seqs and no log entry shows twice (0 duplicates); after every event a device's reads of
 * every key never return an older stamp than it read or wrote before, watermarks never go back, and
 * its own appends stay visible or hidden by a later clear (own writes never disappear, monotonic
 * reads; after a crash only back to what was saved); no accepted stamp is more than maxAheadMillis
 * ahead of the server's clock.
 *
 * <p><b>Not simulated yet: spaces (issue 18).</b> The simulator has one user and no spaces; spaces
 * are covered by the transcripts (both clients), the server's ITs and {@code SpaceConvergenceIT}
 * (three users x two real devices, one offline round). To cover them here it needs, precisely:
 * (1) {@link dev.cairn.engine.sim.ServerModel}'s store state (head, seqs, maps, logs, watermarks,
 * accepted, seq per identity) per store key, the user's and {@code space:<id>}'s, each with its
 * own seqs in commit order; (2) membership in the model as the server keeps it: the space's
 * {@code members} entry and each user's {@code spaces} entry (SpaceSections), written by seeded
 * owner steps (add, role change, remove, leave) as one commit of both keys; (3) sessions that belong
 * to a user: hello's {@code spaces} cursors, welcome's {@code spaces} (role, head), each space
 * caught up after the user's own {@code caught-up}, live pages with {@code space} to every session of
 * every member, and a push with {@code space} checked against the membership as of its commit
 * ({@code not-a-member}, {@code forbidden} for a viewer: the whole batch refused), the removal a cut
 * (nothing of the space at or after its seq reaches that user) followed by {@code space-left};
 * (4) several users, each with several {@link dev.cairn.engine.sim.SimDevice}s, and SimDevice
 * mirroring {@code SpaceSync} and PushPipeline's space path through {@code SyncPort.space(id, true)}
 * (outbox, acknowledge, applyRemote with the space's cursor, spaceRefused, spaceLeft, spaceRejoined);
 * (5) {@link dev.cairn.engine.sim.KeySpace} writes to {@code cairn.space(id)} sections, by editors,
 * viewers and removed members; (6) checks per space: every member device's space canonical state
 * equals the model's space key, which equals the fold of the accepted space changes; no refused
 * change is accepted and each is in its device's {@code refusedChanges()}; no change of a user
 * committed after their removal; no page of the space at or after the cut delivered to them; a
 * kept copy equals the fold up to the cut plus its own refused writes; and the monotonic-read and
 * own-write oracles allow a refused write to be overwritten by the space's data.
 */
package dev.cairn.engine.sim;
