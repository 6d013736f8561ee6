// The spaces of one sync session (PROTOCOL.md 8): the SyncClient's socket carries the user's own
// changes and those of every space the user is a member of. Per space: a push pipeline (batch ids
// unique on the socket: one counter for the user and every space), a pull applier (its own cursor),
// the space's state in the session (catching-up, live, left), the refusals that are never retried
// (forbidden, not-a-member: kept visible as refused), space-left, and presence (sent again every 2 s
// while set; the peers the server tells).

import { ErrorCode } from '../protocol.js';
import { PushPipeline } from '../push-pipeline.js';
import { PullApplier } from '../pull-applier.js';
import { SyncWaiters, syncError } from '../waiters.js';
import { RecentRefusals } from './recent-refusals.js';

/** @typedef {import('../codec.js').Change} Change */
/** @typedef {import('./recent-refusals.js').SpaceMark} SpaceMark */
/** @typedef {{code: string, message: string, batch?: number, space?: string}} SyncError */
/** @typedef {'offline'|'catching-up'|'live'|'left'} SpaceState */
/** @typedef {{user: string, replica: string, state: unknown}} Peer */

/** Presence is sent again this often while set (PROTOCOL.md 8.6: the server forgets it after 5 s). */
export const PRESENCE_REFRESH_MILLIS = 2000;
/** At most 10 presence frames a second per socket (PROTOCOL.md 8.6): the socket sends at most one per this many ms. */
const PRESENCE_MIN_GAP_MILLIS = 150;
/** Refusals a space's batch never gets past: not retried, the changes stay visible as refused. */
const FOR_GOOD = new Set([ErrorCode.FORBIDDEN, ErrorCode.NOT_A_MEMBER]);

/**
 * What the sync client needs of one space's local replica (space/space.js).
 * @typedef {object} SpacePort
 * @property {number} savedCursor the space's cursor on this device
 * @property {unknown} myPresence this replica's presence in the space, set before the session (undefined: none)
 * @property {string|null} leftReason why the space was left (space-left), null while a member
 * @property {() => void} rejoined the user is a member again after space-left: it syncs from 0
 * @property {() => Array<{id: string, change: Change}>} pending unacknowledged local changes, oldest first
 * @property {(id: string) => boolean} isPending
 * @property {(ids: string[]) => void} acked
 * @property {(entries: Array<{seq: number, change: Change}>, cursor: number) => (void|Promise<unknown>)} apply a page; a promise: saved when it settles
 * @property {(cursor: number) => void} covered the space's caught-up
 * @property {() => void} reset the space's head is below the cursor: it is sent again from 0
 * @property {(ids: string[], error: SyncError) => void} refused changes the server refused for good (forbidden, not-a-member)
 * @property {(reason: string) => void} left space-left: the cursor is dropped, the copy kept or dropped
 * @property {(state: SpaceState) => void} stateChanged
 * @property {(peers: Peer[]) => void} peersChanged
 * @property {(error: SyncError) => void} problem
 */

/**
 * The spaces of the user's device, as the façade keeps them (space/directory.js).
 * @typedef {object} SpaceDirectory
 * @property {() => Record<string, number>} cursors the spaces to name in hello, each with its cursor
 * @property {(id: string) => boolean} isMember the user's `spaces` section has the space
 * @property {(id: string) => SpacePort|null} port the space's replica, if open
 * @property {(id: string) => Promise<SpacePort>} open opens the space's replica
 */

