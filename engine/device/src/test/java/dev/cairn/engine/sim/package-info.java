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
 * <p><b>Spaces (issue 18): {@link dev.cairn.engine.sim.SpacesSimTest}.</b> A run of its own
 * ({@link dev.cairn.engine.sim.SpaceSim}): several users, each with several
 * {@link dev.cairn.engine.sim.SpaceDevice}s (real engines and their space replicas, opened through
 * {@code SyncPort.space(id, true)}), one {@link dev.cairn.engine.sim.SpaceServer} with a
 * {@link dev.cairn.engine.sim.StoreModel} per store key (each user's, and {@code space:<id>}, each
 * with its own seqs in commit order; {@link dev.cairn.engine.sim.ServerModel} keeps one for its
 * user). Membership as the server keeps it ({@link dev.cairn.engine.sim.MembershipModel}): the
 * space's {@code members} entry and the user's {@code spaces} entry written by seeded owner steps
 * (add as editor or viewer, role change, remove, leave) as one commit of both keys. Sessions belong
 * to a user: hello's {@code spaces} cursors, welcome's {@code spaces} (role, head), each space caught
 * up after the user's {@code caught-up}, pages with {@code space} to every session of every member, a
 * space joined while up caught up from 0 once the page with its {@code spaces} entry went out, a
 * held space the user is not in answered with {@code space-left} {@code not-a-member}, pushes with
 * {@code space} checked against the membership as of their commit ({@code not-a-member},
 * {@code forbidden} for a viewer: the whole batch refused, unless it alters nothing: then it is
 * committed and acknowledged), and a removal a cut followed by
 * {@code space-left}. SpaceDevice mirrors SyncClient, SpaceSync and PushPipeline's space path
 * (welcome's spaces joined with {@code spaceRejoined}, {@code afterUserPage}, a page of a space
 * left on the session ends the session, {@code space-left} drops the lane and keeps the copy with
 * {@code spaceLeft}, refusals through {@code spaceRefused} then acknowledged, a refusal of a batch
 * no lane holds only reported). Devices write their spaces' map sections as editors, as viewers,
 * after their removal (a kept copy refuses the write locally), and to spaces they never joined,
 * under connection resets. Checks after the heal: every user's devices hold the user's store (with
 * its {@code spaces} section), which equals the fold of what it accepted; per space, the store
 * equals the fold of its accepted changes, every device of a member holds that fold plus its own
 * refused writes, a copy kept after a live {@code space-left} holds the fold up to the cut plus its
 * own writes (except a key written again at or after the cut, which may keep an older entry: the
 * store keeps only each key's winner), no change a device lists as refused was accepted (a re-send
 * after a lost ack alters nothing and is acknowledged: an unanswered batch goes again as it was,
 * never beside a new write, and the server model fails the run on one that does), every own write is accepted, listed as refused, queued
 * in a left copy or superseded, and no page of a space at or after its user's cut reaches them; while
 * running, no key of a space copy reads an older stamp than the device read or wrote.
 *
 * <p><b>Not simulated in the spaces run</b> (covered by the transcripts of both clients, the
 * server's ITs and {@code SpaceConvergenceIT}): device crashes and restarts, partitions, clock
 * skew, late pushes and stale frames (only resets), server restarts, log sections, binary v2 pages
 * (the frames' JSON form, through the real {@code FrameCodec}), presence, invitations, deleting a
 * space, and dropping a left copy ({@code LeftSpaceCopy.DROP}).
 */
package dev.cairn.engine.sim;
