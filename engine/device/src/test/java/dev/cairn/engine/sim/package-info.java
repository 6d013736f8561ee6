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
 */
package dev.cairn.engine.sim;