/** One space in the sync client. */
class SpaceChannel {
  /** @param {SpaceSync} owner @param {string} id @param {SpacePort} port */
  constructor(owner, id, port) {
    this.owner = owner;
    this.id = id;
    this.port = port;
    /** @type {SpaceState} */
    this.state = port.leftReason ? 'left' : 'offline';
    /** The current session syncs this space (welcome named it, or it was joined during the session). */
    this.inSession = false;
    /** @type {Map<string, Peer>} user\0replica -> peer */
    this.peers = new Map();
    /** @type {unknown} this replica's presence; undefined: none set */
    this.presence = port.myPresence;
    /** @type {ReturnType<typeof setTimeout>|null} */
    this.presenceTimer = null;
    this.waiters = new SyncWaiters();
    const client = owner.client;
    this.pipeline = new PushPipeline({ ...client.options, cipher: null, space: id, nextBatch: owner.nextBatch, unanswered: owner.unansweredOf(id) }, {
      pending: () => this.port.pending(),
      send: (text, frame) => client.connection.send(text, frame),
      acked: (ids) => this.port.acked(ids),
      dropped: (ids, error) => {
        this.port.acked(ids);
        this.problem(error);
        this.waiters.fail(error, ids);
      },
      stuck: (ids, error) => this.waiters.fail(error, ids),
      problem: (error) => this.problem(error),
      refused: (ids, error) => {
        this.port.refused(ids, this.tagged(error));
        /** @type {any} */ (client).report(this.tagged(error), false); // the status reports it; the port told the app
        this.waiters.fail(error, ids);
        owner.remember(id, error);
      },
    });
    this.pipeline.onRelease = () => this.pump();
    this.puller = new PullApplier(port.savedCursor, null, {
      apply: (_changes, cursor, entries) => this.port.apply(entries, cursor),
      covered: (cursor) => this.port.covered(cursor),
      reset: () => this.port.reset(),
      lock: () => {},
      problem: (error) => this.problem(error),
      fail: (error) => client.connection.fail(error),
    });
  }

  /** @param {SyncError} error */
  tagged(error) {
    return { ...error, space: this.id };
  }

  /** @param {SyncError} error */
  problem(error) {
    this.port.problem(this.tagged(error));
  }

  /** @param {SpaceState} state */
  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.port.stateChanged(state);
  }

  canPush() {
    return this.inSession && this.owner.client.connection.handshaken && this.pipeline.open;
  }

  pump() {
    this.pipeline.pump(() => this.canPush());
  }

  /** The session syncs this space from now on (its catch-up comes after the user's). @param {any} welcome @param {number} [head] */
  begin(welcome, head) {
    this.inSession = true;
    this.port.rejoined(); // a member (again): a space left before syncs from here
    this.pipeline.begin(welcome);
    if (head !== undefined) this.puller.welcome({ head });
    this.setState('catching-up');
    this.sendPresence(); // the session knows the space now (PROTOCOL.md 8.6): a presence set earlier goes
    this.pump();
  }

  /** The session ended. */
  end() {
    this.inSession = false;
    this.pipeline.end();
    this.setPeers(() => this.peers.clear()); // the server tells them again after the next caught-up
    if (this.state !== 'left') this.setState('offline');
  }

  /** @param {() => void} mutate */
  setPeers(mutate) {
    const before = this.peers.size;
    mutate();
    if (before !== 0 || this.peers.size !== 0) this.port.peersChanged(this.peerList());
  }

  /** @returns {Peer[]} sorted by user, then replica */
  peerList() {
    return [...this.peers.values()].sort((a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : a.replica < b.replica ? -1 : a.replica > b.replica ? 1 : 0));
  }

  /** @param {{user?: string, replica?: string, state: unknown}} frame */
  presenceFrame(frame) {
    if (frame.user === undefined || frame.replica === undefined) return;
    const key = `${frame.user}\u0000${frame.replica}`;
    const user = frame.user;
    const replica = frame.replica;
    this.setPeers(() => {
      if (frame.state === null) this.peers.delete(key);
      else this.peers.set(key, { user, replica, state: frame.state });
    });
  }

  /** Sets (or withdraws, null) this replica's presence. @param {unknown} state */
  setPresence(state) {
    if (state === null && this.presence === undefined) return;
    this.presence = state; // null: a withdrawal still to send
    if (this.inSession) this.owner.withdrawals.delete(this.id); // a closed copy's withdrawal: this one, sent in the session, replaces it
    this.sendPresence();
  }

  /**
   * Sends the presence now (or as soon as the socket's rate allows: the latest state then) and
   * keeps refreshing it every 2 s while set; a withdrawal (null) is sent once. Only once the session
   * knows the space (its welcome named it, or it was joined during the session: PROTOCOL.md 8.6).
   */
  sendPresence() {
    if (this.presenceTimer) clearTimeout(this.presenceTimer);
    this.presenceTimer = null;
    if (this.presence === undefined) return;
    if (!this.inSession) {
      if (this.presence === null) this.presence = undefined; // the server forgets it with the session
      return;
    }
    const wait = this.owner.presenceWait();
    if (wait > 0) {
      this.presenceTimer = setTimeout(() => this.sendPresence(), wait);
      return;
    }
    this.owner.sendPresenceFrame(this.id, this.presence);
    if (this.presence === null) this.presence = undefined;
    else this.presenceTimer = setTimeout(() => this.sendPresence(), PRESENCE_REFRESH_MILLIS);
  }

  /** @param {string} reason */
  left(reason) {
    this.inSession = false;
    this.owner.withdrawals.delete(this.id); // the server withdrew it with the membership
    this.pipeline.end();
    if (this.presenceTimer) clearTimeout(this.presenceTimer);
    this.presenceTimer = null;
    this.setPeers(() => this.peers.clear());
    this.puller.cursor = 0; // a user added again catches up from 0 (PROTOCOL.md 8.4)
    this.setState('left');
    this.port.left(reason);
    const error = { code: ErrorCode.NOT_A_MEMBER, message: `the space ${this.id} was left (${reason})` };
    this.waiters.fail(error);
    this.owner.remember(this.id, error);
  }

  settle() {
    if (this.waiters.size) this.waiters.settle(this.state === 'live', (id) => this.port.isPending(id));
  }

  stop() {
    this.pipeline.stop();
    if (this.presenceTimer) clearTimeout(this.presenceTimer);
    this.presenceTimer = null;
  }
}

/** The spaces half of a SyncClient. */
export class SpaceSync {
  /** @param {import('../sync.js').SyncClient} client @param {SpaceDirectory} directory */
  constructor(client, directory) {
    this.client = client;
    this.directory = directory;
    /** @type {Map<string, SpaceChannel>} */
    this.channels = new Map();
    /** The spaces named in this session's hello. @type {Set<string>} */
    this.said = new Set();
    /** @type {any} the session's welcome (v2 with spaces), null otherwise */
    this.welcomeFrame = null;
    /** One batch counter for the user's pushes and every space's: ids unique on the socket (PROTOCOL.md 8.2). */
    this.nextBatch = client.nextBatchId;
    /** When this socket last sent a presence frame, on the monotonic clock (every space's count toward the socket's rate). */
    this.presenceSentAt = -Infinity;
    /** Spaces closed here with their presence on the socket: withdrawn as the rate allows (sendWithdrawals). @type {Set<string>} */
    this.withdrawals = new Set();
    /** @type {ReturnType<typeof setTimeout>|null} */
    this.withdrawTimer = null;
    /**
     * Each space's unanswered batches (PushPipeline): kept here, not in a channel, because the sync
     * worker closes a space's channel when no tab has it open while its queue stays stored.
     * @type {Map<string, Map<string, number>>}
     */
    this.unanswered = new Map();
    /** This session's welcome carried no spaces (protocol 1): no space syncs on it. */
    this.spaceless = false;
    this.refusals = new RecentRefusals();
  }

  /** Where a syncNow() starts: the spaces it covers and the refusals and leaves since. @returns {SpaceMark} */
  mark() {
    return this.refusals.mark(Object.keys(this.directory.cursors()));
  }

  /** The first refusal for good or leave of a space of `mark` since it was taken, or null. @param {SpaceMark} mark */
  missed(mark) {
    return this.refusals.missed(mark);
  }

  /** @param {string} space @param {SyncError} error */
  remember(space, error) {
    this.refusals.remember(space, error);
  }

  /**
   * A space's syncNow() whose save started at `since` (space.js): a refusal for good or leave of
   * the space since then fails it. @param {string} id @param {SpaceMark|null} since
   */
  syncNowSince(id, since) {
    const missed = since ? this.missed(since) : null;
    return missed ? Promise.reject(syncError(missed)) : this.syncNow(id);
  }

  /** @param {string} id */
  unansweredOf(id) {
    let marks = this.unanswered.get(id);
    if (!marks) this.unanswered.set(id, marks = new Map());
    return marks;
  }

  /** The hello's `spaces`: every space this device holds data of, with its cursor. */
  helloSpaces() {
    const cursors = this.directory.cursors();
    // the cursor of what this session applied (the saved one may lag a page behind)
    for (const id of Object.keys(cursors)) {
      const c = this.channels.get(id);
      if (c) cursors[id] = c.puller.cursor;
    }
    this.said = new Set(Object.keys(cursors));
    return cursors;
  }

  /**
   * The space's cursor went back to 0 (its refused changes rolled back, space.js dropRefused): the
   * session starts over at once, so the space is taken again from the server. @param {string} id
   */
  retake(id) {
    const c = this.channels.get(id);
    if (c) c.puller.cursor = 0;
    this.client.connection.restart();
  }

  /** The channel of an open space (null if its replica is not open). @param {string} id */
  channel(id) {
    let c = this.channels.get(id);
    if (c) return c;
    const port = this.directory.port(id);
    if (!port) return null;
    c = new SpaceChannel(this, id, port);
    this.channels.set(id, c);
    return c;
  }

  /** @param {string} id @returns {Promise<SpaceChannel>} */
  async opened(id) {
    const c = this.channel(id);
    if (c) return c;
    await this.directory.open(id);
    return /** @type {SpaceChannel} */ (this.channel(id));
  }

  /** @param {any} welcome */
  async welcome(welcome) {
    if (welcome.protocol < 2 || !welcome.spaces) {
      this.welcomeFrame = null;
      this.spaceless = true;
      return;
    }
    this.spaceless = false;
    this.welcomeFrame = welcome;
    for (const [id, info] of Object.entries(/** @type {Record<string, {head: number}>} */ (welcome.spaces))) {
      (await this.opened(id)).begin(welcome, info.head);
    }
  }

  /**
   * The user's own page was applied: a space added to the `spaces` section during the session is
   * caught up from 0 by the server (PROTOCOL.md 8.1), and syncs from now on.
   * @param {Array<{seq: number, change: Change}>} entries
   */
  async userPage(entries) {
    if (!this.welcomeFrame) return;
    for (const { change } of entries) {
      if (change.section !== 'spaces' || change.op !== 'set') continue;
      const c = await this.opened(change.key);
      if (c.inSession) continue;
      c.puller.cursor = 0;
      c.begin(this.welcomeFrame);
    }
  }

  /** @param {any} frame @param {() => boolean} current */
  async page(frame, current) {
    const id = frame.space;
    // Known: named in hello, in this session's welcome (or joined during it), or in the `spaces` section.
    if (!this.said.has(id) && !this.channels.get(id)?.inSession && !this.directory.isMember(id)) {
      this.client.connection.fail({ code: ErrorCode.MALFORMED_FRAME, message: `a page of space ${id}, which this client did not name in hello, was not told of in welcome and is not a member of` });
      return;
    }
    const c = await this.opened(id);
    if (!c.inSession && c.state === 'left' && this.welcomeFrame && this.directory.isMember(id)) {
      // Added again while the session is up: after space-left the server catches the space up from 0 on
      // this session (PROTOCOL.md 8.1, 8.4; found by the JVM simulator, SpacesSimTest), so it is joined again.
      c.puller.cursor = 0;
      c.begin(this.welcomeFrame);
    }
    try {
      await c.puller.page(frame, current);
    } catch (e) {
      this.client.connection.fail({ code: 'apply-failed', message: `a page of space ${id} could not be applied: ${/** @type {Error} */ (e).message}` });
    }
  }

  /** @param {{space: string, cursor: number}} frame */
  caughtUp(frame) {
    const c = this.channel(frame.space);
    if (!c) return;
    c.puller.caughtUp(frame);
    c.setState('live');
    c.pump();
    c.settle();
  }

  /** @param {number} batch */
  ack(batch) {
    for (const c of this.channels.values()) {
      if (!c.pipeline.window.has(batch)) continue;
      c.pipeline.ack(batch, () => c.canPush());
      c.settle();
      return true;
    }
    return false;
  }

  /** @param {SyncError & {batch: number}} error */
  refused(error) {
    for (const c of this.channels.values()) {
      if (!c.pipeline.window.has(error.batch)) continue;
      c.pipeline.refused(error, () => c.canPush());
      return true;
    }
    return false;
  }

  /** @param {{space: string, reason: string}} frame */
  async left(frame) {
    const c = await this.opened(frame.space);
    c.left(frame.reason);
  }

  /** @param {any} frame */
  presence(frame) {
    this.channel(frame.space)?.presenceFrame(frame);
  }

  /** An error frame that names a space and no batch (a refused presence). @param {SyncError} error */
  error(error) {
    const c = error.space ? this.channel(error.space) : null;
    if (c) c.problem(error);
    return !!c;
  }

  pump() {
    for (const c of this.channels.values()) c.pump();
  }

  /** Milliseconds until the socket's presence rate lets another frame go (0: now). */
  presenceWait() {
    return Math.max(0, PRESENCE_MIN_GAP_MILLIS - (performance.now() - this.presenceSentAt)); // monotonic: a wall clock set back must not hold a presence back
  }

  /** @param {string} id @param {unknown} state null withdraws */
  sendPresenceFrame(id, state) {
    this.presenceSentAt = performance.now();
    this.client.connection.send('{"type":"presence","space":' + JSON.stringify(id) + ',"state":' + JSON.stringify(state) + '}');
  }

  /** Sends the withdrawals of closed spaces, one per gap of the socket's rate. */
  sendWithdrawals() {
    if (this.withdrawTimer) clearTimeout(this.withdrawTimer);
    this.withdrawTimer = null;
    for (const id of this.withdrawals) {
      const wait = this.presenceWait();
      if (wait > 0) {
        this.withdrawTimer = setTimeout(() => this.sendWithdrawals(), wait);
        return;
      }
      this.withdrawals.delete(id);
      this.sendPresenceFrame(id, null);
    }
  }

  /** The session ended. */
  down() {
    this.presenceSentAt = -Infinity; // the rate is per socket: the next session may send at once
    this.withdrawals.clear(); // the server forgets presence with the session
    if (this.withdrawTimer) clearTimeout(this.withdrawTimer);
    this.withdrawTimer = null;
    this.welcomeFrame = null;
    this.spaceless = false;
    for (const c of this.channels.values()) c.end();
  }

  stop() {
    for (const c of this.channels.values()) {
      c.stop();
      c.end();
    }
    if (this.withdrawTimer) clearTimeout(this.withdrawTimer);
    this.withdrawTimer = null;
  }

  /** Sets this replica's presence in a space (null withdraws it). @param {string} id @param {unknown} state */
  setPresence(id, state) {
    this.channel(id)?.setPresence(state);
  }

  /** The cursor of what this session applied of a space (undefined: not in this session). @param {string} id */
  cursorOf(id) {
    return this.channels.get(id)?.puller.cursor;
  }

  /** Sends a space's pending changes that fit its window. @param {string} id */
  push(id) {
    this.channel(id)?.pump();
  }

  /** Catches a space up again from `cursor` on a new session (the user resumes from its own cursor). @param {string} id @param {number} cursor */
  resync(id, cursor) {
    const c = this.channels.get(id);
    if (c) c.puller.cursor = cursor;
    this.client.connection.restart();
  }

  /**
   * Resolves once the space is live with nothing written before the call pending.
   * @param {string} id @param {object} [call] the client's syncNow() this is part of (see release)
   */
  syncNow(id, call) {
    const c = this.channel(id);
    if (!c) return Promise.reject(Object.assign(new Error(`the space ${id} is not open`), { code: 'not-open' }));
    if (c.state === 'left') return Promise.reject(Object.assign(new Error(`not-a-member: the space ${id} was left`), { code: ErrorCode.NOT_A_MEMBER }));
    const promise = c.waiters.add(c.port.pending().map((e) => e.id), call);
    c.pipeline.release();
    c.pump();
    c.settle();
    return promise;
  }

  /** The client's syncNow() `call` ended on a session without spaces: its waits for the spaces resolve. @param {object} call */
  release(call) {
    for (const c of this.channels.values()) c.waiters.release(call);
  }

  /**
   * The space's replica closed on this device (the sync worker let go of it): its channel goes, so
   * no page, ack or hello cursor reaches the closed port; calls waiting for it fail. @param {string} id
   */
  close(id) {
    const c = this.channels.get(id);
    if (!c) return;
    this.channels.delete(id);
    if (c.inSession && c.presence !== undefined) {
      // its presence (or a withdrawal waiting for the rate) is on the socket: the withdrawal outlives the channel
      this.withdrawals.add(id);
      this.sendWithdrawals();
    }
    c.stop();
    c.end();
    c.waiters.fail({ code: 'not-open', message: `the space ${id} was closed on this device before it synced` });
  }
}
